"""Anchors are re-checked against the chain: one that a reorganisation took away is anchored
again (a new transaction, new receipts), one that moved is recorded where it is now, and the old
anchor answers 410 with a pointer to the new one (issue 21).

In-process chain: eth-tester's snapshot and revert stand in for a reorganisation; one test on
anvil (evm_snapshot, evm_revert, evm_mine).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from fastapi.testclient import TestClient

from chain.verification import verify_receipt
from devkit.nodes import available, running_node
from gateway.api.app import create_app
from gateway.service import GatewayService
from gateway.settings import GatewaySettings
from gateway.store.batches import BatchInfo, batches_in_state, get_batch_by_root
from medledger.epcis.builders import as_document
from medledger.formats.receipt import Receipt
from provenance.journey import API_MAKER, build_journey
from provenance.verify import canonical_event_digest
from tests.gateway.conftest import Gateway
from tests.gateway.test_batcher import assert_every_receipt_verifies


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """SQLite only: the reconciler's SQL is the batch lifecycle's (tested on both)."""
    yield f"sqlite:///{tmp_path}/gateway.db"


def eth_tester_of(gateway: Gateway) -> Any:
    return gateway.service.chain.w3.provider.ethereum_tester  # type: ignore[attr-defined]


def anchored_batch(gateway: Gateway) -> BatchInfo:
    """Capture the first step of the journey and anchor it; the anchored batch."""
    document = as_document(build_journey().steps[0].events)
    assert gateway.capture(API_MAKER, document).status_code == 202
    report = gateway.service.batcher.step(flush=True, reconcile=False)
    assert report.anchored == 1, report
    return only_batch(gateway)


def only_batch(gateway: Gateway) -> BatchInfo:
    with gateway.service.sessions() as session:
        (batch,) = [
            b
            for state in ("sealed", "sent", "anchored", "failed")
            for b in batches_in_state(session, state)
        ]
    return batch


def receipt_path(gateway: Gateway, root: bytes) -> str:
    """Where the receipt of the first event of the batch with ``root`` is asked for."""
    with gateway.service.sessions() as session:
        contents = get_batch_by_root(session, root)
    assert contents is not None
    return f"/events/{contents.events[0].event_id.split(';', 1)[1][:64]}/receipt"


def a_receipt(gateway: Gateway, root: bytes) -> Receipt:
    response = gateway.http.get(receipt_path(gateway, root), headers=gateway.regulator)
    assert response.status_code == 200, response.text
    return Receipt.from_json(response.json())


def block_hash(gateway: Gateway, number: int) -> str:
    return "0x" + bytes(gateway.service.chain.w3.eth.get_block(number)["hash"]).hex()


def metric(gateway: Gateway, name: str) -> float:
    text = gateway.http.get("/metrics").text
    (line,) = [x for x in text.splitlines() if x.startswith(f"provenance_gateway_{name} ")]
    return float(line.split()[1])


def test_an_anchor_is_recorded_with_its_block_hash_answers_200_and_is_rechecked_at_a_bounded_rate(
    gateway: Gateway,
) -> None:
    batch = anchored_batch(gateway)
    assert batch.tx_hash is not None and batch.block_number is not None
    assert batch.block_hash == block_hash(gateway, batch.block_number)
    answer = gateway.http.get(f"/anchors/{batch.tx_hash}", headers=gateway.regulator)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["status"], body["txHash"], body["blockHash"]) == (
        "current",
        batch.tx_hash,
        batch.block_hash,
    )
    assert body["previous"] == []
    unknown = gateway.http.get("/anchors/0x" + "ab" * 32, headers=gateway.regulator)
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert gateway.http.get("/anchors/0x12", headers=gateway.regulator).status_code == 422
    reconciler = gateway.service.batcher.reconciler
    assert reconciler.due()  # at most once per interval: the first pass after a start runs
    report = gateway.service.batcher.step(reconcile=True)
    assert report.reconciled is not None
    assert (report.reconciled.checked, report.reconciled.moved, report.reconciled.vanished) == (
        1,
        0,
        0,
    )
    assert not reconciler.due()
    assert gateway.service.batcher.step().reconciled is None


def test_an_anchor_a_reorganisation_took_away_is_anchored_again_and_the_old_answers_410(
    gateway: Gateway,
) -> None:
    chain = eth_tester_of(gateway)
    before = chain.take_snapshot()
    old = anchored_batch(gateway)
    assert old.root is not None and old.block_number is not None
    old_receipt = a_receipt(gateway, old.root)

    chain.revert_to_snapshot(before)  # the anchor's block is gone...
    chain.mine_blocks(3)  # ...and another history is longer
    assert gateway.service.ledger.get_anchor(old.root) is None

    report = gateway.service.batcher.step(reconcile=True)
    assert report.reconciled is not None and report.reconciled.vanished == 1
    assert only_batch(gateway).state == "sealed"
    waiting = gateway.http.get(receipt_path(gateway, old.root), headers=gateway.regulator)
    assert waiting.status_code == 409, waiting.text
    assert gateway.service.batcher.step().anchored == 1  # the next pass: a new transaction
    new = only_batch(gateway)
    assert (new.state, new.root) == ("anchored", old.root)
    assert new.tx_hash is not None and new.tx_hash != old.tx_hash
    assert new.block_number is not None
    assert new.block_hash == block_hash(gateway, new.block_number)
    assert_every_receipt_verifies(gateway, old.root)
    stale = verify_receipt(
        old_receipt, chain=gateway.service.chain, event_hasher=canonical_event_digest
    )
    assert not stale.valid

    gone = gateway.http.get(f"/anchors/{old.tx_hash}", headers=gateway.regulator)
    assert gone.status_code == 410, gone.text
    assert gone.headers["content-type"] == "application/problem+json"
    problem = gone.json()
    assert problem["type"].endswith("/anchor-replaced")
    assert (problem["outcome"], problem["txHash"], problem["blockHash"]) == (
        "vanished",
        old.tx_hash,
        old.block_hash,
    )
    assert problem["current"] == f"/anchors/{new.tx_hash}?block={new.block_number}"
    current = gateway.http.get(problem["current"], headers=gateway.regulator)
    assert current.status_code == 200, current.text
    assert [p["txHash"] for p in current.json()["previous"]] == [old.tx_hash]
    assert metric(gateway, "anchors_vanished_total") == 1
    assert metric(gateway, "reanchored_total") == 1
    assert metric(gateway, "anchors_moved_total") == 0


def test_an_anchor_re_mined_in_another_block_is_recorded_where_it_is_now(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same transaction, re-included after a reorganisation: the facts move with it, and a
    receipt naming the old block is recognisable (``?block=`` answers 410)."""
    w3 = gateway.service.chain.w3
    sent: list[bytes] = []
    send = w3.eth.send_raw_transaction

    def keep(raw: Any) -> Any:
        sent.append(bytes(raw))
        return send(raw)

    chain = eth_tester_of(gateway)
    before = chain.take_snapshot()
    monkeypatch.setattr(w3.eth, "send_raw_transaction", keep)
    old = anchored_batch(gateway)
    monkeypatch.undo()
    assert old.root is not None and old.block_number is not None and len(sent) == 1

    chain.revert_to_snapshot(before)
    chain.mine_blocks(1)
    w3.eth.send_raw_transaction(sent[0])  # re-included, one block later
    chain.mine_blocks(1)

    report = gateway.service.batcher.step(reconcile=True)
    assert report.reconciled is not None
    assert (report.reconciled.moved, report.reconciled.vanished, report.sent) == (1, 0, 0)
    moved = only_batch(gateway)
    assert (moved.state, moved.tx_hash) == ("anchored", old.tx_hash)
    assert moved.block_number == old.block_number + 1
    assert moved.block_hash == block_hash(gateway, moved.block_number)
    assert_every_receipt_verifies(gateway, old.root)

    path = f"/anchors/{old.tx_hash}"
    assert gateway.http.get(path, headers=gateway.regulator).status_code == 200
    named_old = gateway.http.get(f"{path}?block={old.block_number}", headers=gateway.regulator)
    assert named_old.status_code == 410, named_old.text
    assert named_old.json()["outcome"] == "moved"
    assert named_old.json()["current"] == f"{path}?block={moved.block_number}"
    assert metric(gateway, "anchors_moved_total") == 1
    assert metric(gateway, "anchors_vanished_total") == 0


def rpc(url: str, method: str, *params: Any) -> Any:
    answer = requests.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, timeout=30
    ).json()
    assert "error" not in answer, answer
    return answer["result"]


@pytest.mark.node
@pytest.mark.skipif(not available("anvil"), reason="anvil not installed (npm install)")
def test_on_anvil_an_anchor_reverted_away_is_anchored_again_and_its_new_receipts_verify(
    tmp_path: Path,
) -> None:
    """A real node: the anchor's block is reverted (evm_revert) and a longer chain mined; the
    reconciler sends the batch again, the new receipts verify against the node, and the old
    receipt's anchor answers 410 pointing to the new one."""
    with running_node("anvil") as node:
        settings = GatewaySettings(
            data_dir=tmp_path / "data",
            database_url=f"sqlite:///{tmp_path}/gateway.db",
            chain_url=node.url,
        ).allowing_development_password()
        service = GatewayService(settings)
        try:
            http = TestClient(create_app(service, run_batcher=False))
            regulator = {"Authorization": f"Bearer {service.regulator_api_key}"}
            registered = http.post(
                "/participants", json=API_MAKER.registration(), headers=regulator
            )
            assert registered.status_code == 201, registered.text
            gateway = Gateway(
                service,
                http,
                regulator,
                {API_MAKER.name: {"Authorization": f"Bearer {registered.json()['apiKey']}"}},
                {API_MAKER.name: registered.json()["address"]},
            )
            before = rpc(node.url, "evm_snapshot")
            old = anchored_batch(gateway)
            assert old.root is not None and old.block_number is not None
            old_receipt = a_receipt(gateway, old.root)

            assert rpc(node.url, "evm_revert", before) is True
            for _ in range(3):
                rpc(node.url, "evm_mine")
            report = service.batcher.step(reconcile=True)
            assert report.reconciled is not None and report.reconciled.vanished == 1
            assert service.batcher.step().anchored == 1
            new = only_batch(gateway)
            assert (new.state, new.root) == ("anchored", old.root)
            assert new.block_number is not None and new.block_number > old.block_number
            assert new.block_hash == block_hash(gateway, new.block_number)
            assert_every_receipt_verifies(gateway, old.root)
            stale = verify_receipt(
                old_receipt, chain=service.chain, event_hasher=canonical_event_digest
            )
            assert not stale.valid

            # on a chain with fees the new transaction differs; at zero gas price it could be the
            # very same transaction, re-sent: the receipt's block tells them apart either way
            path = f"/anchors/{old.tx_hash}?block={old.block_number}"
            gone = http.get(path, headers=regulator)
            assert gone.status_code == 410, gone.text
            assert gone.json()["current"] == f"/anchors/{new.tx_hash}?block={new.block_number}"
            assert http.get(gone.json()["current"], headers=regulator).status_code == 200
        finally:
            service.stop()
