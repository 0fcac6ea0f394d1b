"""The batcher resumes after a crash at any point without losing or double-anchoring a batch."""

from __future__ import annotations

from chain.merkle import MerkleTree
from gateway import store
from gateway.batcher import Batcher
from gateway.service import GatewayService
from provenance.journey import API_MAKER, as_document, build_journey
from tests.gateway.conftest import Gateway, GatewayFactory


def capture_and_seal(gateway: Gateway) -> store.BatchInfo:
    assert gateway.capture(API_MAKER, as_document(build_journey().steps[0].events)).status_code
    with gateway.service.sessions() as session:
        (batch,) = store.seal_batches(session, max_events=1000, max_age_seconds=0)
    return batch


def restarted(gateway: Gateway) -> Batcher:
    """A new batcher over the same store and chain, as after a process restart."""
    service = gateway.service
    return Batcher(service.sessions, service.ledger, service.keys, service.batcher.policy)


def test_a_sealed_batch_is_anchored_signed_by_its_participant(gateway: Gateway) -> None:
    batch = capture_and_seal(gateway)
    report = gateway.service.batcher.step()
    assert (report.sent, report.anchored, report.failed) == (1, 1, 0)
    with gateway.service.sessions() as session:
        anchored = store.get_batch(session, batch.id)
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
        values = store.batch_values(session, batch.id)
        participant = store.get_participant(session, batch.participant)
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
        settled = store.get_batch(session, batch.id)
    assert settled is not None and settled.state == "anchored" and settled.root == root


def test_a_batch_recorded_as_sent_is_settled_from_its_receipt_after_a_restart(
    gateway: Gateway,
) -> None:
    batch = capture_and_seal(gateway)
    service = gateway.service
    with service.sessions() as session:
        values = store.batch_values(session, batch.id)
        participant = store.get_participant(session, batch.participant)
        root = MerkleTree.build(values).root
        store.set_root(session, batch.id, root)
        account = service.keys.account(
            batch.participant, participant.keystore_path if participant else None
        )
        submitted = service.chain.submit(
            account, service.ledger.anchors, "anchor", root, len(values), bytes(32)
        )
        store.mark_sent(session, batch.id, tx_hash=submitted.tx_hash, nonce=submitted.nonce)

    report = restarted(gateway).step()
    assert report.anchored == 1
    with service.sessions() as session:
        settled = store.get_batch(session, batch.id)
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
            info = store.get_capture(session, accepted["captureID"])
        assert info is not None and info.status == "anchored"
    finally:
        again.stop()
