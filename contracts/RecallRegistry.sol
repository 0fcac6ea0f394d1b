// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Gs1} from "./Gs1.sol";
import {ParticipantRegistry} from "./ParticipantRegistry.sol";
import {Roles} from "./Roles.sol";

/// @title RecallRegistry
/// @notice Recall status of medicine batches, a batch being a GTIN plus a lot number (GS1 AI 01 +
///         AI 10). A manufacturer registers the batches it makes (of its own products: GTINs under
///         its company prefixes in the participant registry) with the number of packs declared;
///         the regulator, or the active manufacturer that registered a batch, recalls it and may
///         release it again. The regulator, or an active pharmacovigilance officer, suspends a
///         batch pending an investigation (a stop short of a recall, with a case number) and
///         lifts the suspension; the regulator escalates a suspension to a recall in one step.
/// @dev The regulator may recall or suspend any well-formed batch, registered or not (e.g. an
///      imported batch whose manufacturer is not a participant).
contract RecallRegistry {
    /// @notice State of one batch.
    /// @param manufacturer The participant that registered the batch, or zero.
    /// @param recalled True while the batch is recalled.
    /// @param recalledAt Block number of the current recall; zero when not recalled.
    /// @param packs Packs the manufacturer declared for the batch; zero if not registered.
    /// @param suspended True while the batch is suspended pending an investigation.
    /// @param suspendedAt Block number of the current suspension; zero when not suspended.
    struct Batch {
        address manufacturer;
        bool recalled;
        uint64 recalledAt;
        uint32 packs;
        bool suspended;
        uint64 suspendedAt;
    }

    uint64 private constant _GTIN_LIMIT = 1e14;
    uint256 private constant _LOT_MAX_LENGTH = 20;
    uint256 private constant _CASE_NUMBER_MAX_LENGTH = 32;

    /// @notice The registry that authorises manufacturers and names the regulator.
    ParticipantRegistry public immutable registry;

    mapping(bytes32 key => Batch) private _batches;

    /// @notice `manufacturer` registered the batch (`gtin`, `lot`) of `packs` packs under `key`.
    event BatchRegistered(
        bytes32 indexed key, uint64 indexed gtin, string lot, address indexed manufacturer, uint32 packs
    );
    /// @notice The batch was recalled by `by` for `reasonCode`.
    event Recalled(bytes32 indexed key, uint64 indexed gtin, string lot, uint16 reasonCode, address indexed by);
    /// @notice The batch's recall was lifted by `by` for `reasonCode`.
    event Released(bytes32 indexed key, uint64 indexed gtin, string lot, uint16 reasonCode, address indexed by);
    /// @notice The batch was suspended by `by` pending the investigation `caseNumber`, for `reasonCode`.
    event Suspended(
        bytes32 indexed key, uint64 indexed gtin, string lot, uint16 reasonCode, string caseNumber, address indexed by
    );
    /// @notice The batch's suspension was lifted by `by` for `reasonCode`.
    event SuspensionLifted(bytes32 indexed key, uint64 indexed gtin, string lot, uint16 reasonCode, address indexed by);
    /// @notice The batch's suspension became a recall (a `Recalled` event follows) by `by`.
    event SuspensionEscalated(
        bytes32 indexed key, uint64 indexed gtin, string lot, uint16 reasonCode, address indexed by
    );

    error ZeroAddress();
    error NotAuthorisedToRecall(address account);
    error AlreadyRecalled(bytes32 key);
    error NotRecalled(bytes32 key);
    error BatchAlreadyRegistered(bytes32 key, address manufacturer);
    error InvalidGtin(uint64 gtin);
    error InvalidLot();
    error ParticipantNotActive(address account);
    error RoleNotPermitted(address account, uint32 roles);
    error GtinNotOwned(address account, uint64 gtin);
    error InvalidPacks();
    error NotAuthorisedToSuspend(address account);
    error AlreadySuspended(bytes32 key);
    error NotSuspended(bytes32 key);
    error InvalidCaseNumber();

    /// @param participants The participant registry consulted for every action.
    constructor(ParticipantRegistry participants) {
        if (address(participants) == address(0)) revert ZeroAddress();
        registry = participants;
    }

    // --- Actions ----------------------------------------------------------------------------

    /// @notice Registers the caller as the manufacturer of batch (`gtin`, `lot`) of `packs` packs.
    /// @dev The caller must be an active participant with the MANUFACTURER role whose company
    ///      prefixes (ParticipantRegistry.ownsGtin) cover `gtin`; a batch is registered once.
    /// @param gtin GTIN-14 as a number: 0 < gtin < 10^14, valid GS1 check digit.
    /// @param lot Lot number: 1 to 20 characters of GS1 character set 82.
    /// @param packs Packs in the batch: at least one; no more may be commissioned into it.
    function registerBatch(uint64 gtin, string calldata lot, uint32 packs) external {
        bytes32 key = _validKey(gtin, lot);
        _requireRole(msg.sender, Roles.MANUFACTURER);
        if (!registry.ownsGtin(msg.sender, gtin)) revert GtinNotOwned(msg.sender, gtin);
        if (packs == 0) revert InvalidPacks();
        Batch storage b = _batches[key];
        if (b.manufacturer != address(0)) revert BatchAlreadyRegistered(key, b.manufacturer);
        b.manufacturer = msg.sender;
        b.packs = packs;
        emit BatchRegistered(key, gtin, lot, msg.sender, packs);
    }

    /// @notice Recalls batch (`gtin`, `lot`).
    /// @dev Caller: the regulator, or the active manufacturer that registered the batch.
    /// @param gtin GTIN-14 as a number.
    /// @param lot Lot number.
    /// @param reasonCode Reason for the recall (code list kept off-chain).
    function recall(uint64 gtin, string calldata lot, uint16 reasonCode) external {
        bytes32 key = _validKey(gtin, lot);
        Batch storage b = _batches[key];
        _requireMayRecall(b);
        if (b.recalled) revert AlreadyRecalled(key);
        b.recalled = true;
        b.recalledAt = uint64(block.number);
        emit Recalled(key, gtin, lot, reasonCode, msg.sender);
    }

    /// @notice Lifts the recall of batch (`gtin`, `lot`).
    /// @dev Caller: the regulator, or the active manufacturer that registered the batch.
    /// @param gtin GTIN-14 as a number.
    /// @param lot Lot number.
    /// @param reasonCode Reason for the release (code list kept off-chain).
    function release(uint64 gtin, string calldata lot, uint16 reasonCode) external {
        bytes32 key = _validKey(gtin, lot);
        Batch storage b = _batches[key];
        _requireMayRecall(b);
        if (!b.recalled) revert NotRecalled(key);
        b.recalled = false;
        b.recalledAt = 0;
        emit Released(key, gtin, lot, reasonCode, msg.sender);
    }

    /// @notice Suspends batch (`gtin`, `lot`) pending the investigation `caseNumber`.
    /// @dev Caller: the regulator, or an active participant with the PHARMACOVIGILANCE role. A
    ///      recalled batch is stopped already and cannot be suspended.
    /// @param gtin GTIN-14 as a number.
    /// @param lot Lot number.
    /// @param reasonCode Reason for the suspension (code list kept off-chain).
    /// @param caseNumber The investigation's case number: 1 to 32 characters of GS1 set 82.
    function suspend(uint64 gtin, string calldata lot, uint16 reasonCode, string calldata caseNumber) external {
        bytes32 key = _validKey(gtin, lot);
        bytes calldata raw = bytes(caseNumber);
        if (raw.length == 0 || raw.length > _CASE_NUMBER_MAX_LENGTH || !Gs1.isCset82(raw)) {
            revert InvalidCaseNumber();
        }
        _requireMaySuspend();
        Batch storage b = _batches[key];
        if (b.recalled) revert AlreadyRecalled(key);
        if (b.suspended) revert AlreadySuspended(key);
        b.suspended = true;
        b.suspendedAt = uint64(block.number);
        emit Suspended(key, gtin, lot, reasonCode, caseNumber, msg.sender);
    }

    /// @notice Lifts the suspension of batch (`gtin`, `lot`): the investigation found nothing.
    /// @dev Caller: the regulator, or an active pharmacovigilance officer.
    /// @param reasonCode Reason for lifting it (code list kept off-chain).
    function liftSuspension(uint64 gtin, string calldata lot, uint16 reasonCode) external {
        bytes32 key = _validKey(gtin, lot);
        _requireMaySuspend();
        Batch storage b = _batches[key];
        if (!b.suspended) revert NotSuspended(key);
        b.suspended = false;
        b.suspendedAt = 0;
        emit SuspensionLifted(key, gtin, lot, reasonCode, msg.sender);
    }

    /// @notice Turns the suspension of batch (`gtin`, `lot`) into a recall, in one step.
    /// @dev Caller: the regulator only (a recall is the regulator's decision). Emits
    ///      `SuspensionEscalated` then `Recalled`, so a reader of recalls needs nothing new.
    /// @param reasonCode Reason for the recall (the recall code list).
    function escalateSuspension(uint64 gtin, string calldata lot, uint16 reasonCode) external {
        bytes32 key = _validKey(gtin, lot);
        if (msg.sender != registry.owner()) revert NotAuthorisedToRecall(msg.sender);
        Batch storage b = _batches[key];
        if (!b.suspended) revert NotSuspended(key);
        b.suspended = false;
        b.suspendedAt = 0;
        b.recalled = true;
        b.recalledAt = uint64(block.number);
        emit SuspensionEscalated(key, gtin, lot, reasonCode, msg.sender);
        emit Recalled(key, gtin, lot, reasonCode, msg.sender);
    }

    // --- Views ------------------------------------------------------------------------------

    /// @notice The key of batch (`gtin`, `lot`): keccak256(abi.encode(gtin, lot)).
    function batchKey(uint64 gtin, string calldata lot) public pure returns (bytes32) {
        return keccak256(abi.encode(gtin, lot));
    }

    /// @notice True if batch (`gtin`, `lot`) is currently recalled.
    function isRecalled(uint64 gtin, string calldata lot) external view returns (bool) {
        return _batches[batchKey(gtin, lot)].recalled;
    }

    /// @notice True if batch (`gtin`, `lot`) is currently suspended.
    function isSuspended(uint64 gtin, string calldata lot) external view returns (bool) {
        return _batches[batchKey(gtin, lot)].suspended;
    }

    /// @notice The state of the batch under `key`; all zero if nothing is known about it.
    function batch(bytes32 key) external view returns (Batch memory) {
        return _batches[key];
    }

    // --- Internals --------------------------------------------------------------------------

    function _validKey(uint64 gtin, string calldata lot) private pure returns (bytes32) {
        if (gtin == 0 || gtin >= _GTIN_LIMIT || !Gs1.hasValidCheckDigit(gtin)) revert InvalidGtin(gtin);
        bytes calldata raw = bytes(lot);
        if (raw.length == 0 || raw.length > _LOT_MAX_LENGTH || !Gs1.isCset82(raw)) revert InvalidLot();
        return batchKey(gtin, lot);
    }

    function _requireRole(address account, uint32 role) private view {
        ParticipantRegistry.Participant memory p = registry.participant(account);
        if (p.status != ParticipantRegistry.Status.Active) revert ParticipantNotActive(account);
        if (p.roles & role == 0) revert RoleNotPermitted(account, p.roles);
    }

    function _requireMaySuspend() private view {
        if (msg.sender == registry.owner()) return;
        ParticipantRegistry.Participant memory p = registry.participant(msg.sender);
        if (p.status != ParticipantRegistry.Status.Active || p.roles & Roles.PHARMACOVIGILANCE == 0) {
            revert NotAuthorisedToSuspend(msg.sender);
        }
    }

    function _requireMayRecall(Batch storage b) private view {
        if (msg.sender == registry.owner()) return;
        if (b.manufacturer != msg.sender) revert NotAuthorisedToRecall(msg.sender);
        _requireRole(msg.sender, Roles.MANUFACTURER);
    }
}
