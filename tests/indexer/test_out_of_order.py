"""Batches reach the chain out of capture order: each participant's batcher anchors on its own
timer, so a receipt can be indexed before the shipment and the commissioning it follows.

The index must end where an index of the same events in order ends, raise no alert for it,
and still report a real clone once its settle window has passed (docs/detection.md).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from sqlalchemy import select

from chain.client import Chain
from indexer.service import IndexerService
from indexer.settings import IndexerSettings
from indexer.sources import FolderBatchSource
from indexer.store import pending
from indexer.store.models import AlertRow, ItemVersionRow, TransitObservationRow
from indexer.verification import event_digest
from medledger.epcis.identifiers import canonical_identifier
from provenance.journey import Step, build_journey
from tests.support.anchoring import Publisher, start_publisher


def interleaved(steps: list[Step], seed: int) -> list[Step]:
    """A random merge of the participants' steps, each participant's own in its order (one
    participant's batches are anchored in nonce order)."""
    queues: dict[str, list[Step]] = {}
    for step in steps:
        queues.setdefault(step.actor.name, []).append(step)
    rng = random.Random(seed)
    out: list[Step] = []
    while queues:
        name = rng.choice(sorted(queues))
        out.append(queues[name].pop(0))
        if not queues[name]:
            del queues[name]
    return out


def publish(publisher: Publisher, steps: list[Step]) -> None:
    for step in steps:
        publisher.publish(step.actor, step.events)


def indexer(
    chain: Chain, publisher: Publisher, url: str, data: Path, settle_seconds: int
) -> IndexerService:
    return IndexerService(
        IndexerSettings(data_dir=data, database_url=url, settle_seconds=settle_seconds),
        chain=chain,
        deployment=publisher.deployment,
        source=FolderBatchSource(publisher.folder),
    )


def current_state(service: IndexerService, publisher: Publisher) -> dict[str, tuple[Any, ...]]:
    """Every item's status, holder, location, parent and destination (participants by name:
    each publisher registers its own accounts)."""
    names: dict[str, str] = {account.address: name for name, account in publisher.accounts.items()}
    v = ItemVersionRow
    query = select(v.identifier, v.status, v.holder, v.location, v.parent, v.in_transit_to)
    with service.sessions() as session:
        rows = session.execute(query.where(v.valid_to.is_(None)))
        return {
            identifier: (status, names.get(holder or ""), location, parent, names.get(to or ""))
            for identifier, status, holder, location, parent, to in rows
        }


def alert_kinds(service: IndexerService) -> list[str]:
    with service.sessions() as session:
        return sorted(session.scalars(select(AlertRow.kind)))


ORDERS = ("reversed", "receipt-first", "seed-1", "seed-2", "seed-3")


def reordered(steps: list[Step], order: str) -> list[Step]:
    if order == "reversed":
        return steps[::-1]
    if order == "receipt-first":  # the importer's receipt of the cases before their packing
        return [steps[6], *steps[:6], *steps[7:]]
    return interleaved(steps, int(order.split("-")[1]))


def test_a_journey_anchored_out_of_order_ends_where_in_order_ends_with_no_alert(
    chain: Chain, index_url: str, tmp_path: Path
) -> None:
    steps = build_journey(20, packs_per_case=10).steps
    in_order = start_publisher(chain, tmp_path / "in-order")
    publish(in_order, steps)
    expected_index = indexer(chain, in_order, f"sqlite:///{tmp_path}/a.db", tmp_path / "a", 0)
    expected_index.catch_up()
    expected = current_state(expected_index, in_order)
    expected_index.stop()
    assert len(expected) == 2 + 20  # two cases, twenty packs

    # The other orders are indexed into SQLite files whatever the parameter: on PostgreSQL only
    # the first runs (the one the database choice changes), not every order twice.
    orders = ORDERS if index_url.startswith("sqlite") else ORDERS[:1]
    for order in orders:
        shuffled = reordered(steps, order)
        assert shuffled != steps, order
        publisher = start_publisher(chain, tmp_path / order)
        publish(publisher, shuffled)
        url = index_url if order == ORDERS[0] else f"sqlite:///{tmp_path}/{order}.db"
        service = indexer(chain, publisher, url, tmp_path / f"ix-{order}", settle_seconds=3600)
        service.catch_up()
        try:
            assert current_state(service, publisher) == expected, order
            assert alert_kinds(service) == [], order
            with service.sessions() as session:
                assert pending.waiting(session) == [], order
        finally:
            service.stop()


def test_a_clone_waits_for_its_settle_window_then_is_reported(
    chain: Chain, index_url: str, tmp_path: Path
) -> None:
    journey = build_journey(20, packs_per_case=10)
    pack = canonical_identifier(journey.dispensed_pack)
    publisher = start_publisher(chain, tmp_path / "batches")
    publish(publisher, journey.steps[:5])  # packs commissioned and packed at the plant
    pharmacy = journey.steps[-1].actor
    dispensing = journey.steps[-1].events  # the pharmacy dispenses a pack it never received
    publisher.publish(pharmacy, dispensing)

    service = indexer(chain, publisher, index_url, tmp_path / "ix", settle_seconds=3600)
    service.catch_up()
    try:
        assert alert_kinds(service) == []
        with service.sessions() as session:
            [waiting] = pending.waiting(session)
        assert (waiting.identifier, waiting.reason) == (pack, "clone")
        before = current_state(service, publisher)[pack]
        assert before[0] == "active"  # not applied while it waits

        assert service.follower.settle(now=waiting.due - 1) == 0
        assert service.follower.settle(now=waiting.due) == 1
        assert alert_kinds(service) == ["clone"]
        assert current_state(service, publisher)[pack][0] == "dispensed"
        with service.sessions() as session:
            assert pending.waiting(session) == []
            [clone] = session.scalars(select(AlertRow))
        roles = [e["role"] for e in clone.evidence["events"]]
        assert roles == ["custody", "clone"]
        assert clone.evidence["txHash"] is not None  # the dispensing's own anchor
    finally:
        service.stop()


def transit_observations(service: IndexerService) -> list[tuple[Any, ...]]:
    """Every transit observation in chain order: receipt, lane, shipment, time in transit."""
    t = TransitObservationRow
    query = select(t.event_hash, t.gtin, t.origin, t.destination, t.shipping_event_hash, t.seconds)
    with service.sessions() as session:
        return [tuple(row) for row in session.execute(query.order_by(t.seq))]


def test_a_held_back_receipt_is_observed_on_the_lane_it_travelled(
    chain: Chain, tmp_path: Path
) -> None:
    """The pharmacy's receipt is anchored while the case is still in transit from the
    importer to the distributor: it is held back (clone), and not observed on the importer's
    lane with the importer's shipping time; once the distributor's receipt and shipment explain
    it, it is observed as in order: distributor to pharmacy, from the distributor's shipment."""
    steps = build_journey(4, packs_per_case=2).steps
    receipt, shipment = steps[10].events[0], steps[9].events[0]  # the pharmacy's case
    publisher = start_publisher(chain, tmp_path / "batches")
    publish(publisher, steps[:8])  # the importer has shipped the cases to the distributor
    publish(publisher, [steps[10]])
    url = f"sqlite:///{tmp_path}/ix.db"  # detection is the same on PostgreSQL
    service = indexer(chain, publisher, url, tmp_path / "ix", settle_seconds=3600)
    try:
        service.catch_up()
        with service.sessions() as session:
            assert [w.reason for w in pending.waiting(session)] == ["clone"]
        receipts = [o[0] for o in transit_observations(service)]
        assert receipts == [event_digest(steps[6].events[0])]  # the importer's only

        # the distributor receives the cases and ships one on (one batch), then dispensing
        publisher.publish(steps[8].actor, [*steps[8].events, *steps[9].events])
        publish(publisher, steps[11:])
        service.catch_up()
        observed = {o[0]: o[1:] for o in transit_observations(service)}
        gtin = canonical_identifier(steps[3].events[0]["outputEPCList"][0]).split("/")[4]
        assert observed[event_digest(receipt)] == (
            gtin,
            canonical_identifier(steps[8].events[0]["bizLocation"]["id"]),  # the distributor
            canonical_identifier(receipt["bizLocation"]["id"]),  # the pharmacy
            event_digest(shipment),
            3600,  # an hour after the distributor's shipment
        )
        assert alert_kinds(service) == []
    finally:
        service.stop()
