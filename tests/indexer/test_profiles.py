"""Participant profiles (indexer/profiles.py): names, GLNs and regions read from the gateway's
participant list, and shown beside addresses wherever a person reads a participant (stock,
recall scope, trace, EPC state, alerts, the pack check, the origin bundle), on both databases.
A participant without a profile is its address (and the registry's GLN and roles) alone."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from indexer.api.app import create_app
from indexer.profiles import (
    GatewayProfileSource,
    Profile,
    newest_update,
    parse_profiles,
    store_profiles,
)
from indexer.service import IndexerService
from indexer.store.models import AlertRow, ParticipantProfileRow
from medledger.errors import IndexerError
from provenance.journey import ACTORS, FINISHED_LOT, MANUFACTURER, PHARMACY, Journey
from tests.support.network import Network, start_network

FINISHED_GTIN = "04700123123452"


@dataclass
class Named:
    network: Network
    journey: Journey
    indexed: IndexerService
    http: TestClient
    auth: dict[str, str]

    def get(self, path: str, **params: Any) -> Any:
        response = self.http.get(path, params=params, headers=self.auth)
        assert response.status_code == 200, response.text
        return response.json()

    def address(self, name: str) -> str:
        return self.network.addresses[name]


@pytest.fixture(scope="module")
def named(module_index_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Named]:
    """The journey indexed, its participants' profiles read from the gateway's list."""
    tmp: Path = tmp_path_factory.mktemp("profiles")
    network = start_network(tmp / "gateway")
    token = network.regulator["Authorization"].removeprefix("Bearer ")
    source = GatewayProfileSource(None, token, client=network.http)
    service = network.indexer(module_index_url, tmp / "indexer", profiles=source)
    try:
        journey = network.run_journey()
        service.catch_up()
        assert service.refresh_profiles() == len(ACTORS) + 1  # the actors and the regulator
        pharmacy = network.addresses[PHARMACY.name]
        with service.sessions.begin() as session:
            session.add(
                AlertRow(
                    key="named-1",
                    kind="clone",
                    severity="critical",
                    block_number=10**6,
                    subject=None,
                    message=f"shipping by {pharmacy} where it is not",
                    evidence={"holder": pharmacy},
                )
            )
        assert service.bootstrap_key_file is not None
        key = service.bootstrap_key_file.read_text().strip()
        with TestClient(create_app(service, follow=False)) as http:
            yield Named(network, journey, service, http, {"Authorization": f"Bearer {key}"})
    finally:
        service.stop()
        network.gateway.stop()


def _names(participants: dict[str, Any]) -> dict[str, tuple[str | None, str]]:
    return {a: (p["name"], p["gln"]) for a, p in participants.items()}


def test_the_gateway_list_fills_a_profile_per_participant(named: Named) -> None:
    with named.indexed.sessions() as session:
        rows = {r.address: r for r in session.scalars(select(ParticipantProfileRow))}
    for actor in ACTORS:
        row = rows[named.address(actor.name)]
        assert (row.name, row.gln, row.region) == (actor.name, actor.gln, None)
    assert named.indexed.refresh_profiles() == 0  # nothing changed: nothing written


def test_participants_list_names_each(named: Named) -> None:
    items = named.get("/participants")["items"]
    by_gln = {p["gln"]: p for p in items}
    assert by_gln[PHARMACY.gln]["name"] == PHARMACY.name
    assert by_gln[PHARMACY.gln]["address"] == named.address(PHARMACY.name)


def test_stock_scope_trace_and_epc_name_their_holders(named: Named) -> None:
    pharmacy = named.address(PHARMACY.name)
    stock = named.get("/stock", participant=PHARMACY.gln)
    assert _names(stock["participants"])[pharmacy] == (PHARMACY.name, PHARMACY.gln)
    scope = named.get(f"/recalls/{FINISHED_GTIN}/{FINISHED_LOT}/scope", limit=5)
    holders = {s["holder"] for s in scope["summary"]}
    assert holders and holders <= set(scope["participants"])
    assert all(p["name"] for p in scope["participants"].values())
    pack = named.journey.dispensed_pack
    trace = named.get(f"/trace/{quote(pack, safe='')}")
    manufacturer = named.address(MANUFACTURER.name)
    assert _names(trace["participants"])[manufacturer] == (MANUFACTURER.name, MANUFACTURER.gln)
    state = named.get(f"/epcs/{quote(pack, safe='')}")
    assert _names(state["participants"])[pharmacy] == (PHARMACY.name, PHARMACY.gln)


def test_alerts_name_who_they_name(named: Named) -> None:
    page = named.get("/alerts", kind="clone")
    assert [a["key"] for a in page["items"]] == ["named-1"]
    pharmacy = named.address(PHARMACY.name)
    assert _names(page["participants"]) == {pharmacy: (PHARMACY.name, PHARMACY.gln)}


def test_the_check_and_the_origin_bundle_name_participants(named: Named) -> None:
    pack = named.journey.dispensed_pack
    answer = named.get("/check", code=pack)
    assert answer["dispensed"]["name"] == PHARMACY.name
    public = named.http.get("/check", params={"code": pack}).json()
    assert public["detail"] == "public" and public["dispensed"]["name"] is None
    bundle = named.get(f"/origin/{quote(pack, safe='')}")
    makers = {e["maker"] for e in bundle["receipts"] if e.get("maker")}
    assert makers and makers <= set(bundle["participants"])
    assert all(p["name"] for p in bundle["participants"].values())


def test_without_a_profile_an_address_stands_alone(named: Named) -> None:
    pharmacy = named.address(PHARMACY.name)
    with named.indexed.sessions.begin() as session:
        row = session.get(ParticipantProfileRow, pharmacy)
        assert row is not None
        session.delete(row)
    try:
        stock = named.get("/stock", participant=PHARMACY.gln)
        record = stock["participants"][pharmacy]
        assert (record["name"], record["gln"], record["region"]) == (None, PHARMACY.gln, None)
    finally:
        assert named.indexed.refresh_profiles() == 1


def test_parsing_takes_regions_and_update_times_and_skips_what_is_not_a_participant() -> None:
    address = "0x" + "ab" * 20
    body = [
        {"address": address, "name": "A", "gln": "4700123000009", "region": "kg-gb"},
        {"address": address.upper().replace("0X", "0x"), "name": "B", "region": "Atlantis"},
        {"address": "not an address", "name": "C"},
        {"address": address, "name": "D", "updatedAt": "2026-12-03T21:00:00Z"},
        "junk",
    ]
    profiles = parse_profiles(body)
    assert [(p.name, p.region) for p in profiles] == [("A", "KG-GB"), ("B", None), ("D", None)]
    assert profiles[0].address == profiles[1].address  # checksummed, whatever the case
    assert profiles[2].updated_at == datetime(2026, 12, 3, 21, tzinfo=UTC)
    assert parse_profiles({"items": body[:1]})[0].gln == "4700123000009"
    with pytest.raises(IndexerError, match="not a list"):
        parse_profiles({"participants": []})


def test_stored_profiles_change_in_place_and_say_where_to_ask_from(named: Named) -> None:
    address = "0x" + "cd" * 20
    first = Profile(address, "Old", None, "KG-GB", datetime(2099, 1, 1, tzinfo=UTC))
    later = Profile(address, "New", None, "KG-C", datetime(2099, 2, 1, tzinfo=UTC))
    now = datetime.now(UTC)
    with named.indexed.sessions() as session:
        try:
            assert store_profiles(session, [first], now=now) == 1
            assert store_profiles(session, [first], now=now) == 0
            assert store_profiles(session, [later], now=now) == 1
            row = session.get(ParticipantProfileRow, address)
            assert row is not None and (row.name, row.region) == ("New", "KG-C")
            assert newest_update(session) == later.updated_at
        finally:
            session.delete(session.get(ParticipantProfileRow, address))
            session.commit()
        before = newest_update(session)  # the gateway's own newest updatedAt
        assert before is not None and first.updated_at is not None
        assert before < first.updated_at


def test_a_refused_key_is_an_indexer_error_and_changes_nothing(named: Named) -> None:
    source = GatewayProfileSource(None, "pk_wrong", client=named.network.http)
    with pytest.raises(IndexerError, match="refused the indexer's key"):
        source.fetch(None)


def test_a_region_set_at_the_gateway_reaches_the_index_on_the_next_read(named: Named) -> None:
    pharmacy = named.address(PHARMACY.name)
    response = named.network.http.put(
        f"/participants/{pharmacy}/region",
        json={"region": "kg-gb"},
        headers=named.network.regulator,
    )
    assert response.status_code == 200, response.text
    try:
        assert named.indexed.refresh_profiles() == 1  # only what changed since the newest seen
        record = named.get("/participants", gln=PHARMACY.gln)["items"][0]
        assert (record["name"], record["region"]) == (PHARMACY.name, "KG-GB")
    finally:
        named.network.http.put(
            f"/participants/{pharmacy}/region",
            json={"region": None},
            headers=named.network.regulator,
        )
        assert named.indexed.refresh_profiles() == 1
