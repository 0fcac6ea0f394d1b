"""Checking a receipt: offline (hashes and proof) and, given a node, against the chain itself."""

from __future__ import annotations

from web3 import Web3

from chain.artifacts import ANCHOR_REGISTRY, load_artifact
from chain.client import Chain
from medledger.epcis.error_declaration import declaration_digest
from medledger.epcis.event_hash import stored_event_digest
from medledger.errors import ContractRevertError, ProvenanceError
from medledger.formats.receipt import Check as Check
from medledger.formats.receipt import EventHasher, Receipt
from medledger.formats.receipt import Verdict as Verdict
from medledger.masterdata.record import masterdata_digest
from medledger.merkle import leaf_hash, process_proof


def verify_receipt(
    receipt: Receipt, *, chain: Chain | None = None, event_hasher: EventHasher | None = None
) -> Verdict:
    """All offline checks; with ``chain``, the on-chain checks too."""
    checks = verify_offline(receipt, event_hasher=event_hasher)
    if chain is not None:
        checks.extend(verify_on_chain(receipt, chain))
    return Verdict(tuple(checks))


def verify_offline(receipt: Receipt, *, event_hasher: EventHasher | None = None) -> list[Check]:
    """The checks that need no node. An embedded event is hashed with ``event_hasher``, by
    default the domain's CBV 2.0 hash of a stored event (what the gateway and the indexer use).
    An embedded error declaration (kind ``errorDeclaration``) or master data record (kind
    ``masterdata``) is re-digested from itself."""
    checks: list[Check] = []
    if receipt.declaration is not None:
        try:
            digest = declaration_digest(receipt.declaration)
        except ProvenanceError as exc:
            checks.append(
                Check("declaration hash", False, f"embedded declaration is unusable: {exc}")
            )
        else:
            checks.append(
                _equal(
                    "declaration hash",
                    "recomputed from the embedded error declaration",
                    receipt.event_hash,
                    digest,
                )
            )
    if receipt.masterdata is not None:
        try:
            record_digest = masterdata_digest(receipt.masterdata)
        except ProvenanceError as exc:
            checks.append(
                Check("master data hash", False, f"embedded master data is unusable: {exc}")
            )
        else:
            checks.append(
                _equal(
                    "master data hash",
                    "recomputed from the embedded master data record",
                    receipt.event_hash,
                    record_digest,
                )
            )
    if receipt.event is not None:
        hasher = event_hasher or stored_event_digest
        try:
            computed = hasher(receipt.event)
        except ProvenanceError as exc:
            checks.append(Check("event hash", False, f"embedded event is unusable: {exc}"))
        else:
            checks.append(
                _equal(
                    "event hash",
                    "recomputed from the embedded event",
                    receipt.event_hash,
                    computed,
                )
            )
    checks.append(
        _equal(
            "leaf",
            "leaf of (event_hash, salt)",
            receipt.leaf,
            leaf_hash(receipt.event_hash, receipt.salt),
        )
    )
    checks.append(
        _equal(
            "proof",
            f"proof of {len(receipt.proof)} hashes leads to root",
            receipt.root,
            process_proof(receipt.leaf, list(receipt.proof)),
        )
    )
    return checks


def verify_on_chain(receipt: Receipt, chain: Chain) -> list[Check]:
    """Ask the chain: right network, root stored, by whom, at which block, and the verify view."""
    checks: list[Check] = []
    if chain.chain_id != receipt.chain_id:
        return [
            Check(
                "chain", False, f"node is chain {chain.chain_id}, receipt says {receipt.chain_id}"
            )
        ]
    checks.append(Check("chain", True, f"chain id {chain.chain_id}"))
    address = Web3.to_checksum_address(receipt.contract)
    if not chain.w3.eth.get_code(address):
        return [*checks, Check("contract", False, f"no contract at {address}")]
    registry = chain.contract(load_artifact(ANCHOR_REGISTRY), address)
    try:
        submitter, _count, block_number, _timestamp = chain.call(
            registry, "getAnchor", receipt.root
        )
    except ContractRevertError:
        return [*checks, Check("contract", False, f"{address} is not an anchor registry")]
    if int(submitter, 16) == 0:
        return [*checks, Check("anchored", False, f"root 0x{receipt.root.hex()} is not anchored")]
    checks.append(
        Check(
            "anchored by",
            Web3.to_checksum_address(submitter) == Web3.to_checksum_address(receipt.anchored_by),
            f"chain says {Web3.to_checksum_address(submitter)}, receipt says {receipt.anchored_by}",
        )
    )
    checks.append(
        Check(
            "block",
            int(block_number) == receipt.block_number,
            f"chain says block {block_number}, receipt says {receipt.block_number}",
        )
    )
    checks.append(_transaction_check(receipt, chain, address))
    on_chain = bool(
        chain.call(
            registry,
            "verifyEvent",
            receipt.root,
            receipt.event_hash,
            receipt.salt,
            list(receipt.proof),
        )
    )
    checks.append(
        Check(
            "contract verifyEvent",
            on_chain,
            "the anchor registry accepts the proof"
            if on_chain
            else "the anchor registry rejects the proof",
        )
    )
    return checks


def _transaction_check(receipt: Receipt, chain: Chain, contract: str) -> Check:
    try:
        tx = chain.w3.eth.get_transaction_receipt(receipt.tx_hash)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - nodes differ: None, TransactionNotFound, RPC error
        return Check("transaction", False, f"transaction 0x{receipt.tx_hash.hex()} not found")
    emitted = any(
        Web3.to_checksum_address(log["address"]) == contract
        and len(log["topics"]) > 1
        and bytes(log["topics"][1]) == receipt.root
        for log in tx["logs"]
    )
    ok = tx["status"] == 1 and int(tx["blockNumber"]) == receipt.block_number and emitted
    return Check(
        "transaction",
        ok,
        f"0x{receipt.tx_hash.hex()} in block {tx['blockNumber']}"
        + ("" if emitted else ", but it did not anchor this root"),
    )


def _equal(name: str, what: str, expected: bytes, computed: bytes) -> Check:
    if expected == computed:
        return Check(name, True, what)
    return Check(name, False, f"{what}: expected 0x{expected.hex()}, computed 0x{computed.hex()}")
