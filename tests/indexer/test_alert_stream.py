"""The alert subscription (``GET /alerts/stream`` upgraded to a WebSocket): a regulator
subscribed to ``shortage`` alerts receives the shortage when the region's supply falls under
the threshold and its withdrawal when a delivery clears it (again after a rollback past the
clearing re-opens it, and again once the delivery is read anew); an alert that existed before the
connection is not sent; a revoked key ends the stream; refusals are the HTTP routes'
problem+json before the handshake. SQLite and PostgreSQL (the story of test_shortage.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from indexer.api.app import create_app
from indexer.chainlogs import BlockHeader
from indexer.service import IndexerService
from indexer.store import writes
from indexer.store.models import BlockRow, ShortageRow, first_sequence_of_block
from medledger.epcis import builders as epcis
from provenance.journey import DISTRIBUTOR, PHARMACY, Journey, build_journey
from tests.indexer.test_masterdata import declare
from tests.indexer.test_shortage import DAY0, SETTINGS, SITES, at, site, step
from tests.support.network import Network, start_network


@dataclass
class World:
    network: Network
    service: IndexerService
    http: TestClient
    journey: Journey
    keys: dict[str, dict[str, str]]

    def dispense_days(self, days: range) -> None:
        """The pharmacy dispenses two packs a day on each of ``days`` (one block each)."""
        for day in days:
            packs = self.journey.packs[2 * day - 1 : 2 * day + 1]
            step(self.network, self.service, PHARMACY, [epcis.dispense(PHARMACY, at(day), packs)])

    def deliver(self) -> None:
        """A second case shipped to the pharmacy and received on day 5."""
        cases = sorted(
            {e["parentID"] for s in self.journey.steps for e in s.events if "parentID" in e}
        )
        case = [cases[1]]
        ship = epcis.ship(DISTRIBUTOR, PHARMACY, at(5, 9), epcs=case)
        step(self.network, self.service, DISTRIBUTOR, [ship])
        receive = epcis.receive(DISTRIBUTOR, PHARMACY, at(5, 11), epcs=case)
        step(self.network, self.service, PHARMACY, [receive])


@pytest.fixture
def world(index_url: str, tmp_path: Path) -> Iterator[World]:
    network = start_network(tmp_path / "gateway")
    service = network.indexer(
        index_url, tmp_path / "indexer", subscription_poll_seconds=0.05, **SETTINGS
    )
    try:
        for actor in SITES:
            declare(network, actor, [site(actor)])
        network.anchor()
        journey = build_journey(100, packs_per_case=10, start=DAY0 - timedelta(days=1))
        for s in journey.steps:
            step(network, service, s.actor, s.events)
        with service.write_sessions() as session, session.begin():
            token = service.api_keys.issue_key(session, "regulator", "regulator").token
        keys = {"regulator": {"Authorization": f"Bearer {token}"}}
        with TestClient(create_app(service, follow=False)) as http:
            yield World(network, service, http, journey, keys)
    finally:
        service.stop()
        network.gateway.stop()


def test_a_shortage_is_sent_when_raised_and_withdrawn_when_a_delivery_clears_it(
    world: World,
) -> None:
    with world.http.websocket_connect(
        "/alerts/stream?kind=shortage", headers=world.keys["regulator"]
    ) as ws:
        world.dispense_days(range(1, 5))  # under the threshold on day 4
        raised = ws.receive_json()
        assert raised["type"] == "raised"
        alert = raised["alert"]
        assert alert["kind"] == "shortage" and alert["severity"] == "warning"
        assert alert["evidence"]["region"] == "KG-GB"
        assert alert["evidence"]["asOf"] == "2026-11-06"
        listed = world.http.get(
            "/alerts", params={"kind": "shortage"}, headers=world.keys["regulator"]
        )
        assert [a["key"] for a in listed.json()["items"]] == [alert["key"]]

        world.deliver()
        withdrawn = ws.receive_json()
        assert withdrawn == {"type": "withdrawn", "key": alert["key"], "kind": "shortage"}

        roll_back_past_the_clearing(world.service)  # the delivery undone: short again
        assert ws.receive_json() == raised
        world.service.catch_up()  # the delivery read again: cleared again
        assert ws.receive_json() == withdrawn


def roll_back_past_the_clearing(service: IndexerService) -> None:
    """The index rolled back to the block before the one that cleared the shortage, as the
    follower does in a reorganisation (test_shortage.py)."""
    with service.sessions() as session:
        (row,) = session.scalars(select(ShortageRow))
        assert row.cleared_block is not None
        ancestor = session.scalars(
            select(BlockRow)
            .where(BlockRow.number < row.cleared_block)
            .order_by(BlockRow.number.desc())
        ).first()
        assert ancestor is not None
        header = BlockHeader(
            ancestor.number, ancestor.hash, ancestor.parent_hash, ancestor.timestamp
        )
        writes.rollback_to(session, header, first_sequence_of_block(header.number + 1))
        session.commit()
    service.follower.loader.forget()


def test_an_alert_raised_before_the_connection_is_not_sent_and_a_revoked_key_ends_it(
    world: World,
) -> None:
    world.dispense_days(range(1, 5))  # the shortage is open before anyone subscribes
    with world.http.websocket_connect(
        "/alerts/stream?kind=shortage", headers=world.keys["regulator"]
    ) as ws:
        world.deliver()  # it clears: not one this stream sent, so nothing is said
        revoke(world, "regulator")
        with pytest.raises(WebSocketDisconnect) as ended:
            ws.receive_json()  # the close comes first: no frame was due
        assert ended.value.code == 1000


def revoke(world: World, role: str) -> None:
    token = world.keys[role]["Authorization"].removeprefix("Bearer ")
    with world.service.write_sessions() as session:
        found = world.service.api_keys.authenticate(session, token)
        assert found is not None
        world.service.api_keys.revoke(session, found.prefix)


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """An indexer of no events, a regulator's key and a pharmacy's participant key."""
    tmp = tmp_path_factory.mktemp("alert-stream")
    network = start_network(tmp / "gateway")
    service = network.indexer(f"sqlite:///{tmp}/indexer.db", tmp / "indexer")
    try:
        tokens = {}
        for role, participant in (
            ("regulator", None),
            ("participant", network.addresses[PHARMACY.name]),
        ):
            with service.write_sessions() as session, session.begin():
                issued = service.api_keys.issue_key(session, role, role, participant=participant)
                tokens[role] = issued.token
        with TestClient(create_app(service, follow=False)) as http:
            yield http, tokens
    finally:
        service.stop()
        network.gateway.stop()


@pytest.mark.parametrize(
    ("path", "reader", "status", "pointer"),
    [
        ("/alerts/stream", None, 401, None),
        ("/alerts/stream", "participant", 403, None),
        ("/alerts/stream?kind=shortage&kind=clone", "regulator", 422, "kind"),
        ("/alerts/stream?since=0", "regulator", 422, "since"),
        ("/alerts/stream?kind=famine", "regulator", 422, "kind"),
        ("/alerts/stream?severity=grave", "regulator", 422, "severity"),
        ("/alerts/stream?region=Bishkek", "regulator", 422, "region"),
    ],
)
def test_a_refused_stream_is_the_problem_the_http_routes_give(
    bare: tuple[TestClient, dict[str, str]],
    path: str,
    reader: str | None,
    status: int,
    pointer: str | None,
) -> None:
    http, tokens = bare
    headers = {"Authorization": f"Bearer {tokens[reader]}"} if reader else {}
    with pytest.raises(WebSocketDenialResponse) as refused:
        with http.websocket_connect(path, headers=headers):
            pass
    assert refused.value.status_code == status
    assert refused.value.headers["content-type"].startswith("application/problem+json")
    if pointer is not None:
        assert refused.value.json()["pointer"] == pointer
