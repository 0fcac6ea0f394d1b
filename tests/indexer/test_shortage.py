"""Shortage early warning (issue 22): a region whose pharmacy dispenses faster than it is
restocked raises a ``shortage`` alert on the day its days of supply fall under the threshold,
naming the region that holds a surplus, and the alert clears when a delivery arrives. The
figures are kept as the index is written; rolled back to before the shortage and caught up
again, the index equals a fresh one. SQLite and PostgreSQL.

The story (a window of 7 days, a threshold of 3 days): the distributor (Osh, KG-GO) holds ten
cases of ten; the pharmacy (Bishkek, KG-GB) receives one case on 2 November and dispenses one
pack that day, then two a day. On day 3 it holds 3 packs against 7 dispensed in the window (3.0
days: not under 3); on day 4, 1 pack against 9 (0.8 days): a shortage. On day 5 a second case
arrives: 11 packs, 8.6 days, cleared.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dashboard.app import mount
from dashboard.triage import in_scope
from indexer.api.app import create_app
from indexer.chainlogs import BlockHeader
from indexer.queries.alerts import list_alerts
from indexer.queries.scope import Scope
from indexer.queries.supply import figures, supply_clock
from indexer.service import IndexerService
from indexer.store import writes
from indexer.store.models import AlertRow, BlockRow, ShortageRow, first_sequence_of_block
from indexer.supply_thresholds import Thresholds
from medledger.epcis import builders as epcis
from medledger.epcis.builders import Actor
from provenance.journey import DISTRIBUTOR, PHARMACY, build_journey
from tests.indexer.test_masterdata import declare, element
from tests.support.index_compare import assert_same_index
from tests.support.network import Network, start_network

SITES = {  # name, region, latitude, longitude
    PHARMACY: ("Ala-Too Pharmacy No. 7", "KG-GB", "42.8746", "74.5698"),
    DISTRIBUTOR: ("Tian Shan Distribution, Osh", "KG-GO", "40.5283", "72.7985"),
}
DAY0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
SETTINGS = {"shortage_window_days": 7, "shortage_days": "3"}


def site(actor: Actor) -> dict[str, Any]:
    name, region, lat, lon = SITES[actor]
    return {
        "type": "urn:epcglobal:epcis:vtype:BusinessLocation",
        "vocabularyElementList": [
            element(
                actor.sgln,
                {
                    "urn:epcglobal:cbv:mda#name": name,
                    "urn:epcglobal:cbv:mda#countryCode": "KG",
                    "urn:epcglobal:cbv:mda#state": region,
                    "urn:epcglobal:cbv:mda#latitude": lat,
                    "urn:epcglobal:cbv:mda#longitude": lon,
                },
            )
        ],
    }


def at(day: int, hour: int = 10) -> datetime:
    return DAY0 + timedelta(days=day, hours=hour - 8)


def step(network: Network, service: IndexerService, actor: Actor, events: list[Any]) -> None:
    network.capture(actor, events)
    network.anchor()
    service.catch_up()


def stock_page(service: IndexerService, http: TestClient) -> str:
    """The dashboard's stock page as a regulator reads it."""
    answer = http.get("/dashboard/stock", params={"lang": "en"})
    assert answer.status_code == 200, answer.text
    return str(answer.text)


def supply_line(page: str, region: str) -> str:
    found = re.search(rf'<tr data-region="{region}"[^>]*>.*?</tr>', page, re.S)
    assert found is not None, f"no supply line for {region}"
    return found.group(0)


def shortage_alerts(service: IndexerService) -> list[dict[str, Any]]:
    with service.sessions() as session:
        return list(list_alerts(session, kind="shortage").items)


@pytest.fixture(scope="module")
def story(module_index_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    tmp: Path = tmp_path_factory.mktemp("shortage")
    network = start_network(tmp / "gateway")
    service = network.indexer(module_index_url, tmp / "indexer", **SETTINGS)
    seen: dict[str, Any] = {}
    app = create_app(service, follow=False)
    mount(app)
    http = TestClient(app, follow_redirects=True)
    with service.write_sessions() as session, session.begin():
        key = service.api_keys.issue_key(session, "regulator", "regulator").token
    assert http.post("/login", data={"key": key}).status_code == 200
    try:
        for actor in SITES:  # the places' regions are known before any pack arrives
            declare(network, actor, [site(actor)])
        network.anchor()
        # 22 hourly steps from the day before: the pharmacy dispenses its first pack on day 0
        journey = build_journey(100, packs_per_case=10, start=DAY0 - timedelta(days=1))
        for s in journey.steps:
            step(network, service, s.actor, s.events)
        packs = journey.packs
        cases = sorted({e["parentID"] for s in journey.steps for e in s.events if "parentID" in e})
        for day in range(1, 5):
            dispensed = packs[2 * day - 1 : 2 * day + 1]
            step(network, service, PHARMACY, [epcis.dispense(PHARMACY, at(day), dispensed)])
            seen[f"day {day}"] = shortage_alerts(service)
        seen["page short"] = stock_page(service, http)
        for region in ("KG-GB", "KG", "KG-GO"):  # GET /alerts?region=, as the dashboard filters
            answer = http.get(
                "/alerts",
                params={"kind": "shortage", "region": region},
                headers={"Authorization": f"Bearer {key}"},
            )
            assert answer.status_code == 200, answer.text
            seen[f"in {region}"] = answer.json()["items"]
        for region in ("KG-GB", "KG", "KG-GO"):  # an inspector's key: its region's alerts only
            with service.write_sessions() as session, session.begin():
                inspector = service.api_keys.issue_key(
                    session, f"inspector {region}", "inspector", region=region
                ).token
            answer = http.get(
                "/alerts",
                params={"kind": "shortage"},
                headers={"Authorization": f"Bearer {inspector}"},
            )
            assert answer.status_code == 200, answer.text
            seen[f"inspector {region}"] = answer.json()["items"]
            with service.sessions() as session:
                alerts = session.scalars(select(AlertRow).where(AlertRow.kind == "shortage"))
                seen[f"inspector {region} acts"] = [
                    in_scope(session, a, Scope(region)) for a in alerts
                ]
        delivery = [cases[1]]
        step(
            network,
            service,
            DISTRIBUTOR,
            [epcis.ship(DISTRIBUTOR, PHARMACY, at(5, 9), epcs=delivery)],
        )
        step(
            network,
            service,
            PHARMACY,
            [epcis.receive(DISTRIBUTOR, PHARMACY, at(5, 11), epcs=delivery)],
        )
        seen["delivered"] = shortage_alerts(service)
        seen["page delivered"] = stock_page(service, http)
        yield network, service, seen, tmp
    finally:
        service.stop()
        network.gateway.stop()


def test_the_shortage_is_raised_on_the_day_supply_falls_under_the_threshold(story: Any) -> None:
    _, _, seen, _ = story
    assert [len(seen[f"day {d}"]) for d in range(1, 5)] == [0, 0, 0, 1]
    alert = seen["day 4"][0]
    evidence = alert["evidence"]
    assert alert["severity"] == "warning"
    assert evidence["region"] == "KG-GB" and evidence["asOf"] == "2026-11-06"
    assert (evidence["onHand"], evidence["dispensed"], evidence["windowDays"]) == (1, 9, 7)
    assert evidence["daysOfSupply"] == pytest.approx(7 / 9, abs=0.01)
    assert evidence["thresholdDays"] == 3
    assert alert["subject"] == f"https://id.gs1.org/01/{evidence['gtin']}"


def test_the_shortage_names_the_nearest_region_holding_a_surplus(story: Any) -> None:
    _, _, seen, _ = story
    (surplus,) = seen["day 4"][0]["evidence"]["surplus"]
    assert surplus["region"] == "KG-GO" and surplus["onHand"] == 90
    assert surplus["surplusPacks"] == 90 and surplus["daysOfSupply"] is None
    assert surplus["distanceKm"] == pytest.approx(300, abs=40)  # Bishkek to Osh


def test_the_shortage_concerns_its_region_and_its_country_only(story: Any) -> None:
    _, _, seen, _ = story
    (alert,) = seen["day 4"]
    assert [a["key"] for a in seen["in KG-GB"]] == [alert["key"]]
    assert [a["key"] for a in seen["in KG"]] == [alert["key"]]
    assert seen["in KG-GO"] == []  # the surplus region is named, but the shortage is not its
    assert seen["in KG-GB"][0]["regions"] == ["KG-GB"]


def test_an_inspector_of_the_region_or_its_country_sees_the_shortage_and_may_triage_it(
    story: Any,
) -> None:
    """A shortage names a region and no participant: an inspector's scope (its region's
    participants) used to leave it out; the inspector of that region, or of its country, sees
    it through GET /alerts and may act on it in the dashboard; another region's does not."""
    _, _, seen, _ = story
    (alert,) = seen["day 4"]
    assert [a["key"] for a in seen["inspector KG-GB"]] == [alert["key"]]
    assert [a["key"] for a in seen["inspector KG"]] == [alert["key"]]
    assert seen["inspector KG-GO"] == []
    assert seen["inspector KG-GB acts"] == [True]
    assert seen["inspector KG acts"] == [True]
    assert seen["inspector KG-GO acts"] == [False]


def test_the_stock_page_shows_days_of_supply_the_short_region_first(story: Any) -> None:
    _, _, seen, _ = story
    short = seen["page short"]
    assert "As of 2026-11-06" in short
    bishkek, osh = supply_line(short, "KG-GB"), supply_line(short, "KG-GO")
    assert short.index(bishkek) < short.index(osh)
    assert 'class="short"' in bishkek and ">0.8 <strong" in bishkek
    assert "Osh Shaary (KG-GO): 90 (" in bishkek  # the nearest surplus, with its distance
    assert "none dispensed" in osh and 'class="short"' not in osh
    delivered = supply_line(seen["page delivered"], "KG-GB")
    assert 'class="short"' not in delivered and ">8.6<" in delivered


def test_a_delivery_clears_the_shortage(story: Any) -> None:
    _, service, seen, _ = story
    assert seen["delivered"] == []
    with service.sessions() as session:
        (row,) = session.scalars(select(ShortageRow))
        assert (row.region, str(row.opened_day), str(row.cleared_day)) == (
            "KG-GB",
            "2026-11-06",
            "2026-11-07",
        )
        today = supply_clock(session)
        assert today is not None
        found = {
            f.region: f for f in figures(session, today, 7, Thresholds(3.0)) if f.gtin == row.gtin
        }
    assert (found["KG-GB"].on_hand, found["KG-GB"].dispensed) == (11, 9)
    assert found["KG-GO"].on_hand == 80 and not found["KG-GB"].short


def test_rolled_back_past_the_clearing_and_caught_up_the_index_equals_a_fresh_one(
    story: Any, module_index_url: str
) -> None:
    network, service, _, tmp = story
    with service.sessions() as session:
        (row,) = session.scalars(select(ShortageRow))
        cleared = row.cleared_block
        assert cleared is not None
        ancestor = (
            session.get(BlockRow, cleared - 1)
            or session.scalars(
                select(BlockRow).where(BlockRow.number < cleared).order_by(BlockRow.number.desc())
            ).first()
        )
        assert ancestor is not None
        header = BlockHeader(
            ancestor.number, ancestor.hash, ancestor.parent_hash, ancestor.timestamp
        )
        writes.rollback_to(session, header, first_sequence_of_block(header.number + 1))
        session.commit()
    service.follower.loader.forget()  # as the follower does after its own rollbacks
    (open_again,) = shortage_alerts(service)  # the delivery is undone: short again
    assert open_again["evidence"]["asOf"] == "2026-11-06"
    service.catch_up()
    assert shortage_alerts(service) == []
    fresh_url = f"sqlite:///{tmp}/fresh.db"
    fresh = network.indexer(fresh_url, tmp / "fresh", **SETTINGS)
    try:
        fresh.catch_up()
        assert_same_index(service.engine, fresh.engine)
    finally:
        fresh.stop()
