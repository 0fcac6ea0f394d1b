"""PostgreSQL: no per-row foreign key checks on what a capture and a seal write (issue 19).

PostgreSQL checks a foreign key row by row: a query and a row lock on the referenced row for each
row written. A document of 1,000 events made 4,000 of them (each event's capture and
participant, each link's capture and event key) and its seal 1,000 more (each event's batch):
about a quarter of PostgreSQL's CPU per captured event. Each one checked what the same
transaction had just written: :func:`gateway.store.capture.record_capture` inserts the capture
row (whose own foreign key to ``participants`` stays) and then its events and links with that
capture's id and participant, and every link's event key exists once the insert before it ran;
:func:`gateway.store.batches.seal_batches` inserts the batch and then sets its id on its events.
Nothing deletes participants, captures, event keys or batches. SQLite keeps the constraints
(the models declare them; ``gateway/store/partitions.py`` lists what PostgreSQL leaves out).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 21:50:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

#: (table, constraint, column, referenced table and column)
_CHECKS = (
    ("events", "fk_events_capture_id_captures", "capture_id", "captures (id)"),
    ("events", "fk_events_participant_participants", "participant", "participants (address)"),
    ("events", "fk_events_batch_id_batches", "batch_id", "batches (id)"),
    ("capture_events", "fk_capture_events_capture_id_captures", "capture_id", "captures (id)"),
    ("capture_events", "fk_capture_events_event_id_event_keys", "event_id", "event_keys(event_id)"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, name, _, _ in _CHECKS:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, name, column, referenced in _CHECKS:
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({column}) "
            f"REFERENCES {referenced}"
        )
