"""Serving only what verifies: an event edited in the database after anchoring gets no receipt.

Each test anchors one batch (the API maker's first steps), edits a stored event behind the
gateway's back (its JSON, its hash or its salt) and asks for receipts, the event and the batch.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from chain.verification import verify_receipt
from devkit.postgres import PG_URL, fresh_database, postgres_answers
from gateway.api.app import create_app
from gateway.integrity import EVENT_ALTERED, PROOF_MISMATCH, ROOT_MISMATCH
from gateway.service import GatewayService
from gateway.settings import GatewaySettings
from medledger.epcis.builders import as_document
from medledger.formats.receipt import Receipt
from provenance.journey import API_MAKER, MANUFACTURER, build_journey
from provenance.verify import canonical_event_digest
from tests.gateway.conftest import Gateway

PROBLEM = "application/problem+json"


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """SQLite unless a test asks for PostgreSQL (one does): the checks are Python, not SQL."""
    if getattr(request, "param", "sqlite") == "sqlite":
        yield f"sqlite:///{tmp_path}/gateway.db"
        return
    if not postgres_answers():
        pytest.skip(f"PostgreSQL does not answer at {PG_URL}")
    with fresh_database(prefix="gateway_test") as url:
        yield url


@pytest.fixture
def gateway(database_url: str, tmp_path: Path) -> Iterator[Gateway]:
    """A gateway with the API maker and its customer only (every actor: twice the setup)."""
    settings = GatewaySettings(data_dir=tmp_path / "data", database_url=database_url)
    service = GatewayService(settings.allowing_development_password())
    try:
        http = TestClient(create_app(service, run_batcher=False))
        regulator = {"Authorization": f"Bearer {service.regulator_api_key}"}
        keys, addresses = {}, {}
        for actor in (API_MAKER, MANUFACTURER):
            response = http.post("/participants", json=actor.registration(), headers=regulator)
            assert response.status_code == 201, response.text
            keys[actor.name] = {"Authorization": f"Bearer {response.json()['apiKey']}"}
            addresses[actor.name] = response.json()["address"]
        yield Gateway(service, http, regulator, keys, addresses)
    finally:
        service.stop()


@dataclass
class Anchored:
    gateway: Gateway
    event_ids: list[str]
    root: str

    def get(self, path: str) -> Any:
        return self.gateway.http.get(path, headers=self.gateway.regulator)

    def receipt(self, event_id: str) -> Any:
        return self.get(f"/events/{hex_id(event_id)}/receipt")

    def batch(self) -> Any:
        return self.get(f"/batches/{self.root}")

    def edit(self, event_id: str, column: str, value: Any) -> None:
        with self.gateway.service.engine.begin() as conn:
            conn.execute(
                text(f"UPDATE events SET {column} = :value WHERE event_id = :id"),
                {"value": value, "id": event_id},
            )

    def edit_json(self, event_id: str) -> None:
        with self.gateway.service.engine.connect() as conn:
            raw = conn.execute(
                text("SELECT raw FROM events WHERE event_id = :id"), {"id": event_id}
            ).scalar_one()
        event = json.loads(raw)
        event["bizLocation"] = {"id": "urn:epc:id:sgln:4700789.00000.9"}  # somewhere else
        self.edit(event_id, "raw", json.dumps(event))

    def integrity_failures(self, rule: str) -> float:
        for line in self.get("/metrics").text.splitlines():
            prefix = f'provenance_gateway_integrity_failures_total{{rule="{rule}"}} '
            if line.startswith(prefix):
                return float(line.removeprefix(prefix))
        raise AssertionError(f"no integrity_failures_total for {rule}")


def hex_id(event_id: str) -> str:
    return event_id.split(";", 1)[1][:64]


def anchor_one_batch(gateway: Gateway) -> Anchored:
    journey = build_journey()
    events = [e for step in journey.steps if step.actor == API_MAKER for e in step.events]
    accepted = gateway.capture(API_MAKER, as_document(events))
    assert accepted.status_code == 202, accepted.text
    gateway.anchor_all()
    event_ids = accepted.json()["eventIDs"]
    assert len(event_ids) >= 2
    with gateway.service.engine.connect() as conn:  # not by a receipt: that keeps the tree
        root = conn.execute(
            text(
                "SELECT b.root FROM batches b JOIN events e ON e.batch_id = b.id "
                "WHERE e.event_id = :id AND b.state = 'anchored'"
            ),
            {"id": event_ids[0]},
        ).scalar_one()
    return Anchored(gateway, event_ids, "0x" + bytes(root).hex())


@pytest.fixture
def anchored(gateway: Gateway) -> Anchored:
    return anchor_one_batch(gateway)


def assert_integrity_problem(response: Any, rule: str, root: str) -> dict[str, Any]:
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == PROBLEM
    problem: dict[str, Any] = response.json()
    assert problem["type"].endswith("/problems/integrity")
    assert problem["rule"] == rule
    assert problem["root"] == root
    return problem


def test_an_event_edited_after_anchoring_is_refused_and_raises_the_alarm(
    anchored: Anchored, caplog: pytest.LogCaptureFixture
) -> None:
    altered, untouched = anchored.event_ids[0], anchored.event_ids[1]
    assert anchored.get("/readyz").json()["status"] == "ready"
    anchored.edit_json(altered)
    with caplog.at_level(logging.ERROR, logger="provenance.gateway.integrity"):
        for _ in range(3):  # asked again and again: one log line, three refusals
            problem = assert_integrity_problem(
                anchored.receipt(altered), EVENT_ALTERED, anchored.root
            )
            assert problem["event_ids"] == [altered]
            assert altered in problem["detail"]
    assert [altered in r.getMessage() for r in caplog.records] == [True]
    assert anchored.integrity_failures(EVENT_ALTERED) == 3

    event = anchored.get(f"/events/{hex_id(altered)}")  # the event alone: its id is its hash
    assert event.status_code == 409 and event.json()["event_ids"] == [altered]
    batch = assert_integrity_problem(anchored.batch(), EVENT_ALTERED, anchored.root)
    assert batch["event_ids"] == [altered]
    assert anchored.integrity_failures(EVENT_ALTERED) == 5

    readiness = anchored.get("/readyz")
    assert readiness.status_code == 200  # degraded, not out of rotation (docs/operations.md)
    body = readiness.json()
    assert body["status"] == "degraded" and body["degraded"] == ["integrity"]
    check = next(c for c in body["checks"] if c["name"] == "integrity")
    assert check["status"] == "failing" and check["evidence"]["events"] == [altered]
    assert "provenance_gateway_integrity_altered_events 1.0" in anchored.get("/metrics").text

    # Its batch mates still verify: their receipts are served, and they verify.
    response = anchored.receipt(untouched)
    assert response.status_code == 200, response.text
    verdict = verify_receipt(
        Receipt.from_json(response.json()),
        chain=anchored.gateway.service.chain,
        event_hasher=canonical_event_digest,
    )
    assert verdict.valid, verdict.failures


def test_a_restored_event_is_served_again_and_leaves_the_alarm(anchored: Anchored) -> None:
    event_id = anchored.event_ids[0]
    with anchored.gateway.service.engine.connect() as conn:
        original = conn.execute(
            text("SELECT raw FROM events WHERE event_id = :id"), {"id": event_id}
        ).scalar_one()
    anchored.edit_json(event_id)
    assert anchored.receipt(event_id).status_code == 409
    assert anchored.get("/readyz").json()["status"] == "degraded"
    anchored.edit(event_id, "raw", original)
    assert anchored.receipt(event_id).status_code == 200
    assert anchored.batch().status_code == 200
    assert anchored.get("/readyz").json()["status"] == "ready"


def test_an_edited_event_hash_is_named(anchored: Anchored) -> None:
    event_id = anchored.event_ids[0]
    anchored.edit(event_id, "event_hash", bytes(32))
    problem = assert_integrity_problem(anchored.receipt(event_id), EVENT_ALTERED, anchored.root)
    assert problem["event_ids"] == [event_id]
    assert assert_integrity_problem(anchored.batch(), EVENT_ALTERED, anchored.root)[
        "event_ids"
    ] == [event_id]


def test_an_edited_salt_leaves_no_receipt_of_its_batch_provable(anchored: Anchored) -> None:
    """The tree rebuilt from the stored values no longer has the anchored root: no proof built
    from it would verify, so every receipt of the batch is refused (and the batch itself)."""
    edited, other = anchored.event_ids[0], anchored.event_ids[1]
    anchored.edit(edited, "salt", bytes(32))
    for event_id in (edited, other):
        problem = assert_integrity_problem(anchored.receipt(event_id), ROOT_MISMATCH, anchored.root)
        assert problem["event_ids"] == [event_id]
        assert problem["computed_root"] not in (None, anchored.root)
    assert_integrity_problem(anchored.batch(), ROOT_MISMATCH, anchored.root)
    check = next(c for c in anchored.get("/readyz").json()["checks"] if c["name"] == "integrity")
    assert check["evidence"]["roots"] == [anchored.root]
    assert anchored.integrity_failures(ROOT_MISMATCH) == 3


def test_a_salt_edited_after_the_batch_tree_was_built_refuses_that_event_only(
    anchored: Anchored,
) -> None:
    """A tree built before the edit (kept for later receipts) still proves the untouched events
    under the anchored root; the edited event's leaf is not in it."""
    edited, other = anchored.event_ids[0], anchored.event_ids[1]
    assert anchored.receipt(other).status_code == 200  # builds and keeps the batch's tree
    anchored.edit(edited, "salt", bytes(32))
    problem = assert_integrity_problem(anchored.receipt(edited), PROOF_MISMATCH, anchored.root)
    assert problem["event_ids"] == [edited]
    assert anchored.receipt(other).status_code == 200


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_on_postgresql_an_edited_event_is_refused(anchored: Anchored) -> None:
    anchored.edit_json(anchored.event_ids[0])
    assert_integrity_problem(anchored.receipt(anchored.event_ids[0]), EVENT_ALTERED, anchored.root)
    assert_integrity_problem(anchored.batch(), EVENT_ALTERED, anchored.root)
    assert anchored.receipt(anchored.event_ids[1]).status_code == 200
