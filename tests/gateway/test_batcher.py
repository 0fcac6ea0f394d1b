"""The batcher resumes after a crash at any point without losing or double-anchoring a batch."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from web3.exceptions import Web3RPCError

import gateway.batcher as batcher_module
from chain.verification import verify_receipt
from gateway.batcher import ANCHORED_BY_ANOTHER, Batcher
from gateway.service import GatewayService
from gateway.store.batches import (
    BatchInfo,
    anchor_history_counts,
    batch_values,
    batches_in_state,
    get_batch,
    get_batch_by_root,
    mark_failed,
    mark_sent,
    seal_batches,
    set_root,
)
from gateway.store.capture import get_capture
from gateway.store.models import BatchRow
from gateway.store.participants import get_participant
from medledger.epcis.builders import as_document
from medledger.formats.receipt import Receipt
from medledger.merkle import MerkleTree
from provenance.journey import API_MAKER, build_journey
from provenance.verify import canonical_event_digest
from tests.gateway.conftest import Gateway, GatewayFactory

#: Batcher logic rather than SQL (the store's transitions are tested on both databases).
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def capture_and_seal(gateway: Gateway) -> BatchInfo:
    assert gateway.capture(API_MAKER, as_document(build_journey().steps[0].events)).status_code
    with gateway.service.sessions() as session:
        (batch,) = seal_batches(session, max_events=1000, max_age_seconds=0)
    return batch


def restarted(gateway: Gateway) -> Batcher:
    """A new batcher over the same store and chain, as after a process restart (the old
    process's anchoring leases are gone with it: released, expired, or found dead)."""
    service = gateway.service
    service.batcher.release_leases()
    return Batcher(service.sessions, service.ledger, service.keys, service.batcher.policy)


def assert_every_receipt_verifies(gateway: Gateway, root: bytes) -> None:
    """Each event of the batch with ``root`` has a receipt that verifies offline and on chain."""
    with gateway.service.sessions() as session:
        contents = get_batch_by_root(session, root)
    assert contents is not None and contents.events
    for event in contents.events:
        path = f"/events/{event.event_id.split(';', 1)[1][:64]}/receipt"
        response = gateway.http.get(path, headers=gateway.regulator)
        assert response.status_code == 200, response.text
        verdict = verify_receipt(
            Receipt.from_json(response.json()),
            chain=gateway.service.chain,
            event_hasher=canonical_event_digest,
        )
        assert verdict.valid, verdict.failures


def test_a_sealed_batch_is_anchored_signed_by_its_participant(gateway: Gateway) -> None:
    batch = capture_and_seal(gateway)
    report = gateway.service.batcher.step()
    assert (report.sent, report.anchored, report.failed) == (1, 1, 0)
    with gateway.service.sessions() as session:
        anchored = get_batch(session, batch.id)
    assert anchored is not None and anchored.state == "anchored" and anchored.root is not None
    on_chain = gateway.service.ledger.get_anchor(anchored.root)
    assert on_chain is not None
    assert on_chain.submitter == gateway.addresses[API_MAKER.name]
    assert on_chain.block_number == anchored.block_number


def test_a_crash_after_sending_but_before_recording_it_settles_without_a_second_anchor(
    gateway: Gateway,
) -> None:
    batch = capture_and_seal(gateway)
    service = gateway.service
    with service.sessions() as session:
        values = batch_values(session, batch.id)
        participant = get_participant(session, batch.participant)
    root = MerkleTree.build(values).root
    account = service.keys.account(
        batch.participant, participant.keystore_path if participant else None
    )
    service.ledger.anchor(account, root, len(values))  # sent; then the process died
    nonce_before = service.chain.w3.eth.get_transaction_count(account.address)

    report = restarted(gateway).step()
    assert (report.anchored, report.sent, report.failed) == (1, 0, 0)
    assert service.chain.w3.eth.get_transaction_count(account.address) == nonce_before
    with service.sessions() as session:
        settled = get_batch(session, batch.id)
    assert settled is not None and settled.state == "anchored" and settled.root == root


def test_a_batch_recorded_as_sent_is_settled_from_its_receipt_after_a_restart(
    gateway: Gateway,
) -> None:
    batch = capture_and_seal(gateway)
    service = gateway.service
    with service.sessions() as session:
        values = batch_values(session, batch.id)
        participant = get_participant(session, batch.participant)
        root = MerkleTree.build(values).root
        set_root(session, batch.id, root)
        account = service.keys.account(
            batch.participant, participant.keystore_path if participant else None
        )
        submitted = service.chain.submit(
            account, service.ledger.anchors, "anchor", root, len(values), bytes(32)
        )
        mark_sent(session, batch.id, tx_hash=submitted.tx_hash, nonce=submitted.nonce)

    report = restarted(gateway).step()
    assert report.anchored == 1
    with service.sessions() as session:
        settled = get_batch(session, batch.id)
    assert settled is not None and settled.state == "anchored"
    assert settled.tx_hash == submitted.tx_hash


def test_events_acknowledged_before_a_restart_are_anchored_after_it(
    make_gateway: GatewayFactory,
) -> None:
    first = make_gateway()
    accepted = first.capture(API_MAKER, as_document(build_journey().steps[0].events)).json()
    chain = first.service.chain
    first.service.stop()  # the process ends before the batch was even sealed

    again = GatewayService(first.service.settings, chain=chain)
    try:
        assert again.regulator.address == first.service.regulator.address
        assert again.ledger.deployment == first.service.ledger.deployment
        report = again.batcher.step(flush=True)
        assert report.anchored == 1
        with again.sessions() as session:
            info = get_capture(session, accepted["captureID"])
        assert info is not None and info.status == "anchored"
    finally:
        again.stop()


def test_a_batch_recovered_after_a_crash_between_send_and_record_has_receipts_that_verify(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 21, finding 1: the recovery records the transaction the chain's log names."""
    batch = capture_and_seal(gateway)

    def crash(*args: object, **kwargs: object) -> BatchInfo:
        raise SystemExit("killed after sending the anchor, before recording it")

    monkeypatch.setattr(batcher_module, "mark_sent", crash)  # where the batcher looks it up
    with pytest.raises(SystemExit, match="killed after sending the anchor"):
        gateway.service.batcher.step()
    monkeypatch.undo()

    report = restarted(gateway).step()
    assert (report.anchored, report.sent, report.failed) == (1, 0, 0)
    with gateway.service.sessions() as session:
        settled = get_batch(session, batch.id)
    assert settled is not None and settled.state == "anchored" and settled.root is not None
    assert settled.tx_hash is not None
    assert_every_receipt_verifies(gateway, settled.root)


def test_a_batch_stored_anchored_without_its_transaction_heals(gateway: Gateway) -> None:
    """Issue 21, finding 1: older state (anchored, no tx hash) heals at batcher start and in
    ``receipt()``, from the chain's ``Anchored`` log."""
    batch = capture_and_seal(gateway)
    gateway.service.batcher.step()
    with gateway.service.sessions() as session:
        anchored = get_batch(session, batch.id)
    assert anchored is not None and anchored.tx_hash is not None and anchored.root is not None

    def forget_the_transaction() -> None:
        with gateway.service.sessions() as session:
            session.execute(update(BatchRow).where(BatchRow.id == batch.id).values(tx_hash=None))
            session.commit()

    forget_the_transaction()
    restarted(gateway).step()
    with gateway.service.sessions() as session:
        healed = get_batch(session, batch.id)
    assert healed is not None and healed.tx_hash == anchored.tx_hash

    forget_the_transaction()
    assert_every_receipt_verifies(gateway, anchored.root)
    with gateway.service.sessions() as session:
        healed = get_batch(session, batch.id)
    assert healed is not None and healed.tx_hash == anchored.tx_hash


def test_a_reverted_duplicate_anchor_is_never_recorded_as_the_batch_anchor(
    gateway: Gateway,
) -> None:
    """Issue 21 ("anchors are facts read from the chain"): a batch whose own transaction reverted
    because its root was already anchored records the transaction that did anchor it."""
    batch = capture_and_seal(gateway)
    service = gateway.service
    with service.sessions() as session:
        values = batch_values(session, batch.id)
        participant = get_participant(session, batch.participant)
        root = MerkleTree.build(values).root
        set_root(session, batch.id, root)
    account = service.keys.account(
        batch.participant, participant.keystore_path if participant else None
    )
    anchoring = service.ledger.anchor(account, root, len(values))
    data = service.ledger.anchors.encode_abi("anchor", args=[root, len(values), bytes(32)])
    duplicate = service.chain.sender(account).submit(
        {"to": service.ledger.anchors.address, "data": data, "gas": 300_000}
    )
    assert service.chain.w3.eth.get_transaction_receipt(duplicate.tx_hash)["status"] == 0  # type: ignore[arg-type]
    with service.sessions() as session:
        mark_sent(session, batch.id, tx_hash=duplicate.tx_hash, nonce=duplicate.nonce)

    report = restarted(gateway).step()
    assert report.anchored == 1
    with service.sessions() as session:
        settled = get_batch(session, batch.id)
    assert settled is not None and settled.state == "anchored"
    assert settled.tx_hash == anchoring.tx_hash
    assert_every_receipt_verifies(gateway, root)


@SQLITE_ONLY
def test_a_freshly_sealed_batch_is_sent_without_asking_the_chain_about_its_root_first(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch sealed this pass was never sent and its salted leaves make its root new: one
    round trip per anchor is saved by not asking the chain first (a root anchored all the same
    reverts the estimate with RootAlreadyAnchored, and the chain is asked then: the test
    below). A batch sealed again with its root set (a restart before its send was recorded)
    is still looked up first."""
    service = gateway.service
    asked: list[bytes] = []
    chain_answers = service.ledger.get_anchor

    def counted(root: bytes) -> object:
        asked.append(root)
        return chain_answers(root)

    monkeypatch.setattr(service.ledger, "get_anchor", counted)
    journey = build_journey()
    batches = []
    for step in journey.steps[:2]:
        assert gateway.capture(step.actor, as_document(step.events)).status_code == 202
        with service.sessions() as session:
            batches += seal_batches(session, max_events=1000, max_age_seconds=0)
    fresh, again = batches
    with service.sessions() as session:
        root = MerkleTree.build(batch_values(session, again.id)).root
        set_root(session, again.id, root)  # sealed, its root set, then the process stopped
    assert restarted(gateway).step(reconcile=False).anchored == 2
    with service.sessions() as session:
        assert get_batch(session, fresh.id).state == "anchored"  # type: ignore[union-attr]
    assert asked == [root]


@SQLITE_ONLY
def test_a_gas_estimate_reverting_root_already_anchored_settles_the_batch_from_the_chain(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 21, finding 2: the root was anchored between the batcher's look at the chain and its
    gas estimate (another batcher, a transaction of before a restart): the estimate reverts with
    ``RootAlreadyAnchored``, and the batch is anchored as the chain's log says, never failed."""
    batch = capture_and_seal(gateway)
    service = gateway.service
    with service.sessions() as session:
        values = batch_values(session, batch.id)
        participant = get_participant(session, batch.participant)
        root = MerkleTree.build(values).root
        set_root(session, batch.id, root)
    account = service.keys.account(
        batch.participant, participant.keystore_path if participant else None
    )
    anchoring = service.ledger.anchor(account, root, len(values))
    chain_answers = service.ledger.get_anchor
    not_yet: list[None] = [None]  # the first look happened just before that anchor was mined

    def looked_too_early(asked: bytes) -> object:
        return not_yet.pop() if not_yet else chain_answers(asked)

    monkeypatch.setattr(service.ledger, "get_anchor", looked_too_early)
    report = restarted(gateway).step(reconcile=False)
    assert not not_yet
    assert (report.anchored, report.failed) == (1, 0), report.errors
    with service.sessions() as session:
        settled = get_batch(session, batch.id)
    assert settled is not None and settled.state == "anchored"
    assert (settled.tx_hash, settled.block_number, settled.block_hash) == (
        anchoring.tx_hash,
        anchoring.block_number,
        anchoring.block_hash,
    )
    monkeypatch.undo()
    assert_every_receipt_verifies(gateway, root)


@SQLITE_ONLY
def test_a_batch_the_node_could_not_estimate_stays_sealed_and_holds_up_no_other(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the reorg campaign on a busy host: a gas estimate the node could not give (here
    "header not found", as a node answers mid-reorganisation) was taken for a revert and failed
    the batch for good, so its events never had a receipt. It is an error of this pass only:
    the batch stays sealed, the other batches are anchored in the same pass, the pass reports
    the error, and the next pass anchors the batch."""
    journey = build_journey()
    service = gateway.service
    for step in journey.steps[:3]:  # two of the API maker's documents, one of the manufacturer's
        assert gateway.capture(step.actor, as_document(step.events)).status_code == 202
        with service.sessions() as session:
            seal_batches(session, max_events=1000, max_age_seconds=0)
    with service.sessions() as session:
        first, *others = batches_in_state(session, "sealed")
    estimate = service.chain.w3.eth.estimate_gas
    refused: list[int] = []

    def busy_for_the_first(tx: object, *args: object) -> int:
        if not refused:
            refused.append(1)
            raise Web3RPCError("header not found")
        return estimate(tx, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(service.chain.w3.eth, "estimate_gas", busy_for_the_first)
    report = service.batcher.step(reconcile=False)
    assert report.failed == 0
    assert [e for e in report.errors if "header not found" in e] == [report.errors[0]]
    assert report.errors[0].startswith(f"batch {first.id}:")
    with service.sessions() as session:
        assert get_batch(session, first.id).state == "sealed"  # type: ignore[union-attr]
        assert {get_batch(session, b.id).state for b in others} == {"anchored"}  # type: ignore[union-attr]
    report = service.batcher.step(reconcile=False)
    assert (report.anchored, report.failed, report.errors) == (1, 0, [])
    with service.sessions() as session:
        assert get_batch(session, first.id).state == "anchored"  # type: ignore[union-attr]


@SQLITE_ONLY
def test_an_error_in_one_batch_holds_up_no_other_and_the_pass_still_fails_with_it(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error the batcher does not expect in one batch's work (here sending its anchor) used
    to end the pass there: every later batch waited behind it for as long as it lasted. The
    others go on; the pass then fails with the error, so the run loop logs it."""
    journey = build_journey()
    service = gateway.service
    for step in journey.steps[:2]:
        assert gateway.capture(step.actor, as_document(step.events)).status_code == 202
        with service.sessions() as session:
            seal_batches(session, max_events=1000, max_age_seconds=0)
    with service.sessions() as session:
        first, second = batches_in_state(session, "sealed")
        first_root = MerkleTree.build(batch_values(session, first.id)).root
    chain_submits = service.ledger.chain.submit

    def odd_about_the_first(*args: Any, **kwargs: Any) -> object:
        if first_root in args:
            raise ValueError("an answer the batcher cannot read")
        return chain_submits(*args, **kwargs)

    monkeypatch.setattr(service.ledger.chain, "submit", odd_about_the_first)
    with pytest.raises(ValueError, match="cannot read"):
        service.batcher.step(reconcile=False)
    with service.sessions() as session:
        assert get_batch(session, first.id).state == "sealed"  # type: ignore[union-attr]
        assert get_batch(session, second.id).state == "anchored"  # type: ignore[union-attr]
    monkeypatch.undo()
    assert service.batcher.step(reconcile=False).anchored == 1


@SQLITE_ONLY
def test_a_batch_failed_while_its_participant_was_suspended_is_anchored_once_reinstated(
    gateway: Gateway,
) -> None:
    """Events acknowledged before the regulator suspended their participant: the anchor reverts
    (``ParticipantNotActive``) and the batch fails. It used to stay failed for good (nothing
    reopened it), so those acknowledged events never had a receipt; it is sent again
    ``retry_failed_after_seconds`` after it failed, and anchored once the participant is back."""
    batch = capture_and_seal(gateway)
    service = gateway.service
    service.ledger.suspend(service.regulator, batch.participant)
    batcher = restarted(gateway)
    batcher.policy = replace(batcher.policy, retry_failed_after_seconds=0.2)
    report = batcher.step(reconcile=False)
    assert report.failed == 1 and "ParticipantNotActive" in report.errors[0]
    assert batcher.step(reconcile=False).anchored == 0  # not yet due
    time.sleep(0.3)
    failed_again = batcher.step(reconcile=False)  # due, but the participant is still suspended
    assert (failed_again.failed, failed_again.anchored) == (1, 0)
    service.ledger.reinstate(service.regulator, batch.participant)
    time.sleep(0.3)
    assert batcher.step(reconcile=False).anchored == 1
    with service.sessions() as session:
        anchored = get_batch(session, batch.id)
    assert anchored is not None and anchored.state == "anchored" and anchored.root is not None
    assert_every_receipt_verifies(gateway, anchored.root)


@SQLITE_ONLY
def test_a_batch_whose_root_another_participant_anchored_stays_failed(gateway: Gateway) -> None:
    """That is the chain's final word: retrying cannot change it."""
    batch = capture_and_seal(gateway)
    service = gateway.service
    with service.sessions() as session:
        mark_failed(session, batch.id, f"{ANCHORED_BY_ANOTHER} 0x{'ab' * 20}")
    batcher = restarted(gateway)
    batcher.policy = replace(batcher.policy, retry_failed_after_seconds=0.0)
    batcher.step(reconcile=False)
    batcher.step(reconcile=False)
    with service.sessions() as session:
        assert get_batch(session, batch.id).state == "failed"  # type: ignore[union-attr]


@SQLITE_ONLY
def test_with_confirmations_no_receipt_is_offered_until_the_anchor_is_deep_enough(
    make_gateway: GatewayFactory,
) -> None:
    """Issue 21: with ``confirmations`` N a batch is anchored (and its receipts offered) only
    once N blocks are on top of its anchor; an anchor that vanishes before never had a receipt
    and leaves no history: the batch is simply sent again."""
    gateway = make_gateway(confirmations=2)
    service = gateway.service
    tester = service.chain.w3.provider.ethereum_tester  # type: ignore[attr-defined]
    accepted = gateway.capture(API_MAKER, as_document(build_journey().steps[0].events)).json()
    event_id = accepted["eventIDs"][0].split(";", 1)[1][:64]

    def receipt_status() -> int:
        path = f"/events/{event_id}/receipt"
        return int(gateway.http.get(path, headers=gateway.regulator).status_code)

    before = tester.take_snapshot()
    report = service.batcher.step(flush=True, reconcile=False)
    assert (report.sent, report.anchored) == (1, 0)  # mined, 0 blocks on top
    tester.mine_blocks(1)
    assert service.batcher.step(reconcile=False).anchored == 0
    assert receipt_status() == 409

    tester.revert_to_snapshot(before)  # the anchor vanishes before it is 2 deep
    tester.mine_blocks(3)
    later = datetime.now(UTC) + timedelta(seconds=service.batcher.policy.resend_after_seconds + 1)
    service.batcher.step(now=later, reconcile=False)  # unknown to the node: sent again
    assert service.batcher.step(reconcile=False).anchored == 0
    assert receipt_status() == 409
    tester.mine_blocks(2)
    assert service.batcher.step(reconcile=False).anchored == 1
    assert receipt_status() == 200
    with service.sessions() as session:
        (batch,) = batches_in_state(session, "anchored")
        assert anchor_history_counts(session)["vanished"] == 0
    assert batch.root is not None
    assert_every_receipt_verifies(gateway, batch.root)


@SQLITE_ONLY
def test_with_confirmations_a_recovered_anchor_waits_until_it_is_deep_enough(
    make_gateway: GatewayFactory,
) -> None:
    """A crash between sending and recording: the root found on chain is not anchored in the
    store (no receipt) before it has the confirmations, and no second transaction is sent."""
    gateway = make_gateway(confirmations=2)
    service = gateway.service
    tester = service.chain.w3.provider.ethereum_tester  # type: ignore[attr-defined]
    batch = capture_and_seal(gateway)
    with service.sessions() as session:
        values = batch_values(session, batch.id)
        participant = get_participant(session, batch.participant)
    root = MerkleTree.build(values).root
    account = service.keys.account(
        batch.participant, participant.keystore_path if participant else None
    )
    service.ledger.anchor(account, root, len(values))  # sent; then the process died
    batcher = restarted(gateway)
    report = batcher.step(reconcile=False)
    assert (report.anchored, report.sent, report.failed) == (0, 0, 0)
    tester.mine_blocks(2)
    report = batcher.step(reconcile=False)
    assert (report.anchored, report.sent, report.failed) == (1, 0, 0)
    assert_every_receipt_verifies(gateway, root)


@SQLITE_ONLY
def test_an_anchor_transaction_the_node_lost_is_sent_again_without_waiting_a_minute(
    make_gateway: GatewayFactory,
) -> None:
    """Issue 21 (found by the reorg campaign): an anchor mined in a block that vanished, which
    the node did not return to its pool, held every later anchor of the account behind its
    nonce for ``resend_after_seconds`` (60 s). Unknown to the node, it is sent again after
    ``lost_after_seconds``; a transaction still pending is left alone until ``resend_after``."""
    gateway = make_gateway(confirmations=2)
    service = gateway.service
    policy = service.batcher.policy
    assert policy.lost_after_seconds < policy.resend_after_seconds
    tester = service.chain.w3.provider.ethereum_tester  # type: ignore[attr-defined]
    gateway.capture(API_MAKER, as_document(build_journey().steps[0].events))
    before = tester.take_snapshot()
    assert service.batcher.step(flush=True, reconcile=False).sent == 1
    with service.sessions() as session:
        (sent,) = batches_in_state(session, "sent")
    assert sent.tx_hash is not None

    tester.revert_to_snapshot(before)  # its block vanished, and the transaction with it
    soon = datetime.now(UTC) + timedelta(seconds=policy.lost_after_seconds + 1)
    service.batcher.step(now=soon, reconcile=False)
    with service.sessions() as session:
        (again,) = batches_in_state(session, "sent")
    assert (again.nonce, again.attempts) == (sent.nonce, sent.attempts + 1)
    assert again.tx_hash is not None
    assert service.chain.w3.eth.get_transaction(again.tx_hash)  # type: ignore[arg-type]
    tester.mine_blocks(2)
    assert service.batcher.step(reconcile=False).anchored == 1


@SQLITE_ONLY
def test_a_pending_anchor_transaction_is_not_sent_again_before_resend_after(
    make_gateway: GatewayFactory,
) -> None:
    gateway = make_gateway()
    service = gateway.service
    policy = service.batcher.policy
    tester = service.chain.w3.provider.ethereum_tester  # type: ignore[attr-defined]
    gateway.capture(API_MAKER, as_document(build_journey().steps[0].events))
    tester.disable_auto_mine_transactions()
    try:
        assert service.batcher.step(flush=True, reconcile=False).sent == 1
        soon = datetime.now(UTC) + timedelta(seconds=policy.lost_after_seconds + 1)
        service.batcher.step(now=soon, reconcile=False)
        with service.sessions() as session:
            (sent,) = batches_in_state(session, "sent")
        assert sent.attempts == 1  # pending at the node: not sent again
    finally:
        tester.enable_auto_mine_transactions()
    assert service.batcher.step(reconcile=False).anchored == 1


@SQLITE_ONLY
def test_with_confirmations_a_receipt_from_a_block_reorganised_away_anchors_nothing(
    make_gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The receipt and the chain's head are read one after the other: a reorganisation in
    between would leave a receipt naming a block that is no longer the chain's. Its block hash
    is checked against the chain's block at that height after the head was read."""
    gateway = make_gateway(confirmations=1)
    service = gateway.service
    tester = service.chain.w3.provider.ethereum_tester  # type: ignore[attr-defined]
    gateway.capture(API_MAKER, as_document(build_journey().steps[0].events))
    assert service.batcher.step(flush=True, reconcile=False).sent == 1
    tester.mine_blocks(1)
    eth = service.chain.w3.eth
    real = eth.get_transaction_receipt

    def from_a_vanished_block(tx_hash: object) -> object:
        return {**real(tx_hash), "blockHash": b"\x01" * 32}  # type: ignore[arg-type]

    monkeypatch.setattr(eth, "get_transaction_receipt", from_a_vanished_block)
    assert service.batcher.step(reconcile=False).anchored == 0
    monkeypatch.setattr(eth, "get_transaction_receipt", real)
    assert service.batcher.step(reconcile=False).anchored == 1
