"""The indexer's operations endpoints: /readyz (database, chain, contracts, lag), /metrics,
request ids; no key needed for any of them."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine

from indexer.api.app import create_app
from indexer.service import IndexerService
from provenance.journey import Journey
from tests.indexer.conftest import IndexerFactory
from tests.support.network import Network

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
UNREACHABLE_DATABASE = "postgresql+psycopg://nobody@127.0.0.1:1/nothing?connect_timeout=2"


@pytest.fixture(scope="module")
def network(module_network: Network) -> Network:
    """One gateway for the module: its tests only read the journey, with indexers of their own."""
    return module_network


@pytest.fixture(scope="module")
def journey(network: Network) -> Journey:
    """The journey, anchored once for the module."""
    return network.run_journey()


def client(service: IndexerService) -> TestClient:
    return TestClient(create_app(service, follow=False))


def samples(http: TestClient) -> Samples:
    response = http.get("/metrics")
    assert response.status_code == 200
    found: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def check_status(body: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["status"] for c in body["checks"]}


def test_readyz_is_200_when_caught_up(indexed: IndexerService) -> None:
    response = client(indexed).get("/readyz")
    assert response.status_code == 200, response.text
    assert check_status(response.json()) == {
        "database": "ok",
        "chain": "ok",
        "contracts": "ok",
        "lag": "ok",
    }


def test_readyz_fails_on_lag_until_the_index_catches_up(
    make_indexer: IndexerFactory, journey: Journey
) -> None:
    service = make_indexer(ready_max_lag_blocks=2)
    http = client(service)
    behind = http.get("/readyz")
    assert behind.status_code == 503
    assert behind.headers["content-type"].startswith("application/problem+json")
    body = behind.json()
    assert body["failing"] == ["lag"]
    lag = next(c for c in body["checks"] if c["name"] == "lag")
    assert lag["detail"].endswith("blocks behind the head (at most 2)")
    service.catch_up()
    assert http.get("/readyz").status_code == 200


def test_readyz_is_503_while_the_database_is_unreachable(indexed: IndexerService) -> None:
    http = client(indexed)
    engine, sessions = indexed.engine, indexed.sessions
    broken = create_engine(UNREACHABLE_DATABASE)
    indexed.engine = broken
    indexed.sessions.configure(bind=broken)
    try:
        response = http.get("/readyz")
        assert response.status_code == 503
        # The lag needs the checkpoint, which is in the database too.
        assert set(response.json()["failing"]) == {"database", "lag"}
        assert http.get("/healthz").status_code == 200
        assert http.get("/metrics").status_code == 200  # a scrape still answers
    finally:
        indexed.engine = engine
        sessions.configure(bind=engine)
        broken.dispose()
    assert http.get("/readyz").status_code == 200


def test_metrics_report_lag_events_anchors_alerts_and_query_latency(
    make_indexer: IndexerFactory, journey: Journey
) -> None:
    service = make_indexer()
    http = client(service)
    before = samples(http)
    assert value(before, "provenance_indexer_events_indexed") == 0
    assert value(before, "provenance_indexer_lag_blocks") > 0

    service.catch_up()
    found = samples(http)
    events = sum(len(step.events) for step in journey.steps)
    assert value(found, "provenance_indexer_events_indexed") == events
    assert value(found, "provenance_indexer_anchors", status="indexed") == len(journey.steps)
    assert value(found, "provenance_indexer_anchors", status="rejected") == 0
    assert value(found, "provenance_indexer_integrity_alerts") == 0
    assert value(found, "provenance_indexer_held_back_events") == 0
    assert value(found, "provenance_indexer_lag_blocks") == 0
    assert value(found, "provenance_indexer_checkpoint_block") == service.chain.block_number

    key = service.bootstrap_key_file
    assert key is not None
    headers = {"Authorization": f"Bearer {key.read_text(encoding='utf-8').strip()}"}
    trace = http.get(f"/trace/{journey.dispensed_pack}", headers=headers)
    assert trace.status_code == 200, trace.text
    found = samples(http)
    assert (
        value(
            found,
            "provenance_indexer_http_request_duration_seconds_count",
            method="GET",
            route="/trace/{id:path}",
            status="200",
        )
        == 1
    )


def test_operations_need_no_key_and_carry_request_ids(indexed: IndexerService) -> None:
    http = client(indexed)
    for path in ("/healthz", "/readyz", "/metrics"):
        response = http.get(path, headers={"X-Request-ID": "probe-1"})
        assert response.status_code == 200, path
        assert response.headers["X-Request-ID"] == "probe-1"
    assert len(http.get("/anchors").headers["X-Request-ID"]) == 32  # 401, still with an id
