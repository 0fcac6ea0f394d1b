"""``event_items``: the identifiers each custody-changing event named, in capture order, so that
an event declared erroneous can be undone by replaying the others (issue 16; gateway/store/
event_items.py, gateway/store/undo.py).

Filled from the stored events of the participants whose rule set is ``pharma`` (fixed at
registration: exactly the events the ``pharma`` rules applied), each read and normalised once,
in ``seq`` order, a thousand at a time (tens of microseconds of Python per event: on a large
store, run it in a window).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 15:00:00.000000
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from gateway.store.event_items import named_identifiers
from medledger.epcis.normalise import normalise_event
from medledger.epcis.terms import default_vocabulary
from medledger.errors import ValidationError

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_PAGE = 1000


def upgrade() -> None:
    op.create_table(
        "event_items",
        sa.Column("identifier", sa.String(length=512), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("packing", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("identifier", "seq", name=op.f("pk_event_items")),
    )
    _backfill(op.get_bind())


def _backfill(bind: sa.Connection) -> None:
    table = sa.table(
        "event_items",
        sa.column("identifier", sa.String()),
        sa.column("seq", sa.BigInteger()),
        sa.column("packing", sa.Boolean()),
    )
    page = sa.text(
        "SELECT e.seq, e.raw FROM events e JOIN participants p ON p.address = e.participant "
        "WHERE p.rule_set = 'pharma' AND e.seq > :after ORDER BY e.seq LIMIT :limit"
    )
    vocabulary = default_vocabulary()
    after = -1
    while True:
        rows = bind.execute(page, {"after": after, "limit": _PAGE}).all()
        if not rows:
            return
        values: list[dict[str, object]] = []
        for seq, raw in rows:
            try:
                event = normalise_event(json.loads(raw), 0, vocabulary)
            except (ValidationError, ValueError):
                continue  # not under today's rules: never replayed
            values.extend(
                {"identifier": identifier, "seq": seq, "packing": packing}
                for identifier, packing in named_identifiers(event).items()
            )
        if values:
            bind.execute(sa.insert(table), values)
        after = rows[-1][0]


def downgrade() -> None:
    op.drop_table("event_items")
