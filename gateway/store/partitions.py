"""Monthly partitions of ``events`` on PostgreSQL (issue 19; docs/storage.md, docs/scaling.md).

On PostgreSQL ``events`` is range-partitioned by ``received_at``, one partition a month
(``events_2026_12`` holds December 2026, UTC), plus ``events_default`` for anything no month
partition takes (empty while the months ahead exist). A partitioned table's unique constraints
must include its partition key, so the global uniqueness of ``event_id``, and the foreign keys
of ``capture_events`` and ``error_declarations`` to it, live in the unpartitioned
``event_keys (event_id PRIMARY KEY, received_at)``; capture inserts a key first and the event
only if the key was new (gateway/store/capture.py). SQLite keeps one plain ``events`` table.

Every start (:func:`gateway.store.engine.upgrade`) creates the partitions of the current month
and the :data:`MONTHS_AHEAD` after it that are missing, so a gateway restarted at least once a
year never writes into the default partition. (A month partition cannot be created while the
default partition holds rows of that month: move them out first.)
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Connection, text

#: The partitioned table, and the partition that takes what no month does.
EVENTS = "events"
DEFAULT_PARTITION = "events_default"
#: Month partitions made ahead of the current month at every start.
MONTHS_AHEAD = 12

#: Where PostgreSQL's schema differs on purpose from the models (which SQLite follows): the
#: keys table, events' non-unique ``event_id`` index instead of a unique constraint, the
#: foreign keys that point at ``event_keys`` instead of ``events``, those PostgreSQL does not
#: check row by row on what a capture and a seal write (migration 0017), and the index of
#: ``capture_events`` by event no query reads (0018).
POSTGRESQL_ONLY = frozenset(
    {
        "event_keys",
        "ix_events_event_id",
        "uq_events_event_id",
        "fk_capture_events_event_id_events",
        "fk_capture_events_event_id_event_keys",
        "fk_error_declarations_event_id_events",
        "fk_error_declarations_event_id_event_keys",
        "fk_events_capture_id_captures",
        "fk_events_participant_participants",
        "fk_events_batch_id_batches",
        "fk_capture_events_capture_id_captures",
        "ix_capture_events_event_id",
    }
)


def month_of(moment: date) -> date:
    return date(moment.year, moment.month, 1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def partition_name(month: date) -> str:
    return f"{EVENTS}_{month:%Y_%m}"


def create_partition_sql(month: date) -> str:
    """``CREATE TABLE`` of the partition holding ``month`` (UTC month bounds)."""
    return (
        f"CREATE TABLE IF NOT EXISTS {partition_name(month)} PARTITION OF {EVENTS} "
        f"FOR VALUES FROM ('{month:%Y-%m-%d} 00:00:00+00') "
        f"TO ('{next_month(month):%Y-%m-%d} 00:00:00+00')"
    )


def months(first: date, last: date) -> list[date]:
    """Every month from ``first``'s to ``last``'s, both included."""
    found, month = [], month_of(first)
    while month <= month_of(last):
        found.append(month)
        month = next_month(month)
    return found


def is_partitioned(connection: Connection) -> bool:
    """Whether ``events`` is a partitioned table here (PostgreSQL at migration 0013 or later)."""
    if connection.dialect.name != "postgresql":
        return False
    kind = connection.execute(
        text("SELECT relkind FROM pg_class WHERE oid = to_regclass(:name)"), {"name": EVENTS}
    ).scalar()
    return kind == "p"


def ensure_partitions(
    connection: Connection, now: datetime | None = None, months_ahead: int = MONTHS_AHEAD
) -> list[str]:
    """Create the missing month partitions from ``now``'s month to ``months_ahead`` after it;
    the names created. Nothing on SQLite or an unpartitioned table. Does not commit."""
    if not is_partitioned(connection):
        return []
    current = month_of(now or datetime.now(UTC))
    wanted = [current]
    for _ in range(months_ahead):
        wanted.append(next_month(wanted[-1]))
    existing = set(
        connection.execute(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = to_regclass(:name)"
            ),
            {"name": EVENTS},
        ).scalars()
    )
    created = []
    for month in wanted:
        if partition_name(month) not in existing:
            connection.execute(text(create_partition_sql(month)))
            created.append(partition_name(month))
    return created
