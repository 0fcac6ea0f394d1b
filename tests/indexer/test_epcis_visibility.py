"""Who sees which events on the EPCIS query interface (both databases), as a matrix: each reader
key × each event-returning route × a small fixed world, asserting exactly the events it sees.

The world: two manufacturers (M1 in Chuy, KG-C; M2 in Osh, KG-O), a distributor (KG-C) and a
pharmacy (Bishkek, KG-GB). M1 makes packs P1, P2 and case C1, packs them and ships C1 to the
distributor, who ships it on to the pharmacy, which sells P1; M1 also makes P3, which never
leaves it. M2 makes a lot by quantity (LOT2), ships part of it to the distributor, and makes Q1,
which never leaves it. The pharmacy scans C1 once at the distributor's site (``ph_pickup``).

A regulator and an auditor see every event; a participant the events it captured and every event
of an item or lot it has held (before and after its holding); an inspector the events of its
region's participants and those at their sites, and those at locations master data puts in its
region. Invisible is as absent: 404, never 403.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from chain.client import Chain
from indexer.api.app import create_app
from indexer.queries.visibility import custody_chain, held_events, small_chain
from indexer.service import IndexerService
from indexer.settings import IndexerSettings
from indexer.sources import FolderBatchSource
from indexer.store.models import EventRow, MasterDataRow, ParticipantProfileRow
from indexer.verification import event_digest
from medledger.epcis import builders as b
from medledger.epcis.builders import Actor
from medledger.epcis.event_id import EventId
from medledger.epcis.schema import load_schema
from medledger.masterdata.record import make_record
from medledger.masterdata.vocabulary import BUSINESS_LOCATION, COUNTRY_CODE, NAME, STATE
from medledger.roles import Role
from provenance.journey import DISTRIBUTOR, MANUFACTURER, PHARMACY
from servicekit.sql.helpers import utcnow
from tests.support.anchoring import start_publisher

PROBLEM = "application/problem+json"
M1, D, PH = MANUFACTURER, DISTRIBUTOR, PHARMACY
M2 = Actor("Osh Generics (manufacturer)", Role.MANUFACTURER, "4700999")
REGIONS = {M1.name: "KG-C", D.name: "KG-C", PH.name: "KG-GB", M2.name: "KG-O"}
P1, P2, P3 = (f"urn:epc:id:sgtin:4700123.012345.P{i}" for i in (1, 2, 3))
Q1 = "urn:epc:id:sgtin:4700999.012345.Q1"
C1 = "urn:epc:id:sscc:4700123.0000000001"
LOT2 = "urn:epc:class:lgtin:4700999.012345.LQ"


def at(hour: int) -> datetime:
    return datetime(2026, 11, 2, hour, tzinfo=UTC)


def kgm(amount: float) -> list[dict[str, Any]]:
    return [{"epcClass": LOT2, "quantity": amount, "uom": "KGM"}]


#: name -> (who captured it, the event), anchored in this order, one batch each
WORLD: dict[str, tuple[Actor, dict[str, Any]]] = {
    "m1_commission": (M1, b.commission(M1, at(1), epcs=[P1, P2], ilmd={"cbvmda:lotNumber": "L1"})),
    "m1_commission_case": (M1, b.commission(M1, at(1), epcs=[C1])),
    "m1_pack": (M1, b.aggregate(M1, at(2), C1, [P1, P2])),
    "m1_ship": (M1, b.ship(M1, D, at(3), epcs=[C1])),
    "d_receive": (D, b.receive(M1, D, at(4), epcs=[C1])),
    "d_ship": (D, b.ship(D, PH, at(5), epcs=[C1])),
    "ph_pickup": (PH, b.observe(D, at(6), [C1])),  # captured by the pharmacy, at D's site
    "ph_receive": (PH, b.receive(D, PH, at(7), epcs=[C1])),
    "ph_dispense": (PH, b.dispense(PH, at(8), [P1])),
    "m2_make_lot": (M2, b.commission(M2, at(1), quantities=kgm(100))),
    "m2_ship_lot": (M2, b.ship(M2, D, at(2), quantities=kgm(40))),
    "d_receive_lot": (D, b.receive(M2, D, at(3), quantities=kgm(40))),
    "m2_commission_q1": (M2, b.commission(M2, at(4), epcs=[Q1])),
    "m1_commission_p3": (M1, b.commission(M1, at(9), epcs=[P3])),
}  # fmt: skip
ALL = set(WORLD)
C1_CHAIN = {"m1_commission", "m1_commission_case", "m1_pack", "m1_ship", "d_receive",
            "d_ship", "ph_pickup", "ph_receive", "ph_dispense"}  # fmt: skip
LOT2_CHAIN = {"m2_make_lot", "m2_ship_lot", "d_receive_lot"}

#: reader -> the events it sees
SEES: dict[str, set[str]] = {
    "regulator": ALL,
    "auditor": ALL,
    "m1": C1_CHAIN | {"m1_commission_p3"},
    "m2": LOT2_CHAIN | {"m2_commission_q1"},
    "distributor": C1_CHAIN | LOT2_CHAIN,
    "pharmacy": C1_CHAIN,
    "inspector KG-C": {"m1_commission", "m1_commission_case", "m1_pack", "m1_ship",
                       "d_receive", "d_ship", "ph_pickup", "d_receive_lot", "m1_commission_p3"},
    "inspector KG-GB": {"ph_pickup", "ph_receive", "ph_dispense"},
}  # fmt: skip
#: which events each EPC's route answers (the EPC's, and its case's while inside)
EPC_EVENTS = {
    C1: C1_CHAIN - {"m1_commission", "ph_dispense"},
    P1: C1_CHAIN - {"m1_commission_case"},
    P3: {"m1_commission_p3"},
    Q1: {"m2_commission_q1"},
}
READERS = list(SEES)


@dataclass
class World:
    http: TestClient
    keys: dict[str, dict[str, str]]
    ids: dict[str, str]
    events: dict[str, dict[str, Any]]
    service: IndexerService
    addresses: dict[str, str]  # participant name -> address

    def get(self, reader: str, path: str, **params: Any) -> Any:
        # no params: keep the query string of ``path`` (a next link's); httpx replaces it
        return self.http.get(path, params=params or None, headers=self.keys[reader])

    def names(self, reader: str, path: str, **params: Any) -> list[str]:
        """The events of every page of ``path``, by name, in the order served."""
        by_id = {v: k for k, v in self.ids.items()}
        out: list[str] = []
        url: str | None = path
        while url is not None:
            response = self.get(reader, url, **params)
            assert response.status_code == 200, response.text
            load_schema().validate(response.json())
            body = response.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            out += [by_id[e["eventID"]] for e in body]
            link = response.links.get("next")
            url, params = (link["url"], {}) if link else (None, {})
        return out

    def members(self, reader: str, path: str) -> list[str]:
        response = self.get(reader, path, perPage=1000)
        assert response.status_code == 200, response.text
        members: list[str] = response.json()["member"]
        return members


def _world_index(url: str, tmp: Any) -> Iterator[World]:
    chain = Chain.embedded()
    publisher = start_publisher(chain, tmp / "batches")
    second = chain.new_funded_account()
    ledger, regulator = publisher.ledger, publisher.regulator
    ledger.register_participant(regulator, second.address, M2.roles, int(M2.gln))
    ledger.set_company_prefixes(regulator, second.address, [M2.company_prefix])
    publisher.accounts[M2.name] = second
    for actor, event in WORLD.values():
        publisher.publish(actor, [event])
    service = IndexerService(
        IndexerSettings(data_dir=tmp / "indexer", database_url=url),
        chain=chain,
        deployment=publisher.deployment,
        source=FolderBatchSource(publisher.folder),
    )
    service.follower.loader.workers = 0
    try:
        service.catch_up()
        address = {name: account.address for name, account in publisher.accounts.items()}
        with service.sessions.begin() as session:  # what the gateway's participant list says
            for actor in (M1, M2, D, PH):
                session.add(
                    ParticipantProfileRow(
                        address=address[actor.name],
                        name=actor.name,
                        gln=actor.gln,
                        region=REGIONS[actor.name],
                        fetched_at=utcnow(),
                    )
                )
        keys: dict[str, dict[str, str]] = {}
        with service.sessions() as session:
            for reader in READERS:
                role, _, rest = reader.partition(" ")
                kind = {"m1": M1, "m2": M2, "distributor": D, "pharmacy": PH}.get(role)
                token = service.api_keys.issue(
                    session,
                    reader,
                    "participant" if kind else role,
                    region=rest or None,
                    participant=address[kind.name] if kind else None,
                )
                keys[reader] = {"Authorization": f"Bearer {token}"}
        ids = {n: EventId(event_digest(e)).uri for n, (_a, e) in WORLD.items()}
        with TestClient(create_app(service, follow=False)) as http:
            events = {n: e for n, (_a, e) in WORLD.items()}
            yield World(http, keys, ids, events, service, dict(address))
    finally:
        service.stop()


@pytest.fixture(scope="module")
def world(module_index_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from _world_index(module_index_url, tmp_path_factory.mktemp("visibility"))


def _chain_order(names: set[str]) -> list[str]:
    return [n for n in WORLD if n in names]


@pytest.mark.parametrize("reader", READERS)
def test_get_events_answers_exactly_what_the_reader_sees_in_chain_order(
    world: World, reader: str
) -> None:
    assert world.names(reader, "/events") == _chain_order(SEES[reader])


@pytest.mark.parametrize("reader", ["distributor", "inspector KG-C"])
def test_pages_and_counts_are_of_the_visible_events_only(world: World, reader: str) -> None:
    """Filtered in SQL: every page but the last is full, and maxEventCount counts what the
    reader sees (a filter applied after fetching would short pages and miscount)."""
    seen = SEES[reader]
    paged: list[str] = []
    response = world.get(reader, "/events", perPage=3)
    while True:
        assert response.status_code == 200, response.text
        by_id = {v: k for k, v in world.ids.items()}
        events = response.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        paged += [by_id[e["eventID"]] for e in events]
        link = response.links.get("next")
        if link is None:
            break
        assert len(events) == 3
        response = world.http.get(link["url"], headers=world.keys[reader])
    assert paged == _chain_order(seen)
    assert world.get(reader, "/events", maxEventCount=len(seen)).status_code == 200
    assert world.get(reader, "/events", maxEventCount=len(seen) - 1).status_code == 413


def test_a_page_token_pages_only_the_view_it_was_made_for(world: World) -> None:
    first = world.get("regulator", "/events", perPage=2)
    token = first.links["next"]["url"]
    assert world.http.get(token, headers=world.keys["pharmacy"]).status_code == 400


@pytest.mark.parametrize("reader", READERS)
def test_one_event_is_404_when_invisible_never_403(world: World, reader: str) -> None:
    for name, event_id in world.ids.items():
        response = world.get(reader, f"/events/{quote(event_id, safe='')}")
        if name in SEES[reader]:
            assert response.status_code == 200, (name, response.text)
        else:
            assert response.status_code == 404, (name, response.text)
            assert response.headers["content-type"].startswith(PROBLEM)
    unknown = world.get(reader, "/events/" + "ab" * 32)
    assert unknown.status_code == 404
    some_invisible = sorted(ALL - SEES[reader])
    if some_invisible:  # the same words as for an event the index never had
        hidden = world.get(reader, "/events/" + world.ids[some_invisible[0]].split(";")[1][:64])
        assert hidden.json()["title"] == unknown.json()["title"]


@pytest.mark.parametrize("reader", READERS)
def test_an_epcs_events_are_those_the_reader_sees_else_404(world: World, reader: str) -> None:
    for epc, events in EPC_EVENTS.items():
        wanted = _chain_order(events & SEES[reader])
        path = f"/epcs/{quote(epc, safe='')}/events"
        if wanted:
            assert world.names(reader, path) == wanted, epc
            legacy = world.get(reader, path, limit=100)
            found = legacy.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            assert [e["eventID"] for e in found] == [world.ids[n] for n in wanted]
        else:
            assert world.get(reader, path).status_code == 404, epc
            assert world.get(reader, path, limit=100).status_code == 404, epc


def _field(event: dict[str, Any], resource: str) -> str | None:
    if resource == "bizLocations":
        return (event.get("bizLocation") or {}).get("id")
    if resource == "readPoints":
        return (event.get("readPoint") or {}).get("id")
    return None


@pytest.mark.parametrize("reader", ["regulator", "m2", "pharmacy", "inspector KG-GB"])
@pytest.mark.parametrize("resource", ["bizLocations", "readPoints"])
def test_the_lists_of_places_name_only_the_readers_events_places(
    world: World, reader: str, resource: str
) -> None:
    """A participant cannot enumerate the sites of events it does not see; each site listed
    answers its events (those the reader sees), each other site 404."""
    everywhere = world.members("regulator", f"/{resource}")
    listed = world.members(reader, f"/{resource}")
    sites = {
        _field(world.events[n], resource) for n in SEES[reader] if _field(world.events[n], resource)
    }
    assert len(listed) == len(sites) and set(listed) <= set(everywhere)
    assert set(everywhere) - set(listed) or reader == "regulator"
    for site in everywhere:
        path = f"/{resource}/{quote(site, safe='')}"
        if site in listed:
            assert world.get(reader, path).status_code == 200
            names = world.names(reader, path + "/events")
            assert names and set(names) <= SEES[reader]
        else:
            assert world.get(reader, path).status_code == 404
            assert world.names(reader, path + "/events") == []


@pytest.mark.parametrize("reader", ["auditor", "m1", "distributor", "inspector KG-C"])
def test_epcs_event_types_and_steps_listed_are_those_of_the_readers_events(
    world: World, reader: str
) -> None:
    seen = [world.events[n] for n in SEES[reader]]
    types = world.members(reader, "/eventTypes")
    assert set(types) == {e["type"] for e in seen}
    steps = world.members(reader, "/bizSteps")
    assert {s.rsplit(":", 1)[-1].rsplit("/", 1)[-1] for s in steps} == {e["bizStep"] for e in seen}
    epcs = world.members(reader, "/epcs")
    named = {
        epc
        for e in seen
        for epc in [*e.get("epcList", []), *e.get("childEPCs", []), e.get("parentID")]
        if epc
    }
    assert len(epcs) == len(named)
    for step in steps:
        names = world.names(reader, f"/bizSteps/{quote(step, safe='')}/events")
        assert names == [
            n for n in _chain_order(SEES[reader]) if step.endswith(world.events[n]["bizStep"])
        ]


@pytest.mark.parametrize(
    "path",
    [
        "/trace/" + quote(C1, safe=""),
        "/epcs/" + quote(C1, safe=""),
        "/stock",
        "/alerts",
        "/recalls",
        "/participants",
        "/anchors",
        "/events/" + "00" * 32 + "/receipt",
        "/keys",
    ],
)
def test_a_participant_key_reads_nothing_but_the_event_routes(world: World, path: str) -> None:
    response = world.get("pharmacy", path)
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert "participant" in response.json()["detail"]


@pytest.mark.parametrize("who", [M1, M2, D, PH], ids=lambda actor: actor.name)
def test_both_plans_of_a_custody_chain_find_the_same_events(world: World, who: Actor) -> None:
    """A participant whose chain is small has its events found from its side (``small_chain``,
    ``held_events``: what it held, by index; its own batches' seq numbers), a big one has each
    event tested (``custody_chain``): the same events either way. Every participant of this
    world is small, so the routes above take the first plan; here the second is compared."""
    address = world.addresses[who.name]
    with world.service.sessions() as session:
        own = small_chain(session, address)
        assert own is not None
        assert small_chain(session, address, limit=0) is None  # it anchored events: not small
        tested = set(session.scalars(select(EventRow.seq).where(custody_chain(address))))
        found = select(EventRow.seq).where(EventRow.seq.in_(held_events(address, own)))
        assert set(session.scalars(found)) == tested
    assert tested


def test_an_inspector_also_sees_the_events_at_locations_master_data_puts_in_its_region(
    world: World,
) -> None:
    """The distributor is registered in KG-C; master data saying its site lies in KG-GB shows
    the events at that site to KG-GB's inspector too, and hides nothing from KG-C's (the
    registry still places the distributor there)."""
    record = make_record(
        BUSINESS_LOCATION,
        D.sgln,
        [(NAME, "Tian Shan depot"), (COUNTRY_CODE, "KG"), (STATE, "KG-GB")],
        effective_time=datetime(2026, 1, 1, tzinfo=UTC),
    )
    row = MasterDataRow(
        record_hash=record.digest,
        seq=2**62,
        block_number=1,
        root=bytes(32),
        declared_by=world.addresses[D.name],
        kind=record.kind,
        vocabulary_type=record.vocabulary_type,
        element_id=record.element_id,
        effective_time=record.effective_time,
        name="Tian Shan depot",
        region="KG-GB",
        salt=bytes(32),
        raw=json.dumps(record.document(), separators=(",", ":"), ensure_ascii=False),
    )
    with world.service.sessions.begin() as session:
        session.add(row)
    try:
        at_d = {"d_receive", "d_ship", "ph_pickup", "d_receive_lot"}  # read or located at D
        assert world.names("inspector KG-GB", "/events") == _chain_order(
            SEES["inspector KG-GB"] | at_d
        )
        assert world.names("inspector KG-C", "/events") == _chain_order(SEES["inspector KG-C"])
        for name in at_d:
            event = world.get("inspector KG-GB", f"/events/{quote(world.ids[name], safe='')}")
            assert event.status_code == 200, name
    finally:
        with world.service.sessions.begin() as session:
            session.execute(delete(MasterDataRow).where(MasterDataRow.seq == 2**62))
    assert world.names("inspector KG-GB", "/events") == _chain_order(SEES["inspector KG-GB"])
