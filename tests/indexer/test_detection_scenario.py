"""The scenario generator against the detectors: every injected fraud is found, with its
evidence, and the clean flows raise nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from indexer import detection
from indexer.queries.stock import stock
from indexer.store.models import MasterDataRow
from provenance.simulate import API_REGION, KINDS, REGIONS, simulate
from tests.indexer.conftest import IndexerFactory
from tests.indexer.test_detection_custody import alerts
from tests.support.network import Network


def test_every_injected_case_is_detected(network: Network, make_indexer: IndexerFactory) -> None:
    key = network.regulator["Authorization"].removeprefix("Bearer ")
    scenario = simulate(network.http, key, seed=7, packs=1500, frauds=2, flush=network.anchor)
    assert {c.kind for c in scenario.cases} == set(KINDS)
    assert scenario.packs >= 1500 and 500 <= scenario.events <= 5000
    service = make_indexer(
        transit_min_observations=5,
        transit_min_excess_seconds=24 * 3600,  # a day late, not a few hours
        new_route_min_history=scenario.warmup_observations,
    )
    service.catch_up()
    with service.sessions() as session:
        detection.sweep(session, date(2026, 8, 1), service.follower.loader.detection_config)
        session.commit()

    found = alerts(service)
    matched: set[str] = set()
    for case in scenario.cases:
        hits = [
            a
            for a in found
            if a.kind == case.kind
            and a.subject == case.subject
            and (case.event_id is None or a.evidence.get("eventID") == case.event_id)
        ]
        assert hits, f"not detected: {case}"
        for hit in hits:
            matched.add(hit.key)
            if case.event_id is not None:
                events = hit.evidence["events"]
                assert case.event_id in [e["eventID"] for e in events]
                assert all(e["root"].startswith("0x") and e["txHash"] for e in events)
    unexplained = [(a.kind, a.subject, a.message) for a in found if a.key not in matched]
    assert unexplained == []  # the clean flows raise nothing


def test_every_simulated_participant_names_its_site_and_region(
    network: Network, make_indexer: IndexerFactory
) -> None:
    """The seeded participants are registered with a region and declare their sites' master
    data (name, country, region): the index names every place the events happen at, and
    counts stock by region."""
    key = network.regulator["Authorization"].removeprefix("Bearer ")
    scenario = simulate(network.http, key, seed=3, packs=100, frauds=0, flush=network.anchor)
    listed = network.http.get("/participants", headers=network.regulator).json()
    simulated = {p["name"]: p for p in listed if p["name"] in scenario.addresses}
    assert set(simulated) == set(scenario.addresses)
    assert simulated["S3 pharmacy 1.0"]["region"] == REGIONS[1]
    assert simulated["S3 API maker 0"]["region"] == API_REGION
    service = make_indexer()
    service.catch_up()
    with service.sessions() as session:
        sites = {
            row.declared_by.lower(): (row.name, row.region)
            for row in session.scalars(
                select(MasterDataRow).where(MasterDataRow.kind == "location")
            )
        }
        by_region = {r["region"] for r in stock(session)["byRegion"]}
    assert {a.lower(): n for n, a in scenario.addresses.items()} == {
        a: name for a, (name, _) in sites.items()
    }
    assert sites[scenario.addresses["S3 hospital 0"].lower()][1] == REGIONS[0]
    assert {REGIONS[0], REGIONS[1]} <= by_region
