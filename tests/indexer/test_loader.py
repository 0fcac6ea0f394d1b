"""Loading anchored batches: what of a batch is indexed when some of its events already are,
and the state the loader keeps between the batches of one step."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from chain.client import Chain
from indexer.service import IndexerService
from indexer.settings import IndexerSettings
from indexer.sources import FolderBatchSource
from indexer.store.models import AlertRow, EventItemRow, EventRow, ItemVersionRow
from indexer.verification import event_digest
from medledger.epcis.identifiers import canonical_identifier
from provenance.journey import Journey, Step, build_journey
from tests.indexer.test_out_of_order import current_state, interleaved, publish
from tests.support.anchoring import Publisher, start_publisher


def indexed(
    chain: Chain, publisher: Publisher, url: str, data: Path, block_range: int = 2000
) -> IndexerService:
    service = IndexerService(
        IndexerSettings(data_dir=data, database_url=url, settle_seconds=0, block_range=block_range),
        chain=chain,
        deployment=publisher.deployment,
        source=FolderBatchSource(publisher.folder),
    )
    service.catch_up()
    return service


def test_an_event_anchored_again_is_indexed_once_with_an_alert_and_the_rest_of_its_batch_is_loaded(
    chain: Chain, index_url: str, tmp_path: Path
) -> None:
    steps = build_journey(20, packs_per_case=10).steps[:5]
    once = start_publisher(chain, tmp_path / "once")
    for step in steps:
        once.publish(step.actor, step.events)
    expected_service = indexed(chain, once, f"sqlite:///{tmp_path}/once.db", tmp_path / "a")
    expected = current_state(expected_service, once)
    expected_service.stop()

    twice = start_publisher(chain, tmp_path / "twice")
    for step in steps[:4]:
        twice.publish(step.actor, step.events)
    transformed = steps[3].events[0]  # indexed from the batch before
    packing = steps[4].events
    twice.publish(steps[4].actor, [transformed, *packing, packing[0]])  # and once more here
    service = indexed(chain, twice, index_url, tmp_path / "b")
    try:
        assert current_state(service, twice) == expected
        with service.sessions() as session:
            distinct = sum(len(step.events) for step in steps)
            assert session.scalar(select(func.count()).select_from(EventRow)) == distinct
            items = session.scalar(select(func.count()).select_from(EventItemRow))
            alerts = session.execute(select(AlertRow.kind, AlertRow.evidence)).all()
        assert sorted((kind, evidence["eventHash"]) for kind, evidence in alerts) == sorted(
            ("anchored-twice", "0x" + event_digest(event).hex())
            for event in (transformed, packing[0])
        )
        with expected_service.sessions() as session:
            assert session.scalar(select(func.count()).select_from(EventItemRow)) == items
    finally:
        service.stop()


def history(service: IndexerService, publisher: Publisher) -> list[tuple[Any, ...]]:
    """Every item version and alert (participants by name)."""
    names: dict[str, str] = {account.address: name for name, account in publisher.accounts.items()}
    v = ItemVersionRow
    with service.sessions() as session:
        versions = [
            (*row[:3], names.get(row[3] or ""), *row[4:6], names.get(row[6] or ""))
            for row in session.execute(
                select(
                    v.identifier,
                    v.valid_from,
                    v.valid_to,
                    v.holder,
                    v.status,
                    v.parent,
                    v.in_transit_to,
                ).order_by(v.identifier, v.valid_from)
            )
        ]
        alerts = session.execute(
            select(AlertRow.kind, AlertRow.subject).order_by(AlertRow.kind, AlertRow.subject)
        ).all()
    return [*versions, *[tuple(alert) for alert in alerts]]


REPACKED_INTO = "urn:epc:id:sscc:4700123.0000000009"


def repacked(journey: Journey) -> Step:
    """The manufacturer moves the second pack of the first case into a case of its own, after
    packing and before shipping the cases (the first case is not named: what the loader knew
    of its contents no longer holds)."""
    commissioning, packing = (copy.deepcopy(e) for e in journey.steps[4].events[:2])
    commissioning.update(epcList=[REPACKED_INTO], eventTime="2026-11-02T17:20:00Z")
    packing.update(
        parentID=REPACKED_INTO, childEPCs=[journey.packs[1]], eventTime="2026-11-02T17:30:00Z"
    )
    return Step(journey.steps[4].actor, "repacks a pack", [commissioning, packing])


@pytest.mark.parametrize("order", ["in order", "out of order"])
def test_state_kept_between_the_batches_of_a_step_indexes_what_one_batch_per_step_does(
    chain: Chain, index_url: str, tmp_path: Path, order: str
) -> None:
    journey = build_journey(20, packs_per_case=5)
    steps = [*journey.steps[:5], repacked(journey), *journey.steps[5:]]
    publisher = start_publisher(chain, tmp_path / "batches")
    publish(publisher, steps if order == "in order" else interleaved(steps, seed=2))
    # one block per step: the loader reads everything a batch touches from the index
    alone = indexed(chain, publisher, f"sqlite:///{tmp_path}/alone.db", tmp_path / "a", 1)
    together = indexed(chain, publisher, index_url, tmp_path / "b")  # one step, state kept
    try:
        assert history(together, publisher) == history(alone, publisher)
        if order == "in order":
            state = current_state(together, publisher)
            assert state[canonical_identifier(journey.dispensed_pack)][0] == "dispensed"
            moved = state[canonical_identifier(journey.packs[1])]
            assert moved[0] == "active"  # not shipped with its old case
            assert moved[3] == canonical_identifier(REPACKED_INTO)
    finally:
        alone.stop()
        together.stop()
