"""Nonces of anchor transactions on a real node with zero gas price (anvil, base fee 0).

- A stuck anchor (dropped from the node's pool, nothing mined) is re-sent with the **same
  nonce**, never fee-bumped, and its batch ends anchored exactly once.
- Nonces come from the store's durable reservation, and a nonce reserved but never sent (the
  process stopped in between) is handed out again instead of leaving a gap.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from fastapi.testclient import TestClient

from devkit.nodes import available, running_node
from gateway.api.app import create_app
from gateway.service import GatewayService
from gateway.settings import GatewaySettings
from gateway.store.batches import BatchInfo, get_batch, next_nonce, reserve_nonce, seal_batches
from medledger.epcis.builders import as_document
from provenance.journey import API_MAKER, build_journey

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(not available("anvil"), reason="anvil not installed (npm install)"),
]


def rpc(url: str, method: str, *params: Any) -> Any:
    answer = requests.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, timeout=30
    ).json()
    assert "error" not in answer, answer
    return answer["result"]


@pytest.fixture
def zero_fee_gateway(tmp_path: Path) -> Iterator[tuple[GatewayService, TestClient, str, str]]:
    """A gateway (SQLite) on anvil with base fee 0, an API maker registered; node URL, key."""
    with running_node("anvil", ["--base-fee", "0", "--gas-price", "0"]) as node:
        settings = GatewaySettings(
            data_dir=tmp_path / "data",
            database_url=f"sqlite:///{tmp_path}/gateway.db",
            chain_url=node.url,
        ).allowing_development_password()
        service = GatewayService(settings)
        http = TestClient(create_app(service, run_batcher=False))
        body = API_MAKER.registration()
        response = http.post(
            "/participants",
            json=body,
            headers={"Authorization": f"Bearer {service.regulator_api_key}"},
        )
        assert response.status_code == 201, response.text
        try:
            yield service, http, node.url, response.json()["apiKey"]
        finally:
            service.stop()


def capture_one_batch(service: GatewayService, http: TestClient, key: str) -> BatchInfo:
    document = as_document(build_journey().steps[0].events)
    response = http.post("/capture", json=document, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 202, response.text
    with service.sessions() as session:
        (batch,) = seal_batches(session, max_events=1000, max_age_seconds=0)
    return batch


def test_a_dropped_anchor_is_resent_with_the_same_nonce_and_anchored_once(
    zero_fee_gateway: tuple[GatewayService, TestClient, str, str],
) -> None:
    service, http, url, key = zero_fee_gateway
    assert service.chain.fee_fields() == {"maxFeePerGas": 0, "maxPriorityFeePerGas": 0}
    batch = capture_one_batch(service, http, key)
    rpc(url, "evm_setAutomine", False)  # nothing is mined until we say so

    report = service.batcher.step()
    assert (report.sent, report.anchored) == (1, 0)
    with service.sessions() as session:
        sent = get_batch(session, batch.id)
        assert sent is not None and sent.state == "sent" and sent.nonce is not None
        assert sent.root is not None
        assert next_nonce(session, sent.participant) == sent.nonce + 1  # reserved
    address = sent.participant
    mined_before = int(rpc(url, "eth_getTransactionCount", address, "latest"), 16)
    assert sent.nonce == mined_before

    # The node loses the transaction (a restart, a full pool): it is unknown now.
    rpc(url, "anvil_dropTransaction", sent.tx_hash)
    assert rpc(url, "eth_getTransactionByHash", sent.tx_hash) is None

    # Before resend_after nothing happens; after it, the same anchor goes out with the same nonce.
    assert service.batcher.step().sent == 0
    assert rpc(url, "eth_getTransactionByHash", sent.tx_hash) is None
    assert sent.sent_at is not None
    later = sent.sent_at + timedelta(seconds=service.batcher.policy.resend_after_seconds + 1)
    service.batcher.step(now=later)
    with service.sessions() as session:
        resent = get_batch(session, batch.id)
    assert resent is not None and resent.state == "sent"
    assert resent.nonce == sent.nonce and resent.attempts == 2
    pending = rpc(url, "eth_getTransactionByHash", resent.tx_hash)
    assert pending is not None and int(pending["nonce"], 16) == sent.nonce
    assert int(pending["maxFeePerGas"], 16) == 0  # re-sent as it was: no fee bump

    rpc(url, "evm_mine")
    report = service.batcher.step()
    assert report.anchored == 1
    with service.sessions() as session:
        anchored = get_batch(session, batch.id)
    assert anchored is not None and anchored.state == "anchored"
    on_chain = service.ledger.get_anchor(sent.root)
    assert on_chain is not None and on_chain.block_number == anchored.block_number
    # exactly one transaction of the participant was mined: one anchor, no second attempt
    assert int(rpc(url, "eth_getTransactionCount", address, "latest"), 16) == mined_before + 1
    assert service.batcher.step().anchored == 0


def test_a_nonce_reserved_but_never_sent_is_used_again(
    zero_fee_gateway: tuple[GatewayService, TestClient, str, str],
) -> None:
    service, http, url, key = zero_fee_gateway
    batch = capture_one_batch(service, http, key)
    with service.sessions() as session:
        participant = get_batch(session, batch.id)
        assert participant is not None
        address = participant.participant
        chain_next = int(rpc(url, "eth_getTransactionCount", address, "pending"), 16)
        # the process stopped right after reserving a nonce, before sending anything
        assert reserve_nonce(session, address, chain_next) == chain_next

    report = service.batcher.step()
    assert (report.sent, report.anchored) == (1, 1)  # automine: mined at once, no gap
    with service.sessions() as session:
        anchored = get_batch(session, batch.id)
        assert anchored is not None and anchored.state == "anchored"
        assert anchored.nonce == chain_next
        assert next_nonce(session, address) == chain_next + 1
