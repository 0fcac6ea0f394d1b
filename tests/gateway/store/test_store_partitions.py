"""``events`` by month on PostgreSQL (gateway/store/partitions.py): what is stored in three
months reads back as one table (an event by id, a batch's contents in seq order, a duplicate
refused across months), each month's rows sit in their own partition, and a query bounded in
time visits only its months. SQLite keeps one table and passes the same reads.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from alembic import command
from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session

from gateway.store.batches import get_batch_by_root, seal_batches, set_root
from gateway.store.capture import get_event, known_event_ids, record_capture
from gateway.store.engine import alembic_config, make_engine, upgrade
from gateway.store.partitions import (
    DEFAULT_PARTITION,
    MONTHS_AHEAD,
    ensure_partitions,
    month_of,
    months,
    next_month,
    partition_name,
)
from tests.gateway.store.store_support import ParticipantMaker, make_event

MONTHS = [datetime(2026, 10, 30, tzinfo=UTC), datetime(2026, 11, 15, tzinfo=UTC)]
MONTHS.append(datetime(2026, 12, 1, tzinfo=UTC))  # the first instant of December
ROOT = bytes(range(32))


def test_month_arithmetic() -> None:
    assert next_month(date(2026, 12, 1)) == date(2027, 1, 1)
    assert month_of(datetime(2026, 2, 28, 23, 59, tzinfo=UTC)) == date(2026, 2, 1)
    assert months(date(2026, 11, 20), date(2027, 2, 3)) == [
        date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1), date(2027, 2, 1)
    ]  # fmt: skip
    assert partition_name(date(2027, 1, 1)) == "events_2027_01"


def test_events_of_three_months_read_as_one_table(
    engine: Engine, session: Session, make_participant: ParticipantMaker
) -> None:
    with engine.begin() as conn:  # a fresh store has partitions from this month on
        ensure_partitions(conn, MONTHS[0], months_ahead=2)
    alice = make_participant()
    stored = []
    for moment in MONTHS:
        events = [make_event() for _ in range(2)]
        record_capture(session, alice.address, events, now=moment)
        stored += events
    # stored in October, not stored again in December, also when the lookup before missed it
    # (a concurrent capture of the same event): the insert itself skips it
    record_capture(session, alice.address, [stored[0]], now=MONTHS[2], known=set())
    copies = text("SELECT count(*) FROM events WHERE event_id = :id")
    assert session.execute(copies, {"id": stored[0].event_id}).scalar_one() == 1

    for event, moment in zip(stored, [m for m in MONTHS for _ in range(2)], strict=True):
        found = get_event(session, event.event_id)
        assert found is not None and found.received_at == moment
    assert known_event_ids(session, [e.event_id for e in stored]) == {e.event_id for e in stored}
    (batch,) = seal_batches(session, max_events=6, max_age_seconds=60, now=MONTHS[2])
    set_root(session, batch.id, ROOT)
    contents = get_batch_by_root(session, ROOT)
    assert contents is not None
    assert [e.event_id for e in contents.events] == [e.event_id for e in stored]

    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as conn:
        assert _events_by_table(conn) == {
            "events_2026_10": 2,
            "events_2026_11": 2,
            "events_2026_12": 2,
        }
        plan = "\n".join(
            conn.execute(
                text(
                    "EXPLAIN SELECT * FROM events WHERE received_at >= '2026-11-01 00:00+00' "
                    "AND received_at < '2026-12-01 00:00+00'"
                )
            ).scalars()
        )
    assert "events_2026_11" in plan
    assert "events_2026_10" not in plan and "events_2026_12" not in plan


def test_partitions_are_made_ahead_at_every_start(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("month partitions are PostgreSQL's")
    later = datetime(2031, 5, 17, tzinfo=UTC)
    with engine.begin() as conn:
        created = ensure_partitions(conn, later, months_ahead=2)
        assert created == ["events_2031_05", "events_2031_06", "events_2031_07"]
        assert ensure_partitions(conn, later, months_ahead=2) == []
        names = set(
            conn.execute(
                text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = 'events'::regclass"
                )
            ).scalars()
        )
    now = datetime.now(UTC)
    ahead = month_of(now)
    for _ in range(MONTHS_AHEAD):
        ahead = next_month(ahead)
    assert {partition_name(month_of(now)), partition_name(ahead), DEFAULT_PARTITION} <= names


@pytest.mark.postgres
def test_the_migration_moves_the_stored_events_into_months_and_back(
    fresh_postgres: str,
) -> None:
    """0012 -> 0013 -> 0012 on a store with events of two months: none lost, none doubled."""
    engine = make_engine(fresh_postgres)
    try:
        upgrade(engine, "0012")
        with engine.begin() as conn:
            conn.execute(text(_OLD_STORE))
        upgrade(engine)
        with engine.connect() as conn:
            assert _events_by_table(conn) == {"events_2025_03": 1, "events_2025_04": 1}
            assert conn.execute(text("SELECT count(*) FROM event_keys")).scalar_one() == 2
            next_seq = conn.execute(text("SELECT nextval('events_seq_seq')")).scalar_one()
            assert next_seq > 8  # the sequence went with the table
        command.downgrade(alembic_config(engine), "0012")
        with engine.connect() as conn:
            assert _events_by_table(conn) == {"events": 2}
            assert conn.execute(text("SELECT to_regclass('event_keys')")).scalar() is None
    finally:
        engine.dispose()


_OLD_STORE = """
INSERT INTO participants (address, name, roles, gln, status, rule_set, created_at, updated_at)
VALUES ('0x01', 'p', 2, '4700000000001', 'active', 'pharma', now(), now());
INSERT INTO captures (id, participant, received_at, status, event_count)
VALUES ('00000000-0000-0000-0000-000000000001', '0x01', now(), 'accepted', 2);
INSERT INTO events (seq, event_id, event_hash, salt, participant, capture_id, raw, event_time,
                    type, received_at)
VALUES (7, 'a', '\\x00', '\\x00', '0x01', '00000000-0000-0000-0000-000000000001', '{}', now(),
        'ObjectEvent', '2025-03-31 23:59:59+00'),
       (8, 'b', '\\x00', '\\x00', '0x01', '00000000-0000-0000-0000-000000000001', '{}', now(),
        'ObjectEvent', '2025-04-01 00:00:00+00');
SELECT setval('events_seq_seq', 8);
INSERT INTO capture_events (capture_id, position, event_id)
VALUES ('00000000-0000-0000-0000-000000000001', 0, 'a'),
       ('00000000-0000-0000-0000-000000000001', 1, 'b');
"""


def _events_by_table(conn: Connection) -> dict[str, int]:
    rows = conn.execute(text("SELECT tableoid::regclass::text, count(*) FROM events GROUP BY 1"))
    return {str(name): int(count) for name, count in rows.all()}
