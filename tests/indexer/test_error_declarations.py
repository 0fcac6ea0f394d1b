"""An error declaration, from capture to index (issue 16 step 6): the manufacturer declares its
aggregation event erroneous; the indexer loads the declaration from the declarer's anchored
batch, verified against the on-chain root like any event; the trace shows the event declared
erroneous, and the packs it put in the case are out of it again (a new version at the
declaration, back to the state before). A reorganisation that orphans the declaration's block
removes both, and catching up again brings them back."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from indexer.chainlogs import BlockHeader
from indexer.queries.check import check
from indexer.queries.epcs import epc_events
from indexer.queries.origin import declarations_in
from indexer.queries.trace import trace
from indexer.store import writes
from indexer.store.models import AlertRow, BlockRow, ErrorDeclarationRow, first_sequence_of_block
from medledger.epcis.event_id import EventId
from provenance.journey import build_journey
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
