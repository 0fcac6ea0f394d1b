// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";

import {Gs1} from "./Gs1.sol";
import {Roles} from "./Roles.sol";

/// @title ParticipantRegistry
/// @notice Who may take part in the provenance ledger, with which roles and under which GS1 GLN.
///         The regulator (the contract owner) registers, re-roles, suspends and reinstates
///         participants, and records the GS1 company prefixes each one may commission products
///         under; the other contracts read this registry to authorise their callers.
/// @dev Ownership moves in two steps (`transferOwnership` then `acceptOwnership`) so a typo cannot
///      hand the registry to an address nobody controls; renouncing it is disabled. A new regulator
///      is not registered as a participant automatically: register it before the hand-over.
contract ParticipantRegistry is Ownable2Step {
    /// @notice Lifecycle of a participant. `None` means never registered.
    enum Status {
        None,
        Active,
        Suspended
    }

    /// @notice One participant; fits in a single storage slot.
    /// @param roles Bitmask of {Roles} constants.
    /// @param gln GS1 Global Location Number (13 digits, check digit verified).
    /// @param status Lifecycle status.
    /// @param registeredAt Block timestamp of registration.
    struct Participant {
        uint32 roles;
        uint64 gln;
        Status status;
        uint64 registeredAt;
    }

    uint64 private constant _GLN_MIN = 1e12;
    uint64 private constant _GLN_LIMIT = 1e13;
    uint64 private constant _GTIN_LIMIT = 1e14;
    /// @notice Most company prefixes one participant may hold.
    uint256 public constant MAX_COMPANY_PREFIXES = 32;

    mapping(address account => Participant) private _participants;
    mapping(address account => string[]) private _companyPrefixes;
    uint256 private _participantCount;

    /// @notice A participant was registered.
    event ParticipantRegistered(address indexed account, uint32 roles, uint64 gln);
    /// @notice A participant's roles were replaced.
    event RolesChanged(address indexed account, uint32 previousRoles, uint32 roles);
    /// @notice A participant was suspended.
    event ParticipantSuspended(address indexed account);
    /// @notice A suspended participant was reinstated.
    event ParticipantReinstated(address indexed account);
    /// @notice The participant's GS1 company prefixes were replaced (an empty list: none).
    event CompanyPrefixesSet(address indexed account, string[] prefixes);

    error ZeroAddress();
    error AlreadyRegistered(address account);
    error NotRegistered(address account);
    error InvalidRoles(uint32 roles);
    error InvalidGln(uint64 gln);
    error AlreadySuspended(address account);
    error NotSuspended(address account);
    error RenounceDisabled();
    error InvalidCompanyPrefix(uint256 index);
    error TooManyCompanyPrefixes(uint256 count);

    /// @notice Deploys the registry; the deployer becomes the regulator and an active participant
    ///         holding the REGULATOR role.
    /// @param regulatorGln The regulator's GLN.
    constructor(uint64 regulatorGln) Ownable(msg.sender) {
        _register(msg.sender, Roles.REGULATOR, regulatorGln);
    }

    // --- Regulator actions ------------------------------------------------------------------

    /// @notice Registers `account` as an active participant.
    /// @param account The participant's address; not zero, not registered yet.
    /// @param roles Non-zero bitmask of {Roles} constants.
    /// @param gln 13-digit GS1 GLN with a valid check digit.
    function register(address account, uint32 roles, uint64 gln) external onlyOwner {
        _register(account, roles, gln);
    }

    /// @notice Replaces the roles of a registered (active or suspended) participant.
    /// @param account A registered participant.
    /// @param roles Non-zero bitmask of {Roles} constants.
    function setRoles(address account, uint32 roles) external onlyOwner {
        Participant storage p = _registered(account);
        _checkRoles(roles);
        uint32 previous = p.roles;
        p.roles = roles;
        emit RolesChanged(account, previous, roles);
    }

    /// @notice Replaces the GS1 company prefixes of a registered participant: the products
    ///         (GTINs) it may commission and register batches of.
    /// @dev A GS1 company prefix is 4 to 12 digits (GS1 General Specifications §1.4.4); leading
    ///      zeros count, so prefixes are strings. A GTIN-14 falls under a prefix when its digits
    ///      after the indicator digit start with it. At most {MAX_COMPANY_PREFIXES}; an empty
    ///      list removes them all.
    /// @param account A registered participant.
    /// @param prefixes Its company prefixes (replacing any it had).
    function setCompanyPrefixes(address account, string[] calldata prefixes) external onlyOwner {
        _registered(account);
        if (prefixes.length > MAX_COMPANY_PREFIXES) revert TooManyCompanyPrefixes(prefixes.length);
        delete _companyPrefixes[account];
        string[] storage kept = _companyPrefixes[account];
        for (uint256 i; i < prefixes.length; ++i) {
            if (!_isCompanyPrefix(bytes(prefixes[i]))) revert InvalidCompanyPrefix(i);
            kept.push(prefixes[i]);
        }
        emit CompanyPrefixesSet(account, prefixes);
    }

    /// @notice Suspends an active participant: it keeps its record but fails every permission check.
    /// @param account An active participant.
    function suspend(address account) external onlyOwner {
        Participant storage p = _registered(account);
        if (p.status == Status.Suspended) revert AlreadySuspended(account);
        p.status = Status.Suspended;
        emit ParticipantSuspended(account);
    }

    /// @notice Reinstates a suspended participant.
    /// @param account A suspended participant.
    function reinstate(address account) external onlyOwner {
        Participant storage p = _registered(account);
        if (p.status != Status.Suspended) revert NotSuspended(account);
        p.status = Status.Active;
        emit ParticipantReinstated(account);
    }

    /// @notice Disabled: a registry without a regulator could never change again.
    function renounceOwnership() public view override onlyOwner {
        revert RenounceDisabled();
    }

    // --- Views ------------------------------------------------------------------------------

    /// @notice The regulator: the owner of this registry.
    function regulator() external view returns (address) {
        return owner();
    }

    /// @notice The record of `account`; all zero (status None) if it was never registered.
    function participant(address account) external view returns (Participant memory) {
        return _participants[account];
    }

    /// @notice True if `account` is registered and not suspended.
    function isActive(address account) external view returns (bool) {
        return _participants[account].status == Status.Active;
    }

    /// @notice True if `account` is active and holds at least one of the roles in `mask`.
    function hasAnyRole(address account, uint32 mask) external view returns (bool) {
        Participant storage p = _participants[account];
        return p.status == Status.Active && p.roles & mask != 0;
    }

    /// @notice The GS1 company prefixes of `account` (empty if none).
    function companyPrefixes(address account) external view returns (string[] memory) {
        return _companyPrefixes[account];
    }

    /// @notice True if GTIN-14 `gtin` falls under one of the company prefixes of `account`.
    function ownsGtin(address account, uint64 gtin) external view returns (bool) {
        if (gtin >= _GTIN_LIMIT) return false;
        string[] storage prefixes = _companyPrefixes[account];
        for (uint256 i; i < prefixes.length; ++i) {
            if (_underPrefix(gtin, bytes(prefixes[i]))) return true;
        }
        return false;
    }

    /// @notice Number of participants ever registered, suspended ones included.
    function participantCount() external view returns (uint256) {
        return _participantCount;
    }

    // --- Internals --------------------------------------------------------------------------

    function _register(address account, uint32 roles, uint64 gln) private {
        if (account == address(0)) revert ZeroAddress();
        if (_participants[account].status != Status.None) revert AlreadyRegistered(account);
        _checkRoles(roles);
        if (gln < _GLN_MIN || gln >= _GLN_LIMIT || !Gs1.hasValidCheckDigit(gln)) {
            revert InvalidGln(gln);
        }
        _participants[account] = Participant({
            roles: roles,
            gln: gln,
            status: Status.Active,
            registeredAt: uint64(block.timestamp)
        });
        unchecked {
            ++_participantCount;
        }
        emit ParticipantRegistered(account, roles, gln);
    }

    function _registered(address account) private view returns (Participant storage p) {
        p = _participants[account];
        if (p.status == Status.None) revert NotRegistered(account);
    }

    function _isCompanyPrefix(bytes memory prefix) private pure returns (bool) {
        if (prefix.length < 4 || prefix.length > 12) return false;
        for (uint256 i; i < prefix.length; ++i) {
            if (prefix[i] < "0" || prefix[i] > "9") return false;
        }
        return true;
    }

    /// @dev Digit `1 + j` of the 14-digit GTIN (digit 0 is the indicator) is prefix digit `j`.
    function _underPrefix(uint64 gtin, bytes memory prefix) private pure returns (bool) {
        uint256 digits = gtin;
        uint256 length = prefix.length;
        // the digits after the indicator, as many as the prefix has: drop the 13 - length
        // digits to their right, then keep length digits
        uint256 head = (digits / (10 ** (13 - length))) % (10 ** length);
        uint256 wanted;
        for (uint256 j; j < length; ++j) {
            wanted = wanted * 10 + (uint8(prefix[j]) - 48);
        }
        return head == wanted;
    }

    function _checkRoles(uint32 roles) private pure {
        if (roles == 0 || roles & ~Roles.ALL != 0) revert InvalidRoles(roles);
    }
}
