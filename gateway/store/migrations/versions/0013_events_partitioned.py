"""``events`` range-partitioned by month of ``received_at`` on PostgreSQL; ``event_keys`` carries
the global uniqueness of ``event_id`` and the foreign keys to it (issue 19 step 6,
gateway/store/partitions.py). SQLite is left as it is.

The rows are copied into the new table (one statement; on a large store, run it in a window):
month partitions from the oldest event's month to 12 months after now, and a default partition.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 12:50:00.000000
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic import op
from sqlalchemy import text

from gateway.store.partitions import (
    DEFAULT_PARTITION,
    MONTHS_AHEAD,
    create_partition_sql,
    months,
)

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_REFERRERS = ("capture_events", "error_declarations")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute(
        "CREATE TABLE event_keys (event_id varchar(255) NOT NULL, "
        "received_at timestamptz NOT NULL, CONSTRAINT pk_event_keys PRIMARY KEY (event_id))"
    )
    op.execute(
        "INSERT INTO event_keys (event_id, received_at) SELECT event_id, received_at FROM events"
    )
    for table in _REFERRERS:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT fk_{table}_event_id_events")
    op.execute("ALTER TABLE events RENAME TO events_unpartitioned")
    op.execute("ALTER TABLE events_unpartitioned RENAME CONSTRAINT pk_events TO pk_events_old")
    op.execute("ALTER INDEX ix_events_batch_participant_seq RENAME TO ix_events_old_batch")
    op.execute("ALTER SEQUENCE events_seq_seq OWNED BY NONE")
    op.execute(
        "CREATE TABLE events ("
        " seq bigint NOT NULL DEFAULT nextval('events_seq_seq'::regclass),"
        " event_id varchar(255) NOT NULL, event_hash bytea NOT NULL, salt bytea NOT NULL,"
        " participant varchar(42) NOT NULL, capture_id uuid NOT NULL, raw text NOT NULL,"
        " event_time timestamptz NOT NULL, type varchar(64) NOT NULL, biz_step varchar(255),"
        " batch_id bigint, received_at timestamptz NOT NULL,"
        " CONSTRAINT pk_events PRIMARY KEY (seq, received_at),"
        " CONSTRAINT fk_events_batch_id_batches FOREIGN KEY (batch_id) REFERENCES batches (id),"
        " CONSTRAINT fk_events_capture_id_captures FOREIGN KEY (capture_id)"
        " REFERENCES captures (id),"
        " CONSTRAINT fk_events_participant_participants FOREIGN KEY (participant)"
        " REFERENCES participants (address)"
        ") PARTITION BY RANGE (received_at)"
    )
    op.execute("ALTER SEQUENCE events_seq_seq OWNED BY events.seq")
    op.execute(
        "CREATE INDEX ix_events_batch_participant_seq ON events (batch_id, participant, seq)"
    )
    op.execute("CREATE INDEX ix_events_event_id ON events (event_id)")
    oldest = bind.execute(text("SELECT min(received_at) FROM events_unpartitioned")).scalar()
    now = datetime.now(UTC)
    for month in months(oldest or now, now + timedelta(days=31 * MONTHS_AHEAD)):
        op.execute(create_partition_sql(month))
    op.execute(f"CREATE TABLE {DEFAULT_PARTITION} PARTITION OF events DEFAULT")
    op.execute("INSERT INTO events SELECT * FROM events_unpartitioned ORDER BY seq")
    op.execute("DROP TABLE events_unpartitioned")
    for table in _REFERRERS:
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT fk_{table}_event_id_event_keys "
            "FOREIGN KEY (event_id) REFERENCES event_keys (event_id)"
        )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table in _REFERRERS:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT fk_{table}_event_id_event_keys")
    op.execute("ALTER TABLE events RENAME TO events_partitioned")
    op.execute("ALTER SEQUENCE events_seq_seq OWNED BY NONE")
    op.execute("ALTER INDEX ix_events_batch_participant_seq RENAME TO ix_events_part_batch")
    op.execute("ALTER TABLE events_partitioned RENAME CONSTRAINT pk_events TO pk_events_part")
    op.execute(
        "CREATE TABLE events (LIKE events_partitioned INCLUDING DEFAULTS,"
        " CONSTRAINT pk_events PRIMARY KEY (seq),"
        " CONSTRAINT uq_events_event_id UNIQUE (event_id),"
        " CONSTRAINT fk_events_batch_id_batches FOREIGN KEY (batch_id) REFERENCES batches (id),"
        " CONSTRAINT fk_events_capture_id_captures FOREIGN KEY (capture_id)"
        " REFERENCES captures (id),"
        " CONSTRAINT fk_events_participant_participants FOREIGN KEY (participant)"
        " REFERENCES participants (address))"
    )
    op.execute("ALTER SEQUENCE events_seq_seq OWNED BY events.seq")
    op.execute(
        "CREATE INDEX ix_events_batch_participant_seq ON events (batch_id, participant, seq)"
    )
    op.execute("INSERT INTO events SELECT * FROM events_partitioned ORDER BY seq")
    op.execute("DROP TABLE events_partitioned")
    op.execute("DROP TABLE event_keys")
    for table in _REFERRERS:
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT fk_{table}_event_id_events "
            "FOREIGN KEY (event_id) REFERENCES events (event_id)"
        )
