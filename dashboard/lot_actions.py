"""Who pressed Recall, Release, Suspend, Lift or Escalate: the dashboard's log of its actions
on lots (``ix_dashboard_actions``), written once the gateway accepted the call and read by the
recall and lot pages. The gateway is called with one regulator key for every dashboard user, so
the person is known here only: the signed-in session's reader key and its holder."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard.sessions import SignedIn
from indexer.store.models import DashboardActionRow

#: the most recent actions a page lists
SHOWN = 50


def record(
    session: Session,
    signed: SignedIn,
    change: str,
    lot: tuple[str, str],
    *,
    reason: str,
    case: str,
    done: dict[str, Any],
    now: datetime,
) -> DashboardActionRow:
    """Log ``change`` of ``lot`` (GTIN, lot number) by the session ``signed``, as the gateway
    answered it (``done``: its recall or suspension). The caller commits."""
    reference = done.get("id")
    row = DashboardActionRow(
        at=now,
        action=change,
        gtin=lot[0],
        lot=lot[1],
        reason=reason or None,
        case_number=case or None,
        actor=signed.name,
        key_id=signed.key_id,
        reference=None if reference is None else str(reference)[:64],
    )
    session.add(row)
    session.flush()
    return row


def of_lot(session: Session, gtin: str, lot: str) -> list[DashboardActionRow]:
    """The lot's most recent actions (up to :data:`SHOWN`), the latest first."""
    return list(
        session.scalars(
            select(DashboardActionRow)
            .where(DashboardActionRow.gtin == gtin, DashboardActionRow.lot == lot)
            .order_by(DashboardActionRow.id.desc())
            .limit(SHOWN)
        )
    )
