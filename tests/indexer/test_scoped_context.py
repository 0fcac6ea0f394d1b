"""An event carrying its own ``@context`` (issue 14, finding 4; issue 16's JSON-LD scoping), from
capture to index: stored and served with its document's context and its own, its receipt passes
``provenance verify`` (offline and on-chain) and the indexer indexes its batch, every other event
of the batch included, without an integrity alert."""

from __future__ import annotations

import copy
from pathlib import Path

from rich.console import Console
from sqlalchemy import func, select

from chain.verification import verify_receipt
from indexer.queries.epcs import epc_events
from indexer.store.models import AlertRow, EventRow
from medledger.epcis.builders import EPCIS_CONTEXT
from medledger.epcis.event_hash import context_namespaces, event_hash
from medledger.epcis.event_id import EventId
from medledger.epcis.terms import MPL_NAMESPACE
from medledger.formats.receipt import Receipt
from provenance.exits import EXIT_VALID
from provenance.journey import build_journey
from provenance.verify import default_event_hasher, run
from tests.indexer.conftest import IndexerFactory
from tests.support.network import Network

EX = "https://ex.example.org/epcis/"


def test_an_event_with_its_own_context_is_stored_served_proved_and_indexed(
    network: Network, make_indexer: IndexerFactory, tmp_path: Path
) -> None:
    journey = build_journey(2, packs_per_case=2)
    commissioning = journey.steps[0].events[0]
    scoped = copy.deepcopy(commissioning)
    scoped["@context"] = [{"ex": EX}]
    scoped["ex:inspection"] = "ex:passed"  # its own prefix: an extension and a CURIE value
    scoped["mpl:site"] = "plant-1"  # the document's prefix, still in scope inside the event
    journey.steps[0].events[0] = scoped
    event_ids: list[str] = []
    for step in journey.steps[:2]:  # commissioned and shipped: one batch of two events
        event_ids.extend(network.capture(step.actor, step.events)["eventIDs"])
    network.anchor()
    event_id = EventId.parse_uri(event_ids[0]).hex

    regulator = network.regulator
    served = network.http.get(f"/events/{event_id}", headers=regulator).json()
    assert served["@context"] == [*EPCIS_CONTEXT, {"mpl": MPL_NAMESPACE}, {"ex": EX}]
    assert served["ex:inspection"] == "ex:passed" and served["mpl:site"] == "plant-1"

    body = network.http.get(f"/events/{event_id}/receipt", headers=regulator).json()
    receipt = Receipt.from_json(body)
    assert receipt.event == served
    verdict = verify_receipt(receipt, chain=network.chain, event_hasher=default_event_hasher())
    assert verdict.valid, verdict.failures
    path = tmp_path / "receipt.json"
    path.write_text(receipt.dumps(), encoding="utf-8")
    assert run([path], rpc_url=None, console=Console(file=None, quiet=True)) == EXIT_VALID

    service = make_indexer()
    service.catch_up()
    with service.sessions() as session:
        alerts = session.scalars(select(AlertRow.kind).where(AlertRow.kind == "integrity"))
        assert list(alerts) == []
        indexed = session.scalar(select(func.count()).select_from(EventRow))
        assert indexed == len(set(event_ids))
        page = epc_events(session, journey.api_class)
    namespaces = context_namespaces(page.extra["@context"])
    assert [event_hash(e, namespaces=namespaces) for e in page.items] == event_ids, (
        "the indexer's query document serves each event so that it hashes to its eventID"
    )
