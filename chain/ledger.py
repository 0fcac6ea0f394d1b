"""Typed access to the deployed registries: participants, anchors and recalls."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from chain.artifacts import ANCHOR_REGISTRY, PARTICIPANT_REGISTRY, RECALL_REGISTRY, load_artifact
from chain.client import Chain
from chain.deployment import Deployment
from chain.sender import TxResult
from chain.signer import Signer
from medledger.roles import Role

ZERO_ADDRESS = "0x" + "00" * 20
ZERO_BYTES32 = bytes(32)
EIP712_NAME = "ProvenanceAnchorRegistry"
EIP712_VERSION = "1"
ANCHOR_TYPES = {
    "Anchor": [
        {"name": "submitter", "type": "address"},
        {"name": "root", "type": "bytes32"},
        {"name": "eventCount", "type": "uint32"},
        {"name": "metadataHash", "type": "bytes32"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ]
}


class ParticipantStatus(Enum):
    NONE = 0
    ACTIVE = 1
    SUSPENDED = 2


@dataclass(frozen=True)
class ParticipantRecord:
    address: str
    roles: Role
    gln: int
    status: ParticipantStatus
    registered_at: int


@dataclass(frozen=True)
class BatchRecord:
    """What the recall registry stores for a batch (all zero if nobody registered it)."""

    manufacturer: str | None
    recalled: bool
    recalled_at: int
    packs: int
    suspended: bool = False
    suspended_at: int = 0


@dataclass(frozen=True)
class AnchorRecord:
    """What the anchor registry stores for a root."""

    root: bytes
    submitter: str
    event_count: int
    block_number: int
    timestamp: int


@dataclass(frozen=True)
class AnchorTransaction:
    """The successful transaction whose ``Anchored`` log put a root on chain."""

    tx_hash: str
    block_number: int
    block_hash: str


@dataclass(frozen=True)
class AnchorAuthorisation:
    """A participant's EIP-712 signature allowing a relayer to anchor ``root`` in its name."""

    submitter: str
    root: bytes
    event_count: int
    metadata_hash: bytes
    deadline: int
    signature: bytes


class Ledger:
    """The three registries of one deployment, on one chain."""

    def __init__(self, chain: Chain, deployment: Deployment) -> None:
        self.chain = chain
        self.deployment = deployment
        self.participants = chain.contract(
            load_artifact(PARTICIPANT_REGISTRY), deployment.participant_registry
        )
        self.anchors = chain.contract(load_artifact(ANCHOR_REGISTRY), deployment.anchor_registry)
        self.recalls = chain.contract(load_artifact(RECALL_REGISTRY), deployment.recall_registry)

    # --- participants ---------------------------------------------------------------------

    def register_participant(
        self, regulator: Signer, address: str, roles: Role, gln: int
    ) -> TxResult:
        return self.chain.transact(
            regulator,
            self.participants,
            "register",
            Web3.to_checksum_address(address),
            int(roles),
            gln,
        )

    def set_roles(self, regulator: Signer, address: str, roles: Role) -> TxResult:
        return self.chain.transact(
            regulator, self.participants, "setRoles", Web3.to_checksum_address(address), int(roles)
        )

    def suspend(self, regulator: Signer, address: str) -> TxResult:
        return self.chain.transact(
            regulator, self.participants, "suspend", Web3.to_checksum_address(address)
        )

    def reinstate(self, regulator: Signer, address: str) -> TxResult:
        return self.chain.transact(
            regulator, self.participants, "reinstate", Web3.to_checksum_address(address)
        )

    def set_company_prefixes(
        self, regulator: Signer, address: str, prefixes: list[str]
    ) -> TxResult:
        """Replace the participant's GS1 company prefixes (the GTINs it may commission)."""
        return self.chain.transact(
            regulator,
            self.participants,
            "setCompanyPrefixes",
            Web3.to_checksum_address(address),
            list(prefixes),
        )

    def company_prefixes(self, address: str) -> list[str]:
        found = self.chain.call(
            self.participants, "companyPrefixes", Web3.to_checksum_address(address)
        )
        return [str(p) for p in found]

    def owns_gtin(self, address: str, gtin: int) -> bool:
        return bool(
            self.chain.call(self.participants, "ownsGtin", Web3.to_checksum_address(address), gtin)
        )

    def participant(self, address: str) -> ParticipantRecord:
        roles, gln, status, registered_at = self.chain.call(
            self.participants, "participant", Web3.to_checksum_address(address)
        )
        return ParticipantRecord(
            address=Web3.to_checksum_address(address),
            roles=Role(roles),
            gln=int(gln),
            status=ParticipantStatus(status),
            registered_at=int(registered_at),
        )

    # --- anchors --------------------------------------------------------------------------

    def anchor(
        self,
        account: Signer,
        root: bytes,
        event_count: int,
        metadata_hash: bytes = ZERO_BYTES32,
        *,
        confirmations: int = 0,
    ) -> TxResult:
        """Anchor ``root`` with ``account`` as the on-chain submitter."""
        return self.chain.transact(
            account,
            self.anchors,
            "anchor",
            root,
            event_count,
            metadata_hash,
            confirmations=confirmations,
        )

    def authorise_anchor(
        self,
        submitter: LocalAccount,
        root: bytes,
        event_count: int,
        deadline: int,
        metadata_hash: bytes = ZERO_BYTES32,
    ) -> AnchorAuthorisation:
        """The participant signs (EIP-712) that ``root`` may be anchored in its name."""
        nonce = int(self.chain.call(self.anchors, "nonces", submitter.address))
        signed = Account.sign_typed_data(
            submitter.key,
            domain_data={
                "name": EIP712_NAME,
                "version": EIP712_VERSION,
                "chainId": self.chain.chain_id,
                "verifyingContract": self.anchors.address,
            },
            message_types=ANCHOR_TYPES,
            message_data={
                "submitter": submitter.address,
                "root": root,
                "eventCount": event_count,
                "metadataHash": metadata_hash,
                "nonce": nonce,
                "deadline": deadline,
            },
        )
        return AnchorAuthorisation(
            submitter=submitter.address,
            root=root,
            event_count=event_count,
            metadata_hash=metadata_hash,
            deadline=deadline,
            signature=bytes(signed.signature),
        )

    def anchor_relayed(self, relayer: Signer, auth: AnchorAuthorisation) -> TxResult:
        """Send a participant-signed anchor; the participant, not the relayer, is the submitter."""
        return self.chain.transact(
            relayer,
            self.anchors,
            "anchorFor",
            auth.submitter,
            auth.root,
            auth.event_count,
            auth.metadata_hash,
            auth.deadline,
            auth.signature,
        )

    def get_anchor(self, root: bytes) -> AnchorRecord | None:
        """The stored anchor of ``root``, or None if it was never anchored."""
        submitter, event_count, block_number, timestamp = self.chain.call(
            self.anchors, "getAnchor", root
        )
        if int(submitter, 16) == 0:
            return None
        return AnchorRecord(
            root=root,
            submitter=Web3.to_checksum_address(submitter),
            event_count=int(event_count),
            block_number=int(block_number),
            timestamp=int(timestamp),
        )

    def find_anchor_transaction(
        self, root: bytes, block_number: int | None = None
    ) -> AnchorTransaction | None:
        """The transaction that anchored ``root``, read from the chain's ``Anchored`` logs.

        ``root`` is an indexed topic, so one ``eth_getLogs`` filter finds it; ``block_number``
        (what ``getAnchor`` says) bounds the search to one block. Only a transaction whose receipt
        has status 1 counts (a reverted one emits no log, but the node is not trusted on that).
        None if the root has no such log (not anchored, or the node has pruned its logs).
        """
        if block_number is None:
            record = self.get_anchor(root)
            if record is None:
                return None
            block_number = record.block_number
        topic = Web3.keccak(text="Anchored(bytes32,address,uint32,bytes32,address)")
        logs = self.chain.w3.eth.get_logs(
            {
                "address": self.anchors.address,
                "fromBlock": block_number,
                "toBlock": block_number,
                "topics": [topic.to_0x_hex(), "0x" + root.hex()],
            }
        )
        for log in logs:
            if len(log["topics"]) < 2 or bytes(log["topics"][1]) != root:
                continue  # a node that ignored the filter
            tx_hash = "0x" + bytes(log["transactionHash"]).hex()
            receipt = self.chain.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
            if receipt["status"] == 1:
                return AnchorTransaction(
                    tx_hash=tx_hash,
                    block_number=int(log["blockNumber"]),
                    block_hash="0x" + bytes(log["blockHash"]).hex(),
                )
        return None

    def verify_event(self, root: bytes, event_hash: bytes, salt: bytes, proof: list[bytes]) -> bool:
        """The contract's own check: the root is anchored and the event's leaf proves into it."""
        return bool(self.chain.call(self.anchors, "verifyEvent", root, event_hash, salt, proof))

    # --- batches and recalls ----------------------------------------------------------------

    def register_batch(self, manufacturer: Signer, gtin: int, lot: str, packs: int) -> TxResult:
        """Register the batch as ``manufacturer``'s, ``packs`` packs declared (its GTIN must be
        under one of its company prefixes)."""
        return self.chain.transact(manufacturer, self.recalls, "registerBatch", gtin, lot, packs)

    def batch(self, gtin: int, lot: str) -> BatchRecord:
        key = self.chain.call(self.recalls, "batchKey", gtin, lot)
        manufacturer, recalled, recalled_at, packs, suspended, suspended_at = self.chain.call(
            self.recalls, "batch", key
        )
        return BatchRecord(
            manufacturer=None
            if int(manufacturer, 16) == 0
            else Web3.to_checksum_address(manufacturer),
            recalled=bool(recalled),
            recalled_at=int(recalled_at),
            packs=int(packs),
            suspended=bool(suspended),
            suspended_at=int(suspended_at),
        )

    def recall(self, account: Signer, gtin: int, lot: str, reason_code: int) -> TxResult:
        return self.chain.transact(account, self.recalls, "recall", gtin, lot, reason_code)

    def release(self, account: Signer, gtin: int, lot: str, reason_code: int) -> TxResult:
        return self.chain.transact(account, self.recalls, "release", gtin, lot, reason_code)

    def is_recalled(self, gtin: int, lot: str) -> bool:
        return bool(self.chain.call(self.recalls, "isRecalled", gtin, lot))

    def suspend_lot(
        self, account: Signer, gtin: int, lot: str, reason_code: int, case_number: str
    ) -> TxResult:
        """Suspend the batch pending investigation ``case_number`` (the regulator, or an
        active pharmacovigilance officer)."""
        return self.chain.transact(
            account, self.recalls, "suspend", gtin, lot, reason_code, case_number
        )

    def lift_suspension(self, account: Signer, gtin: int, lot: str, reason_code: int) -> TxResult:
        return self.chain.transact(account, self.recalls, "liftSuspension", gtin, lot, reason_code)

    def escalate_suspension(
        self, account: Signer, gtin: int, lot: str, reason_code: int
    ) -> TxResult:
        """Turn the suspension into a recall (the regulator only)."""
        return self.chain.transact(
            account, self.recalls, "escalateSuspension", gtin, lot, reason_code
        )

    def is_suspended(self, gtin: int, lot: str) -> bool:
        return bool(self.chain.call(self.recalls, "isSuspended", gtin, lot))
