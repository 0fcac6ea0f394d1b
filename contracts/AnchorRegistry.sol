// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

import {ParticipantRegistry} from "./ParticipantRegistry.sol";
import {Roles} from "./Roles.sol";

/// @title AnchorRegistry
/// @notice Records Merkle roots of batches of EPCIS events, each once, with who anchored it and when,
///         and verifies inclusion proofs against them.
/// @dev Trees are OpenZeppelin StandardMerkleTree trees over `(bytes32 eventHash, bytes32 salt)`:
///      leaf = keccak256(bytes.concat(keccak256(abi.encode(eventHash, salt)))), inner nodes hash the
///      sorted pair of children. The off-chain builders (Python and JS) must use the same encoding.
///      A participant may anchor directly, or sign an EIP-712 `Anchor` message that anyone relays
///      through {anchorFor}.
contract AnchorRegistry is EIP712, Nonces {
    /// @notice What is stored for an anchored root: exactly one storage slot.
    /// @dev uint32 limits: `eventCount` < 2^32 events per batch; `blockNumber` < 2^32 (about 136
    ///      years of one-second blocks); `timestamp` < 2^32 seconds, i.e. until 2106-02-07. Anchoring
    ///      reverts (SafeCast) rather than store a truncated block number or timestamp.
    /// @param submitter The participant the root is attributed to.
    /// @param eventCount Number of events (leaves) in the batch, as declared by the submitter.
    /// @param blockNumber Block in which the root was anchored.
    /// @param timestamp Timestamp of that block.
    struct Anchor {
        address submitter;
        uint32 eventCount;
        uint32 blockNumber;
        uint32 timestamp;
    }

    /// @notice EIP-712 type hash of the message a participant signs for {anchorFor}.
    bytes32 public constant ANCHOR_TYPEHASH = keccak256(
        "Anchor(address submitter,bytes32 root,uint32 eventCount,bytes32 metadataHash,uint256 nonce,uint256 deadline)"
    );

    /// @notice The registry that authorises submitters.
    ParticipantRegistry public immutable registry;

    mapping(bytes32 root => Anchor) private _anchors;

    /// @notice `root` was anchored for `submitter`; `relayer` sent the transaction (equal to
    ///         `submitter` unless the anchor was relayed through {anchorFor}).
    event Anchored(
        bytes32 indexed root, address indexed submitter, uint32 eventCount, bytes32 metadataHash, address relayer
    );

    error ZeroAddress();
    error ParticipantNotActive(address account);
    error RoleNotPermitted(address account, uint32 roles);
    error RootAlreadyAnchored(bytes32 root, address submitter);
    error ZeroRoot();
    error EmptyBatch();
    error SignatureExpired(uint256 deadline);
    error InvalidSignature(address expected, address recovered);

    /// @param participants The participant registry consulted for every anchor.
    constructor(ParticipantRegistry participants) EIP712("ProvenanceAnchorRegistry", "1") {
        if (address(participants) == address(0)) revert ZeroAddress();
        registry = participants;
    }

    // --- Anchoring --------------------------------------------------------------------------

    /// @notice Anchors the Merkle root of a batch of `eventCount` events, attributed to the caller.
    /// @dev The caller must be an active participant holding a submitting role (any but AUDITOR
    ///      and PHARMACOVIGILANCE).
    /// @param root The batch's Merkle root; not zero, not anchored before.
    /// @param eventCount Number of events in the batch; at least one.
    /// @param metadataHash Opaque commitment to batch metadata (emitted, not stored).
    function anchor(bytes32 root, uint32 eventCount, bytes32 metadataHash) external {
        _anchor(msg.sender, root, eventCount, metadataHash);
    }

    /// @notice Anchors a root on behalf of `submitter`, who signed the EIP-712 message
    ///         `Anchor(submitter, root, eventCount, metadataHash, nonce, deadline)` with its own key.
    ///         Anyone may relay; each signature is usable once (the submitter's nonce advances).
    /// @param submitter The signing participant; active, with a submitting role.
    /// @param root The batch's Merkle root; not zero, not anchored before.
    /// @param eventCount Number of events in the batch; at least one.
    /// @param metadataHash Opaque commitment to batch metadata (emitted, not stored).
    /// @param deadline Last block timestamp at which the signature is accepted.
    /// @param signature 65-byte ECDSA signature (r, s, v) over the EIP-712 digest.
    function anchorFor(
        address submitter,
        bytes32 root,
        uint32 eventCount,
        bytes32 metadataHash,
        uint256 deadline,
        bytes calldata signature
    ) external {
        if (block.timestamp > deadline) revert SignatureExpired(deadline);
        bytes32 structHash = keccak256(
            abi.encode(ANCHOR_TYPEHASH, submitter, root, eventCount, metadataHash, _useNonce(submitter), deadline)
        );
        (address recovered,,) = ECDSA.tryRecover(_hashTypedDataV4(structHash), signature);
        if (recovered != submitter || recovered == address(0)) revert InvalidSignature(submitter, recovered);
        _anchor(submitter, root, eventCount, metadataHash);
    }

    // --- Views ------------------------------------------------------------------------------

    /// @notice The anchor of `root`; all zero if it was never anchored.
    function getAnchor(bytes32 root) external view returns (Anchor memory) {
        return _anchors[root];
    }

    /// @notice True if `root` has been anchored.
    function isAnchored(bytes32 root) public view returns (bool) {
        return _anchors[root].submitter != address(0);
    }

    /// @notice The StandardMerkleTree leaf of an event: keccak256(keccak256(abi.encode(eventHash, salt))).
    /// @param eventHash The event's canonical hash.
    /// @param salt The per-event random salt.
    function leafHash(bytes32 eventHash, bytes32 salt) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(eventHash, salt))));
    }

    /// @notice True if `leaf` is proven by `proof` to be in the tree of the anchored `root`.
    /// @return False if `root` is not anchored or the proof does not lead to it.
    function verify(bytes32 root, bytes32 leaf, bytes32[] calldata proof) public view returns (bool) {
        return isAnchored(root) && MerkleProof.verifyCalldata(proof, root, leaf);
    }

    /// @notice {verify} for the leaf of (`eventHash`, `salt`).
    function verifyEvent(bytes32 root, bytes32 eventHash, bytes32 salt, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        return verify(root, leafHash(eventHash, salt), proof);
    }

    /// @notice True if all `leaves` are proven by the multiproof (`proof`, `proofFlags`) to be in the
    ///         tree of the anchored `root`, as produced by StandardMerkleTree.getMultiProof.
    /// @return False if `root` is not anchored, `leaves` is empty, the proof is malformed or does
    ///         not lead to `root`.
    function verifyMulti(
        bytes32 root,
        bytes32[] calldata proof,
        bool[] calldata proofFlags,
        bytes32[] calldata leaves
    ) external view returns (bool) {
        // An empty leaf set "proves" proof[0]; and a length mismatch would revert inside OZ.
        if (leaves.length == 0 || leaves.length + proof.length != proofFlags.length + 1) return false;
        return isAnchored(root) && MerkleProof.multiProofVerifyCalldata(proof, proofFlags, root, leaves);
    }

    /// @notice The EIP-712 domain separator for this chain and contract.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // --- Internals --------------------------------------------------------------------------

    function _anchor(address submitter, bytes32 root, uint32 eventCount, bytes32 metadataHash) private {
        if (root == bytes32(0)) revert ZeroRoot();
        if (eventCount == 0) revert EmptyBatch();
        ParticipantRegistry.Participant memory p = registry.participant(submitter);
        if (p.status != ParticipantRegistry.Status.Active) revert ParticipantNotActive(submitter);
        if (p.roles & Roles.SUBMITTING == 0) revert RoleNotPermitted(submitter, p.roles);
        address previous = _anchors[root].submitter;
        if (previous != address(0)) revert RootAlreadyAnchored(root, previous);
        // One struct literal: a single SSTORE of the packed slot.
        _anchors[root] = Anchor({
            submitter: submitter,
            eventCount: eventCount,
            blockNumber: SafeCast.toUint32(block.number),
            timestamp: SafeCast.toUint32(block.timestamp)
        });
        emit Anchored(root, submitter, eventCount, metadataHash, msg.sender);
    }
}
