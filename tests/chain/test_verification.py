"""Verifying receipts offline and on-chain: each kind of tampering is caught and named."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from chain.anchoring import AnchoredBatch, anchor_batch
from chain.ledger import Ledger
from chain.verification import verify_receipt
from medledger.formats.receipt import Receipt
from medledger.roles import Role
from tests.conftest import ParticipantFactory, participants_of


@pytest.fixture(scope="module")
def ledger(module_ledger: tuple[Ledger, LocalAccount]) -> Ledger:
    """One deployment for the module: each test anchors roots of its own."""
    return module_ledger[0]


@pytest.fixture(scope="module")
def participant(module_ledger: tuple[Ledger, LocalAccount]) -> ParticipantFactory:
    return participants_of(*module_ledger)


def toy_hash(event: dict[str, Any]) -> bytes:
    """Stands in for the canonical event hash: any deterministic 32-byte hash will do here."""
    return hashlib.sha256(json.dumps(event, sort_keys=True).encode()).digest()


EVENTS = [{"type": "ObjectEvent", "n": n} for n in range(7)]


@pytest.fixture(scope="module")
def batch(ledger: Ledger, participant: ParticipantFactory) -> AnchoredBatch:
    maker = participant(Role.API_MAKER)
    return anchor_batch(
        ledger, maker, [(toy_hash(e), bytes([n]) * 32) for n, e in enumerate(EVENTS)]
    )


@pytest.fixture(scope="module")
def receipt(batch: AnchoredBatch) -> Receipt:
    return batch.receipt_for(toy_hash(EVENTS[3]), bytes([3]) * 32, event=EVENTS[3])


def failed(receipt: Receipt, **kwargs: Any) -> list[str]:
    return [c.name for c in verify_receipt(receipt, event_hasher=toy_hash, **kwargs).failures]


def test_a_genuine_receipt_is_valid_offline_and_on_chain(receipt: Receipt, ledger: Ledger) -> None:
    verdict = verify_receipt(receipt, chain=ledger.chain, event_hasher=toy_hash)
    assert verdict.valid, verdict.failures
    names = [c.name for c in verdict.checks]
    assert names == [
        "event hash",
        "leaf",
        "proof",
        "chain",
        "anchored by",
        "block",
        "transaction",
        "contract verifyEvent",
    ]


def test_every_event_of_a_batch_gets_a_valid_receipt(batch: AnchoredBatch, ledger: Ledger) -> None:
    for n, event in enumerate(EVENTS):
        receipt = batch.receipt_for(toy_hash(event), bytes([n]) * 32)
        assert verify_receipt(receipt, chain=ledger.chain).valid


def test_an_edited_event_no_longer_matches_its_hash(receipt: Receipt) -> None:
    edited = dataclasses.replace(receipt, event={**EVENTS[3], "n": 99})
    assert failed(edited) == ["event hash"]


def test_a_tampered_salt_breaks_the_leaf(receipt: Receipt) -> None:
    assert failed(dataclasses.replace(receipt, salt=os.urandom(32))) == ["leaf"]


def test_a_proof_for_another_leaf_breaks_the_path_to_the_root(
    receipt: Receipt, batch: AnchoredBatch
) -> None:
    other = batch.receipt_for(toy_hash(EVENTS[5]), bytes([5]) * 32)
    assert failed(dataclasses.replace(receipt, proof=other.proof)) == ["proof"]


def test_a_root_never_anchored_is_caught_on_chain(receipt: Receipt, ledger: Ledger) -> None:
    made_up = os.urandom(32)
    forged = dataclasses.replace(receipt, root=made_up, proof=())
    assert "anchored" in failed(forged, chain=ledger.chain)


def test_a_wrong_submitter_or_block_is_caught_on_chain(receipt: Receipt, ledger: Ledger) -> None:
    assert failed(
        dataclasses.replace(receipt, anchored_by="0x" + "11" * 20), chain=ledger.chain
    ) == ["anchored by"]
    assert failed(dataclasses.replace(receipt, block_number=1), chain=ledger.chain) == [
        "block",
        "transaction",
    ]


def test_a_receipt_for_another_chain_is_caught(receipt: Receipt, ledger: Ledger) -> None:
    assert failed(dataclasses.replace(receipt, chain_id=1), chain=ledger.chain) == ["chain"]


def test_a_receipt_naming_the_wrong_contract_is_caught(receipt: Receipt, ledger: Ledger) -> None:
    wrong = dataclasses.replace(receipt, contract=ledger.deployment.recall_registry)
    assert failed(wrong, chain=ledger.chain) == ["contract"]
