"""The gateway's operations endpoints: /readyz (database, chain, contracts), /metrics, request ids.

The chain check is tested against a real anvil that is stopped and started again on the same
port from its saved state (``--state``), so the contracts are where the deployment says.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine

from devkit.nodes import _wait_until_ready, available, free_port, node_command
from gateway.api.app import create_app
from gateway.service import GatewayService
from gateway.settings import GatewaySettings
from medledger.epcis.builders import as_document
from provenance.journey import build_journey
from tests.gateway.conftest import Gateway, GatewayFactory

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
UNREACHABLE_DATABASE = "postgresql+psycopg://nobody@127.0.0.1:1/nothing?connect_timeout=2"


def samples(http: TestClient) -> Samples:
    """Every sample of /metrics: (name, sorted labels) -> value."""
    response = http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def check_status(body: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["status"] for c in body["checks"]}


# --- readiness -----------------------------------------------------------------------------


def test_readyz_is_200_listing_database_chain_and_contracts(gateway: Gateway) -> None:
    response = gateway.http.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert check_status(body) == {
        "database": "ok",
        "chain": "ok",
        "contracts": "ok",
        "integrity": "ok",
    }
    assert gateway.http.get("/healthz").json() == {"status": "ok"}


def test_readyz_is_503_while_the_database_is_unreachable_then_200_again(
    gateway: Gateway,
) -> None:
    service = gateway.service
    engine = service.engine
    broken = create_engine(UNREACHABLE_DATABASE)
    service.engine = broken
    try:
        response = gateway.http.get("/readyz")
        assert response.status_code == 503
        assert response.headers["content-type"].startswith("application/problem+json")
        body = response.json()
        assert body["status"] == 503 and body["failing"] == ["database"]
        assert check_status(body) == {
            "database": "failing",
            "chain": "ok",
            "contracts": "ok",
            "integrity": "ok",
        }
        assert gateway.http.get("/healthz").status_code == 200  # liveness is not readiness
    finally:
        service.engine = engine
        broken.dispose()
    assert gateway.http.get("/readyz").status_code == 200


def test_readyz_is_503_when_the_contracts_are_not_at_the_deployments_addresses(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    deployment = gateway.service.ledger.deployment
    nowhere = replace(deployment, recall_registry="0x" + "11" * 20)
    monkeypatch.setattr(gateway.service.ledger, "deployment", nowhere)
    response = gateway.http.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["contracts"]
    assert (
        "recall_registry" in next(c for c in body["checks"] if c["name"] == "contracts")["detail"]
    )


# --- metrics -------------------------------------------------------------------------------


def test_metrics_count_captures_rejections_batches_latency_and_gas(gateway: Gateway) -> None:
    journey = build_journey(4, packs_per_case=2)
    step = journey.steps[0]
    before = samples(gateway.http)
    assert value(before, "provenance_gateway_events_accepted_total") == 0

    assert gateway.capture(step.actor, as_document(step.events)).status_code == 202
    assert gateway.capture(step.actor, as_document(step.events)).status_code == 202  # again
    rejected = gateway.capture(step.actor, {"type": "EPCISDocument"})
    assert rejected.status_code == 400
    rule = rejected.json()["rule"]
    bad_json = gateway.http.post("/capture", content=b"{", headers={**gateway.headers(step.actor)})
    assert bad_json.status_code == 400

    found = samples(gateway.http)
    assert value(found, "provenance_gateway_events_accepted_total") == len(step.events)
    assert value(found, "provenance_gateway_event_duplicates_total") == len(step.events)
    assert value(found, "provenance_gateway_documents_rejected_total", rule=rule) == 1
    assert value(found, "provenance_gateway_documents_rejected_total", rule="document.json") == 1
    assert value(found, "provenance_gateway_unanchored_events") == len(step.events)
    assert value(found, "provenance_gateway_batches", state="anchored") == 0

    gateway.anchor_all()
    found = samples(gateway.http)
    assert value(found, "provenance_gateway_batches", state="anchored") == 1
    assert value(found, "provenance_gateway_unanchored_events") == 0
    assert value(found, "provenance_gateway_anchor_latency_seconds_count") == 1
    assert value(found, "provenance_gateway_anchor_latency_seconds_bucket", le="+Inf") == 1
    assert value(found, "provenance_gateway_anchor_latency_seconds_sum") >= 0
    assert value(found, "provenance_gateway_anchors_gas_accounted_total") == 1
    assert value(found, "provenance_gateway_anchor_gas_used_total") > 21_000
    # The gas of a batch is counted once, however often the gateway is scraped.
    again = samples(gateway.http)
    assert value(again, "provenance_gateway_anchor_gas_used_total") == value(
        found, "provenance_gateway_anchor_gas_used_total"
    )
    # Request latency, by route template (not by raw path).
    assert (
        value(
            found,
            "provenance_gateway_http_request_duration_seconds_count",
            method="POST",
            route="/capture",
            status="202",
        )
        == 2
    )


def test_every_app_has_its_own_registry(make_gateway: GatewayFactory) -> None:
    gateway = make_gateway()
    other = TestClient(create_app(gateway.service, run_batcher=False))  # no duplicate error
    gateway.http.get("/healthz")
    mine = samples(gateway.http)
    theirs = samples(other)
    key = ("provenance_gateway_http_request_duration_seconds_count", "/healthz")
    assert any(k[0] == key[0] and ("route", key[1]) in k[1] for k in mine)
    assert not any(k[0] == key[0] and ("route", key[1]) in k[1] for k in theirs)


# --- request ids ---------------------------------------------------------------------------


def test_request_ids_are_echoed_or_made(gateway: Gateway) -> None:
    given = gateway.http.get("/healthz", headers={"X-Request-ID": "trace-42.a:b"})
    assert given.headers["X-Request-ID"] == "trace-42.a:b"
    made = gateway.http.get("/healthz")
    assert len(made.headers["X-Request-ID"]) == 32
    forged = gateway.http.get("/healthz", headers={"X-Request-ID": 'x" level=ERROR'})
    assert forged.headers["X-Request-ID"] != 'x" level=ERROR'
    missing = gateway.http.get("/nowhere")
    assert missing.status_code == 404 and missing.headers["X-Request-ID"]


# --- a real node stopped and started again -------------------------------------------------


@contextmanager
def anvil_on(port: int, state: Path) -> Iterator[None]:
    """anvil on ``port``, loading ``state`` if it exists and saving it there when stopped."""
    process = subprocess.Popen(
        node_command("anvil", port, ["--state", str(state)]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        _wait_until_ready(f"http://127.0.0.1:{port}", process)
        yield
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # anvil writes its state on the way out
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if process.stderr:
            process.stderr.close()


@pytest.mark.node
def test_readyz_follows_the_node_down_and_up_again(tmp_path: Path) -> None:
    if not available("anvil"):
        pytest.skip("anvil is not installed in node_modules (run `make deps`)")
    port = free_port()
    state = tmp_path / "anvil-state.json"
    settings = GatewaySettings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path}/gateway.db",
        chain_url=f"http://127.0.0.1:{port}",
    ).allowing_development_password()
    with anvil_on(port, state):
        service = GatewayService(settings)
        http = TestClient(create_app(service, run_batcher=False))
        ready = http.get("/readyz")
        assert ready.status_code == 200, ready.text
    try:
        assert state.exists()
        down = http.get("/readyz")
        assert down.status_code == 503
        body = down.json()
        assert check_status(body) == {
            "database": "ok",
            "chain": "failing",
            "contracts": "failing",
            "integrity": "ok",
        }
        assert http.get("/healthz").status_code == 200
        with anvil_on(port, state):
            again = http.get("/readyz")
            assert again.status_code == 200, again.text
    finally:
        service.stop()
