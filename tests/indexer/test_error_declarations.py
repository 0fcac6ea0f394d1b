"""An error declaration, from capture to index (issue 16 step 6): the manufacturer declares its
aggregation event erroneous; the indexer loads the declaration from the declarer's anchored
batch, verified against the on-chain root like any event; the trace shows the event declared
erroneous, and the packs it put in the case are out of it again (a new version at the
declaration, back to the state before). A reorganisation that orphans the declaration's block
removes both, and catching up again brings them back."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from indexer.chainlogs import BlockHeader
from indexer.queries.check import check
from indexer.queries.epcs import epc_events
from indexer.queries.origin import declarations_in
from indexer.queries.trace import trace
from indexer.store import writes
from indexer.store.models import (
    AlertRow,
    BlockRow,
    ErrorDeclarationRow,
    HoldingVersionRow,
    ItemVersionRow,
    first_sequence_of_block,
)
from medledger.epcis import builders as epcis
from medledger.epcis.event_id import EventId
from medledger.epcis.identifiers import canonical_identifier as dl
from provenance.journey import API_MAKER, MANUFACTURER, build_journey
from tests.indexer.conftest import IndexerFactory
from tests.support.network import Network

DECLARATION = {
    "declarationTime": "2026-01-02T00:00:00Z",
    "reason": "incorrect_data",
    "correctiveEventIDs": ["urn:uuid:7f1f3b4e-0000-4000-8000-000000000001"],
}


def test_a_declared_event_is_shown_erroneous_and_rolled_back_with_its_block(
    network: Network, make_indexer: IndexerFactory
) -> None:
    journey = build_journey(2, packs_per_case=2)
    for step in journey.steps[:5]:  # API lot to packs in a case
        network.capture(step.actor, step.events)
        network.anchor()
    packing = journey.steps[4]
    aggregation = packing.events[-1]
    declared = network.capture(packing.actor, [{**aggregation, "errorDeclaration": DECLARATION}])
    assert declared["declarationsStored"] == 1 and declared["stored"] == 0
    network.anchor()
    event_hash = EventId.parse_uri(declared["eventIDs"][0]).digest
    pack = journey.packs[0]

    service = make_indexer()
    service.catch_up()
    with service.sessions() as session:
        assert (
            list(session.scalars(select(AlertRow.kind).where(AlertRow.kind == "integrity"))) == []
        )
        (row,) = session.scalars(select(ErrorDeclarationRow))
        assert row.event_hash == event_hash
        assert row.declared_by.lower() == network.addresses[packing.actor.name].lower()
        history = trace(session, pack)["history"]
        marked = [v["event"] for v in history if (v["event"] or {}).get("errorDeclaration")]
        assert [e["eventID"] for e in marked] == declared["eventIDs"]
        shown = marked[0]["errorDeclaration"]
        assert shown["reason"] == "https://ref.gs1.org/cbv/ER-incorrect_data"
        assert shown["declarationTime"].startswith("2026-01-02T00:00:00")
        assert shown["correctiveEventIDs"] == DECLARATION["correctiveEventIDs"]
        current = history[-1]
        assert current["parent"] is None  # out of the case again, as before the aggregation
        assert [v["parent"] is not None for v in history] == [False, True, False]
        assert history[-1]["event"]["eventID"] == history[0]["event"]["eventID"]
        answer = check(session, pack, today=date(2026, 6, 1))
        assert answer["lastEvent"]["eventID"] == history[0]["event"]["eventID"]
        served = {e["eventID"]: e for e in epc_events(session, pack).items}
        on_event = served[declared["eventIDs"][0]]["errorDeclaration"]  # as GET /events has it
        assert (on_event["reason"], on_event["correctiveEventIDs"]) == (
            "incorrect_data",
            DECLARATION["correctiveEventIDs"],
        )
        assert all(
            "errorDeclaration" not in e for i, e in served.items() if i != marked[0]["eventID"]
        )
        block = row.block_number
        ancestor = session.scalars(
            select(BlockRow).where(BlockRow.number < block).order_by(BlockRow.number.desc())
        ).first()
        assert ancestor is not None
        header = BlockHeader(
            ancestor.number, ancestor.hash, ancestor.parent_hash, ancestor.timestamp
        )
        writes.rollback_to(session, header, first_sequence_of_block(header.number + 1))
        session.commit()
        assert session.scalar(select(func.count()).select_from(ErrorDeclarationRow)) == 0
        back = trace(session, pack)["history"]
        assert [v["parent"] is not None for v in back] == [False, True]  # in the case again
        last = check(session, pack, today=date(2026, 6, 1))["lastEvent"]
        assert last["eventID"] == declared["eventIDs"][0] and "errorDeclaration" not in last

    service.catch_up()  # the same chain again: the declaration is indexed again
    with service.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ErrorDeclarationRow)) == 1
        assert trace(session, pack)["history"] == history


def test_an_origin_bundle_entry_names_the_declaration_the_trace_shows() -> None:
    shown = {"declarationID": "d", "reason": "https://ref.gs1.org/cbv/ER-incorrect_data"}
    trace = {
        "history": [
            {"event": {"eventID": "a"}},
            {"event": {"eventID": "b", "errorDeclaration": shown}},
        ],
        "batches": [
            {"transformations": [{"eventID": "t", "inputs": [{"origin": {"eventID": "o"}}]}]}
        ],
    }
    assert declarations_in(trace) == {"b": shown}


def test_a_declared_event_is_undone_where_later_events_moved_on_or_it_came_first(
    network: Network, make_indexer: IndexerFactory
) -> None:
    """Custody re-projected without the erroneous event: packs aggregated into a case that was
    shipped since stay home, out of it; a case only the erroneous event commissioned is
    unknown again; a quantity wrongly shipped is back with its sender."""
    journey = build_journey(2, packs_per_case=2)
    for step in journey.steps[:6]:  # ... packs in a case, the case shipped to the importer
        network.capture(step.actor, step.events)
        network.anchor()
    aggregation = journey.steps[4].events[-1]
    moment = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
    extra_case = f"urn:epc:id:sscc:{MANUFACTURER.company_prefix}.0000000099"
    extra = epcis.commission(MANUFACTURER, moment, epcs=[extra_case])
    other_class = journey.api_class.rsplit(".", 1)[0] + ".LOT-B"
    api = [{"epcClass": other_class, "quantity": 20.0, "uom": "KGM"}]
    shipped = [{"epcClass": other_class, "quantity": 5.0, "uom": "KGM"}]
    network.capture(MANUFACTURER, [extra])
    network.capture(API_MAKER, [epcis.commission(API_MAKER, moment, quantities=api)])
    network.anchor()
    shipping = epcis.ship(API_MAKER, MANUFACTURER, moment + timedelta(hours=1), quantities=shipped)
    network.capture(API_MAKER, [shipping])
    network.anchor()
    for actor, event in ((MANUFACTURER, aggregation), (MANUFACTURER, extra), (API_MAKER, shipping)):
        network.capture(actor, [{**event, "errorDeclaration": DECLARATION}])
    network.anchor()

    service = make_indexer()
    service.catch_up()
    manufacturer = network.addresses[MANUFACTURER.name].lower()
    api_maker = network.addresses[API_MAKER.name].lower()
    with service.sessions() as session:
        current = {
            v.identifier: v
            for v in session.scalars(
                select(ItemVersionRow).where(ItemVersionRow.valid_to.is_(None))
            )
        }
        packs = [dl(p) for p in journey.packs]
        for pack in packs:  # commissioned by the transformation, never packed
            assert current[pack].parent is None and current[pack].status == "active"
            assert (current[pack].holder or "").lower() == manufacturer
            assert current[pack].in_transit_to is None
        case = dl(journey.steps[5].events[0]["epcList"][0])
        assert current[case].status == "in_transit"  # the shipping still stands
        assert dl(extra_case) not in current
        assert (
            session.scalar(  # its one version, closed at the declaration
                select(func.count())
                .select_from(ItemVersionRow)
                .where(
                    ItemVersionRow.identifier == dl(extra_case),
                    ItemVersionRow.valid_to.is_not(None),
                )
            )
            == 1
        )
        holdings = {
            (h.holder.lower(), h.in_transit_to.lower()): h.quantity
            for h in session.scalars(
                select(HoldingVersionRow).where(
                    HoldingVersionRow.class_id == dl(other_class),
                    HoldingVersionRow.valid_to.is_(None),
                )
            )
        }
        assert holdings == {(api_maker, ""): 20}

        block = session.scalar(select(func.min(ErrorDeclarationRow.block_number)))
        assert block is not None
        ancestor = session.get(BlockRow, block - 1)
        assert ancestor is not None
        header = BlockHeader(
            ancestor.number, ancestor.hash, ancestor.parent_hash, ancestor.timestamp
        )
        writes.rollback_to(session, header, first_sequence_of_block(header.number + 1))
        session.commit()
        back = {
            v.identifier: v
            for v in session.scalars(
                select(ItemVersionRow).where(ItemVersionRow.valid_to.is_(None))
            )
        }
        assert back[dl(extra_case)].status == "active"  # re-opened with its block
        assert all(back[p].parent == case for p in packs)
    service.catch_up()
    with service.sessions() as session:
        assert dl(extra_case) not in {
            v.identifier
            for v in session.scalars(
                select(ItemVersionRow).where(ItemVersionRow.valid_to.is_(None))
            )
        }
