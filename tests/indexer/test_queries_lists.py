"""Specifications of stock, recall scope, recalls, alerts, participants and anchors against the
indexed journey (both databases), with the finished lot registered and recalled on chain."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway.store.participants import get_participant
from indexer.api.schemas import RecallScope
from indexer.queries.alerts import list_alerts
from indexer.queries.anchors import list_anchors
from indexer.queries.pages import Page
from indexer.queries.participants import list_participants
from indexer.queries.recalls import list_recalls, scope, scope_body
from indexer.queries.stock import stock
from indexer.service import IndexerService
from indexer.store import writes
from indexer.store.models import ItemVersionRow
from medledger.errors import NotFoundError, ValidationError
from provenance.journey import (
    ACTORS,
    API_MAKER,
    DISTRIBUTOR,
    FINISHED_LOT,
    MANUFACTURER,
    PHARMACY,
    Journey,
)
from tests.support.network import Network, start_network

FINISHED_GTIN = "04700123123452"
RECALL_REASON = 3


@dataclass
class World:
    network: Network
    journey: Journey
    indexed: IndexerService

    def session(self) -> Session:
        return self.indexed.sessions()

    def address(self, actor_name: str) -> str:
        return self.network.addresses[actor_name]


def recall_finished_lot(network: Network) -> None:
    """The manufacturer registers the finished lot; the regulator recalls it."""
    gateway = network.gateway
    maker = network.addresses[MANUFACTURER.name]
    with gateway.sessions() as session:
        record = get_participant(session, maker)
    assert record is not None
    account = gateway.keys.account(maker, record.keystore_path)
    gateway.ledger.register_batch(account, int(FINISHED_GTIN), FINISHED_LOT, 1000)
    gateway.ledger.recall(gateway.regulator, int(FINISHED_GTIN), FINISHED_LOT, RECALL_REASON)


@pytest.fixture(scope="module")
def world(module_index_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The ``indexed`` journey (100 packs in cases of 25) plus a recall, once per module."""
    tmp = tmp_path_factory.mktemp("world")
    network = start_network(tmp / "gateway")
    try:
        journey = network.run_journey()
        recall_finished_lot(network)
        yield from _indexed(network, journey, module_index_url, tmp)
    finally:
        network.gateway.stop()


def _indexed(network: Network, journey: Journey, url: str, tmp: Path) -> Iterator[World]:
    service = network.indexer(url, tmp / "indexer")
    try:
        service.catch_up()
        with service.sessions() as session:  # two alerts (the journey raises none)
            for n, severity in enumerate(("warning", "critical")):
                writes.add_alert(
                    session,
                    kind="event-time",
                    severity=severity,
                    block_number=n + 1,
                    subject=journey.packs[n] if n == 0 else None,
                    message=f"alert {n}",
                    evidence={"n": n},
                    key_parts=("test", str(n)),
                )
            session.commit()
        yield World(network, journey, service)
    finally:
        service.stop()


def walk(fetch: Callable[[str | None], Page]) -> list[dict[str, Any]]:
    """Every item of a list, page by page."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(10_000):
        page = fetch(cursor)
        items.extend(page.items)
        if page.next is None:
            return items
        cursor = page.next
    raise AssertionError("the pages never end")


def test_stock_counts_live_items_by_holder_and_lot_and_api_kilograms(world: World) -> None:
    distributor = world.address(DISTRIBUTOR.name)
    pharmacy = world.address(PHARMACY.name)
    with world.session() as session:
        everything = stock(session)
        packs = {
            (i["holder"], i["status"]): i["count"]
            for i in everything["items"]
            if i["gtin"] == FINISHED_GTIN
        }
        assert packs == {(distributor, "active"): 75, (pharmacy, "active"): 24}
        cases = {(i["holder"], i["count"]) for i in everything["items"] if i["gtin"] is None}
        assert cases == {(distributor, 3), (pharmacy, 1)}
        [api] = everything["holdings"]
        assert (api["holder"], api["quantity"], api["uom"], api["status"]) == (
            world.address(MANUFACTURER.name),
            "37.5",
            "KGM",
            "active",
        )
        assert everything["participants"][pharmacy]["gln"] == PHARMACY.gln
        mine = stock(session, participant=pharmacy, gtin=FINISHED_GTIN, lot=FINISHED_LOT)
        assert [(i["holder"], i["count"]) for i in mine["items"]] == [(pharmacy, 24)]
        assert mine["holdings"] == []
        assert stock(session, gtin="00000000000000")["items"] == []


def test_recall_scope_lists_every_pack_of_the_lot_with_its_holder(world: World) -> None:
    with world.session() as session:
        found = scope(session, FINISHED_GTIN, FINISHED_LOT, limit=10_000)
    assert found.next is None
    assert len(found.items) == 100
    assert {i["identifier"].rsplit("/", 1)[1] for i in found.items} == {
        p.rsplit(".", 1)[1] for p in world.journey.packs
    }
    assert all(i["holder"] for i in found.items)
    extra = found.extra
    assert extra["total"] == 100
    counts = {(s["holder"], s["status"]): s["count"] for s in extra["summary"]}
    assert counts == {
        (world.address(DISTRIBUTOR.name), "active"): 75,
        (world.address(PHARMACY.name), "active"): 24,
        (world.address(PHARMACY.name), "dispensed"): 1,
    }
    recall = extra["recall"]
    assert recall["recalled"] is True and recall["reasonCode"] == RECALL_REASON
    assert recall["manufacturer"] == world.address(MANUFACTURER.name)


def test_recall_scope_pages_walk_the_lot_without_duplicates(world: World) -> None:
    with world.session() as session:
        items = walk(lambda c: scope(session, FINISHED_GTIN, FINISHED_LOT, limit=7, cursor=c))
    identifiers = [i["identifier"] for i in items]
    assert len(identifiers) == 100 == len(set(identifiers))
    assert identifiers == sorted(identifiers)


def scope_pages(session: Session, limit: int) -> list[tuple[bytes, str | None, str]]:
    """Each page of the lot as ``scope_body`` answers it (body, cursor) and as ``scope``'s
    dictionaries validated against ``RecallScope`` and dumped (what FastAPI made of them)."""
    out: list[tuple[bytes, str | None, str]] = []
    cursor = None
    for _ in range(1000):
        body, following = scope_body(
            session, FINISHED_GTIN, FINISHED_LOT, limit=limit, cursor=cursor
        )
        page = scope(session, FINISHED_GTIN, FINISHED_LOT, limit=limit, cursor=cursor)
        assert following == page.next
        out.append((body, following, RecallScope.model_validate(page.to_json()).model_dump_json()))
        cursor = following
        if cursor is None:
            return out
    raise AssertionError("the pages never end")


@pytest.mark.parametrize("limit", [1, 7, 50, 100, 10_000])
def test_recall_scope_body_is_the_scope_as_recall_scope_json(world: World, limit: int) -> None:
    with world.session() as session:
        pages = scope_pages(session, limit)
    assert len(pages) == -(-100 // limit)
    for body, _, expected in pages:
        assert body == expected.encode()


def test_recall_scope_body_writes_event_times_as_iso_does(world: World) -> None:
    """UTC with ``Z``; microseconds only when there are any (the journey's times have none)."""
    with world.session() as session:
        [first, second] = session.scalars(
            select(ItemVersionRow.identifier)
            .where(
                ItemVersionRow.valid_to.is_(None),
                ItemVersionRow.gtin == FINISHED_GTIN,
                ItemVersionRow.lot == FINISHED_LOT,
            )
            .order_by(ItemVersionRow.identifier)
            .limit(2)
        )
        plus_two = timezone(timedelta(hours=2))
        for identifier, moment in (
            (first, datetime(2026, 3, 1, 12, 30, 5, 120, tzinfo=plus_two)),
            (second, datetime(2026, 3, 1, 0, 0, 0, 999_999, tzinfo=UTC)),
        ):
            session.execute(
                update(ItemVersionRow)
                .where(ItemVersionRow.identifier == identifier, ItemVersionRow.valid_to.is_(None))
                .values(event_time=moment)
            )
        try:
            [(body, _, expected)] = scope_pages(session, 10_000)
            assert body == expected.encode()
            assert b'"eventTime":"2026-03-01T10:30:05.000120Z"' in body
            assert b'"eventTime":"2026-03-01T00:00:00.999999Z"' in body
        finally:
            session.rollback()


def test_recall_scope_of_an_unknown_lot_is_not_found(world: World) -> None:
    unknown = f"lot NO-SUCH-LOT of GTIN {FINISHED_GTIN} is not in the index"
    with world.session() as session, pytest.raises(NotFoundError, match=unknown):
        scope(session, FINISHED_GTIN, "NO-SUCH-LOT")
    with world.session() as session, pytest.raises(NotFoundError, match=unknown):
        scope_body(session, FINISHED_GTIN, "NO-SUCH-LOT")


def test_recalls_list_the_registry(world: World) -> None:
    with world.session() as session:
        [only] = list_recalls(session).items
        assert (only["gtin"], only["lot"], only["recalled"]) == (
            FINISHED_GTIN,
            FINISHED_LOT,
            True,
        )
        assert list_recalls(session, recalled=False).items == []


def test_alerts_filter_by_kind_severity_and_subject_newest_first(world: World) -> None:
    with world.session() as session:
        both = list_alerts(session, kind="event-time").items
        assert [a["severity"] for a in both] == ["critical", "warning"]
        assert [a["message"] for a in list_alerts(session, severity="warning").items] == ["alert 0"]
        subject = both[1]["subject"]
        assert [a["message"] for a in list_alerts(session, subject=subject).items] == ["alert 0"]
        assert walk(lambda c: list_alerts(session, limit=1, cursor=c)) == both


def test_participants_list_the_registry_with_roles_and_glns(world: World) -> None:
    with world.session() as session:
        everyone = walk(lambda c: list_participants(session, limit=2, cursor=c))
        by_gln = {p["gln"]: p for p in everyone}
        for actor in ACTORS:
            assert by_gln[actor.gln]["address"] == world.address(actor.name)
        assert by_gln[API_MAKER.gln]["roles"] == ["api-maker"]
        assert "regulator" in {r for p in everyone for r in p["roles"]}
        assert len(everyone) == len({p["address"] for p in everyone}) == len(ACTORS) + 1
        [pharmacy] = list_participants(session, gln=PHARMACY.gln).items
        assert pharmacy["address"] == world.address(PHARMACY.name)


def test_anchors_walk_completely_in_chain_order_and_filter(world: World) -> None:
    with world.session() as session:
        everything = list_anchors(session, limit=1000).items
        assert len(everything) == len(world.journey.steps)
        walked = walk(lambda c: list_anchors(session, limit=5, cursor=c))
        assert walked == everything
        blocks = [(a["blockNumber"], a["logIndex"]) for a in everything]
        assert blocks == sorted(blocks) and len(set(blocks)) == len(blocks)
        pharmacy = world.address(PHARMACY.name)
        mine = list_anchors(session, submitter=pharmacy).items
        assert len(mine) == 2 and {a["submitter"] for a in mine} == {pharmacy}
        assert list_anchors(session, status="rejected").items == []


@pytest.mark.parametrize(
    ("call", "says"),
    [
        (lambda s: list_anchors(s, limit=0), "limit must be between 1 and 1000, got 0$"),
        (lambda s: list_anchors(s, limit=1001), "limit must be between 1 and 1000, got 1001"),
        (lambda s: list_anchors(s, cursor="garbage!"), "cursor is not one this list gave out"),
        (
            lambda s: list_anchors(s, cursor=list_participants(s, limit=1).next),
            "cursor is not one this list gave out",
        ),
        (
            lambda s: scope(s, FINISHED_GTIN, FINISHED_LOT, limit=10_001),
            "limit must be between 1 and 10000, got 10001",
        ),
        (
            lambda s: scope_body(s, FINISHED_GTIN, FINISHED_LOT, limit=10_001),
            "limit must be between 1 and 10000, got 10001",
        ),
        (
            lambda s: scope_body(
                s, FINISHED_GTIN, FINISHED_LOT, cursor=list_participants(s, limit=1).next
            ),
            "cursor is not one this list gave out",
        ),
    ],
    ids=[
        "limit-0",
        "limit-too-big",
        "cursor-garbage",
        "cursor-of-another-list",
        "scope-limit",
        "scope-body-limit",
        "scope-body-cursor",
    ],
)
def test_bad_limits_and_cursors_are_refused(
    world: World, call: Callable[[Session], object], says: str
) -> None:
    with world.session() as session, pytest.raises(ValidationError, match=says):
        call(session)
