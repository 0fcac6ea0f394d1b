"""Loading one anchored batch: what of it is indexed when some of its events already are."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from chain.client import Chain
from indexer.service import IndexerService
from indexer.settings import IndexerSettings
from indexer.sources import FolderBatchSource
from indexer.store.models import AlertRow, EventItemRow, EventRow
from indexer.verification import event_digest
from provenance.journey import build_journey
from tests.indexer.test_out_of_order import current_state
from tests.support.anchoring import Publisher, start_publisher


def indexed(chain: Chain, publisher: Publisher, url: str, data: Path) -> IndexerService:
    service = IndexerService(
        IndexerSettings(data_dir=data, database_url=url, settle_seconds=0),
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
