"""dashboard/overview.read_overview's windows run on the index's clock (the checkpoint block's
timestamp): events per UTC day and business step over the 14 days to the latest event's day,
never past the checkpoint's day; batches, events and gas anchored in all and in the 24 hours
before the checkpoint block. On SQLite and PostgreSQL (the day is the UTC day on both).

Events are counted from the per-block tallies (indexer/store/tallies.py), written here as the
loader writes them, with each event row; that the tallies equal a recount of what the indexer
wrote is tests/indexer/store/test_tallies.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from dashboard.overview import DAYS, read_overview
from indexer.store import make_engine, session_factory, tallies, upgrade
from indexer.store.models import AnchorRow, BlockRow, CheckpointRow, EventRow
from tests.indexer.conftest import INDEX_BACKENDS, index_database

#: the checkpoint block's time: the index's "now"
CHAIN_NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
HOUR = 3600


@pytest.fixture(params=INDEX_BACKENDS)
def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    with index_database(request.param, tmp_path) as url:
        engine = make_engine(url)
        upgrade(engine)
        yield session_factory(engine)
        engine.dispose()


def anchor(
    session: Session,
    tag: int,
    events: int,
    hours_before: float,
    gas: int | None = None,
    tx: int = 0,
) -> None:
    session.add(
        AnchorRow(
            root=bytes([tag]) * 32,
            submitter="0x" + "11" * 20,
            relayer="0x" + "22" * 20,
            event_count=events,
            metadata_hash=bytes(32),
            tx_hash="0x" + f"{tx or tag:02x}" * 32,
            block_number=tag,
            log_index=0,
            block_timestamp=int(CHAIN_NOW.timestamp() - hours_before * HOUR),
            status="indexed",
            gas_used=gas,
        )
    )


def event(session: Session, seq: int, when: datetime, step: str | None) -> None:
    session.add(
        EventRow(
            event_hash=seq.to_bytes(32, "big"),
            seq=seq,
            block_number=1,
            root=bytes(32),
            submitter="0x" + "11" * 20,
            salt=bytes(32),
            type="ObjectEvent",
            biz_step=step,
            event_time=when,
            raw="{}",
        )
    )
    tallies.add_events(session, 1, {tallies.event_key(when, step): 1})


def test_days_and_anchors_are_counted_on_the_index_s_clock(
    sessions: sessionmaker[Session],
) -> None:
    today = CHAIN_NOW.date()
    with sessions() as session, session.begin():
        session.add(
            BlockRow(
                number=9,
                hash=b"\x09" * 32,
                parent_hash=bytes(32),
                timestamp=int(CHAIN_NOW.timestamp()),
            )
        )
        session.add(CheckpointRow(id=1, block_number=9, block_hash=b"\x09" * 32))
        anchor(session, 1, 5, hours_before=30, gas=90_000)  # older than a day
        anchor(session, 2, 3, hours_before=2, gas=60_000)
        anchor(session, 3, 4, hours_before=1, gas=60_000, tx=2)  # the same transaction as 2
        anchor(session, 4, 1, hours_before=1)  # indexed before gas was read
        midnight = datetime(2026, 12, 3, tzinfo=UTC)
        event(session, 1, midnight - timedelta(seconds=1), "shipping")  # the 2nd, at 23:59:59
        event(session, 2, midnight, "shipping")  # the 3rd, at 00:00
        event(session, 3, midnight + timedelta(hours=5), "receiving")
        event(session, 4, midnight + timedelta(hours=6), None)
        event(session, 5, CHAIN_NOW - timedelta(days=DAYS), "shipping")  # before the window
        event(session, 6, CHAIN_NOW + timedelta(days=3), "dispensing")  # ahead of the chain
    with sessions() as session:
        seen = read_overview(session)
    assert (seen.anchoring.batches, seen.anchoring.events) == (4, 13)
    assert (seen.anchoring.batches_last_day, seen.anchoring.events_last_day) == (3, 8)
    assert (seen.anchoring.gas, seen.anchoring.gas_last_day) == (150_000, 60_000)
    assert seen.anchoring.without_gas == 1
    daily = seen.daily
    assert daily is not None
    assert daily.days == [today - timedelta(days=back) for back in range(DAYS - 1, -1, -1)]
    assert daily.counts == {
        (date(2026, 12, 2), "shipping"): 1,
        (date(2026, 12, 3), "shipping"): 1,
        (date(2026, 12, 3), "receiving"): 1,
        (date(2026, 12, 3), ""): 1,
    }
    assert daily.steps == ["shipping", "", "receiving"]
    assert daily.on(date(2026, 12, 3)) == [1, 1, 1] and daily.top == 3


def test_an_empty_index_has_no_chart_and_nothing_anchored(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        seen = read_overview(session)
    assert seen.daily is None
    assert seen.anchoring.batches == seen.anchoring.batches_last_day == 0
