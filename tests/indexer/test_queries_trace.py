"""Specifications of the trace and EPC queries against the indexed journey (both databases).

The index is built once per module and database (the queries only read it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from indexer.queries.epcs import epc_events, epc_state
from indexer.queries.trace import trace
from indexer.service import IndexerService
from indexer.store.models import AnchorRow
from medledger.epcis.identifiers import canonical_identifier
from medledger.epcis.schema import load_schema
from medledger.errors import NotFoundError, ValidationError
from provenance.journey import API_MAKER, FINISHED_LOT, MANUFACTURER, PHARMACY, Journey
from tests.support.network import Network, start_network

FINISHED_GTIN = "04700123123452"
FIRST_CASE = "urn:epc:id:sscc:4700123.0000000001"


@dataclass
class World:
    network: Network
    journey: Journey
    indexed: IndexerService

    def session(self) -> Session:
        return self.indexed.sessions()

    def address(self, actor_name: str) -> str:
        return self.network.addresses[actor_name]


@pytest.fixture(scope="module")
def world(module_index_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Like the ``indexed`` fixture (journey of 100 packs in cases of 25), once per module."""
    tmp = tmp_path_factory.mktemp("world")
    network = start_network(tmp / "gateway")
    try:
        journey = network.run_journey()
        yield from _indexed(network, journey, module_index_url, tmp)
    finally:
        network.gateway.stop()


def _indexed(network: Network, journey: Journey, url: str, tmp: Path) -> Iterator[World]:
    service = network.indexer(url, tmp / "indexer")
    try:
        service.catch_up()
        yield World(network, journey, service)
    finally:
        service.stop()


def _real_anchor(session: Session, step: dict[str, object]) -> None:
    """A step's anchor is an indexed ``Anchored`` log: same root, transaction and block."""
    anchor = step["anchor"]
    assert isinstance(anchor, dict)
    row = session.get(AnchorRow, bytes.fromhex(str(anchor["root"])[2:]))
    assert row is not None and row.status == "indexed"
    assert (anchor["txHash"], anchor["blockNumber"]) == (row.tx_hash, row.block_number)
    assert str(step["eventID"]).startswith("ni:///sha-256;")


def test_dispensed_pack_traces_back_to_the_api_lot_and_its_maker(world: World) -> None:
    with world.session() as session:
        found = trace(session, world.journey.dispensed_pack)
        assert found["kind"] == "pack"
        assert found["identifier"] == canonical_identifier(world.journey.dispensed_pack)
        [batch] = found["batches"]
        assert (batch["gtin"], batch["lot"], batch["expiry"]) == (
            FINISHED_GTIN,
            FINISHED_LOT,
            "2028-10-31",
        )
        assert batch["commissionedBy"] == world.address(MANUFACTURER.name)
        [transformation] = batch["transformations"]
        assert transformation["type"] == "TransformationEvent"
        assert transformation["submitter"] == world.address(MANUFACTURER.name)
        _real_anchor(session, transformation)
        [api] = transformation["inputs"]
        assert api["identifier"] == canonical_identifier(world.journey.api_class)
        assert (api["role"], api["quantity"], api["uom"]) == ("input_quantity", "12.5", "KGM")
        assert api["maker"] == world.address(API_MAKER.name)
        assert api["origin"]["bizStep"] == "commissioning"
        assert api["origin"]["action"] == "ADD"
        _real_anchor(session, api["origin"])
        maker = found["participants"][api["maker"]]
        assert maker["roles"] == ["api-maker"] and maker["gln"] == API_MAKER.gln


def test_dispensed_pack_traces_forward_to_dispensing(world: World) -> None:
    with world.session() as session:
        found = trace(session, world.journey.dispensed_pack)
        history = found["history"]
        assert [v["event"]["bizStep"] for v in history] == [
            "commissioning",
            "packing",
            *["shipping", "receiving"] * 3,
            "dispensing",
        ]
        assert [v["status"] for v in history][-3:] == ["in_transit", "active", "dispensed"]
        times = [v["eventTime"] for v in history]
        assert times == sorted(times)
        for version in history:
            _real_anchor(session, version["event"])
        last = history[-1]
        assert last == found["current"]
        assert last["holder"] == world.address(PHARMACY.name)
        assert last["location"] == canonical_identifier(PHARMACY.sgln)
        assert found["participants"][last["holder"]]["roles"] == ["pharmacy"]
        assert found["contents"] == [] and found["summary"] is None


def test_a_case_traces_itself_and_its_contents(world: World) -> None:
    with world.session() as session:
        found = trace(session, FIRST_CASE)
    assert found["kind"] == "logistic-unit"
    assert [v["event"]["bizStep"] for v in found["history"]] == [
        "commissioning",
        *["shipping", "receiving"] * 3,
    ]
    contents = found["contents"]
    assert [c["identifier"] for c in contents] == sorted(
        canonical_identifier(p) for p in world.journey.packs[:25]
    )
    statuses = {c["identifier"]: c["status"] for c in contents}
    assert statuses.pop(canonical_identifier(world.journey.dispensed_pack)) == "dispensed"
    assert set(statuses.values()) == {"active"}
    [batch] = found["batches"]
    assert batch["lot"] == FINISHED_LOT
    assert batch["transformations"][0]["inputs"][0]["maker"] == world.address(API_MAKER.name)


def test_a_lot_traces_to_its_transformation_and_counts_its_packs(world: World) -> None:
    lot_class = f"https://id.gs1.org/01/{FINISHED_GTIN}/10/{FINISHED_LOT}"
    with world.session() as session:
        found = trace(session, lot_class)
    assert found["kind"] == "lot" and found["history"] == []
    [batch] = found["batches"]
    [transformation] = batch["transformations"]
    assert transformation["inputs"][0]["quantity"] == "12.5"
    counts = {(s["holder"], s["status"]): s["count"] for s in found["summary"]}
    assert sum(counts.values()) == 100
    assert counts[(world.address(PHARMACY.name), "dispensed")] == 1


@pytest.mark.parametrize(
    ("value", "error", "says"),
    [
        ("not an identifier", ValidationError, "is not a GS1 element string"),
        ("urn:epc:id:sgtin:4700123.012345", ValidationError, "is not a valid EPC URN"),
        # a location: nothing to trace
        ("urn:epc:id:sgln:4700123.10000.0", ValidationError, r"is neither a pack \(SGTIN\)"),
        ("urn:epc:id:sgtin:4700123.012345.NEVER", NotFoundError, "/21/NEVER is not in the index"),
        ("urn:epc:id:sscc:4700123.0000000099", NotFoundError, "0999 is not in the index"),
        ("https://id.gs1.org/01/04700123123452/10/NOLOT", NotFoundError, "lot NOLOT of GTIN"),
    ],
)
def test_trace_refuses_bad_and_unknown_identifiers(
    world: World, value: str, error: type[Exception], says: str
) -> None:
    with world.session() as session, pytest.raises(error, match=says):
        trace(session, value)


def test_epc_state_reports_holder_lot_expiry_and_last_event(world: World) -> None:
    pack = world.journey.packs[1]  # in the first case, at the pharmacy
    with world.session() as session:
        state = epc_state(session, pack)
        assert state["status"] == "active"
        assert state["holder"] == world.address(PHARMACY.name)
        assert state["parent"] == canonical_identifier(FIRST_CASE)
        assert (state["gtin"], state["lot"], state["expiry"]) == (
            FINISHED_GTIN,
            FINISHED_LOT,
            "2028-10-31",
        )
        assert state["recalled"] is False and state["recall"] is None
        assert state["lastEvent"]["bizStep"] == "receiving"
        _real_anchor(session, state["lastEvent"])
        case = epc_state(session, FIRST_CASE)
    assert case["childCount"] == 24  # one of 25 was dispensed


def test_epc_events_include_its_case_events_while_inside_and_page_without_duplicates(
    world: World,
) -> None:
    pack = world.journey.packs[1]
    with world.session() as session:
        everything = epc_events(session, pack, limit=1000)
        assert everything.next is None
        steps = [e["bizStep"] for e in everything.items]
        assert steps == ["commissioning", "packing", *["shipping", "receiving"] * 3]
        # the shipments name the case, not the pack
        assert "epcList" in everything.items[2] and "urn:epc:id:sscc" in str(everything.items[2])
        walked: list[str] = []
        cursor = None
        while True:
            page = epc_events(session, pack, limit=3, cursor=cursor)
            walked.extend(e["eventID"] for e in page.items)
            if page.next is None:
                break
            cursor = page.next
    assert walked == [e["eventID"] for e in everything.items]
    assert len(set(walked)) == len(walked)
    body = everything.extra
    assert body["type"] == "EPCISQueryDocument"
    assert body["epcisBody"]["queryResults"]["resultsBody"]["eventList"] == everything.items
    load_schema().validate(body)  # GS1's schema: nothing but an EPCISQueryDocument


def test_a_pack_in_another_case_does_not_see_the_first_case_events(world: World) -> None:
    pack = world.journey.packs[99]  # last case: stayed at the distributor
    with world.session() as session:
        page = epc_events(session, pack, limit=100)
        names = {str(e.get("parentID")) for e in page.items if "parentID" in e}
    assert [e["bizStep"] for e in page.items] == [
        "commissioning",
        "packing",
        *["shipping", "receiving"] * 2,
    ]
    assert names == {"urn:epc:id:sscc:4700123.0000000004"}


def test_unknown_epc_is_not_found(world: World) -> None:
    with world.session() as session:
        with pytest.raises(NotFoundError, match="/21/NEVER is not in the index"):
            epc_state(session, "urn:epc:id:sgtin:4700123.012345.NEVER")
        with pytest.raises(NotFoundError, match="no event names .*/21/NEVER"):
            epc_events(session, "urn:epc:id:sgtin:4700123.012345.NEVER")
        assert session.scalars(select(AnchorRow)).first() is not None
