"""Suspensions: a lot stopped pending a pharmacovigilance investigation (docs/suspensions.md).

Like :mod:`gateway.store.recalls`, each change is **one transaction** under the custody lock:
the suspension row, the ``suspended_lots`` row the pharma rules read (so the next capture already
sees it), and one notification per holder (with its outbox row). Escalating turns the suspension
into a recall in the same transaction: the recall row, ``recalled_lots``, and ``recall``
notifications that also name the suspension.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from medledger.errors import StoreConflictError
from servicekit.sql.helpers import utcnow

from .custody_view import custody_lock
from .models import (
    DeliveryRow,
    NotificationRow,
    RecalledLotRow,
    RecallRow,
    SuspendedLotRow,
    SuspensionRow,
)
from .recalls import (
    DeliveryRecord,
    NotificationRecord,
    RecallRecord,
    _delivery,
    _empty_holding,
    _notification,
    _recall,
    holdings,
    notify,
)


@dataclass(frozen=True)
class SuspensionRecord:
    id: int
    gtin: str
    lot: str
    state: str  # suspended | lifted | escalated
    case_number: str
    reason: str
    reason_code: int
    stops_shipping: bool
    suspended_by: str
    suspended_at: datetime
    suspend_tx: str | None
    closed_by: str | None
    closed_at: datetime | None
    close_reason: str | None
    close_reason_code: int | None
    close_tx: str | None
    recall_id: int | None
    notified: int = 0  # notifications created by the call that returned this record


def _suspension(row: SuspensionRow, notified: int = 0) -> SuspensionRecord:
    return SuspensionRecord(
        id=row.id,
        gtin=row.gtin,
        lot=row.lot,
        state=row.state,
        case_number=row.case_number,
        reason=row.reason,
        reason_code=row.reason_code,
        stops_shipping=row.stops_shipping,
        suspended_by=row.suspended_by,
        suspended_at=row.suspended_at,
        suspend_tx=row.suspend_tx,
        closed_by=row.closed_by,
        closed_at=row.closed_at,
        close_reason=row.close_reason,
        close_reason_code=row.close_reason_code,
        close_tx=row.close_tx,
        recall_id=row.recall_id,
        notified=notified,
    )


def _active_row(session: Session, gtin: str, lot: str) -> SuspensionRow | None:
    return session.scalar(
        select(SuspensionRow).where(
            SuspensionRow.gtin == gtin, SuspensionRow.lot == lot, SuspensionRow.state == "suspended"
        )
    )


def active_suspension(session: Session, gtin: str, lot: str) -> SuspensionRecord | None:
    row = _active_row(session, gtin, lot)
    record = _suspension(row) if row is not None else None
    session.rollback()
    return record


def list_suspensions(session: Session, *, active: bool | None = None) -> list[SuspensionRecord]:
    query = select(SuspensionRow).order_by(SuspensionRow.id)
    if active is True:
        query = query.where(SuspensionRow.state == "suspended")
    elif active is False:
        query = query.where(SuspensionRow.state != "suspended")
    records = [_suspension(row) for row in session.scalars(query)]
    session.rollback()
    return records


def suspension_exists(session: Session, suspension_id: int) -> bool:
    found = session.get(SuspensionRow, suspension_id) is not None
    session.rollback()
    return found


def record_suspension(
    session: Session,
    *,
    gtin: str,
    lot: str,
    case_number: str,
    reason: str,
    reason_code: int,
    stops_shipping: bool,
    by: str,
    tx_hash: str | None,
) -> SuspensionRecord:
    """The suspension, the lot marked suspended for the rules, holders notified: one commit."""
    try:
        custody_lock(session)
        if _active_row(session, gtin, lot) is not None:
            raise StoreConflictError(f"lot {lot} of GTIN {gtin} is already suspended")
        now = utcnow()
        row = SuspensionRow(
            gtin=gtin,
            lot=lot,
            state="suspended",
            case_number=case_number,
            reason=reason,
            reason_code=reason_code,
            stops_shipping=stops_shipping,
            suspended_by=by,
            suspended_at=now,
            suspend_tx=tx_hash,
        )
        session.add(row)
        session.merge(
            SuspendedLotRow(gtin=gtin, lot=lot, stops_shipping=stops_shipping, suspended_at=now)
        )
        session.flush()
        held = holdings(session, gtin, lot)
        notified = notify(
            session, gtin, lot, "suspension", reason, reason_code, held, now, suspension_id=row.id
        )
        record = _suspension(row, notified)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return record


def _close(
    session: Session,
    gtin: str,
    lot: str,
    *,
    state: str,
    reason: str,
    reason_code: int,
    by: str,
    tx_hash: str | None,
    now: datetime,
) -> tuple[SuspensionRow, dict[str, dict[str, Any]]]:
    """End the lot's suspension (lifted or escalated) and say who to tell: its holders now and
    everyone told of the suspension."""
    row = _active_row(session, gtin, lot)
    if row is None:
        raise StoreConflictError(f"lot {lot} of GTIN {gtin} is not suspended")
    row.state = state
    row.closed_by = by
    row.closed_at = now
    row.close_reason = reason
    row.close_reason_code = reason_code
    row.close_tx = tx_hash
    session.execute(
        delete(SuspendedLotRow).where(SuspendedLotRow.gtin == gtin, SuspendedLotRow.lot == lot)
    )
    held = holdings(session, gtin, lot)
    told = session.scalars(
        select(NotificationRow.participant).where(
            NotificationRow.suspension_id == row.id, NotificationRow.kind == "suspension"
        )
    )
    for participant in told:
        held.setdefault(participant, _empty_holding())
    return row, held


def record_lift(
    session: Session,
    *,
    gtin: str,
    lot: str,
    reason: str,
    reason_code: int,
    by: str,
    tx_hash: str | None,
) -> SuspensionRecord:
    """The suspension lifted, the lot dispensed again, holders (and those told) notified."""
    try:
        custody_lock(session)
        now = utcnow()
        row, held = _close(
            session,
            gtin,
            lot,
            state="lifted",
            reason=reason,
            reason_code=reason_code,
            by=by,
            tx_hash=tx_hash,
            now=now,
        )
        notified = notify(
            session, gtin, lot, "lift", reason, reason_code, held, now, suspension_id=row.id
        )
        record = _suspension(row, notified)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return record


def record_escalation(
    session: Session,
    *,
    gtin: str,
    lot: str,
    reason: str,
    reason_code: int,
    by: str,
    tx_hash: str | None,
) -> tuple[SuspensionRecord, RecallRecord]:
    """The suspension escalated to a recall of the lot, and its holders (and those told of the
    suspension) notified of the recall: one commit."""
    try:
        custody_lock(session)
        if session.scalar(
            select(RecallRow.id).where(
                RecallRow.gtin == gtin, RecallRow.lot == lot, RecallRow.state == "recalled"
            )
        ):
            raise StoreConflictError(f"lot {lot} of GTIN {gtin} is already recalled")
        now = utcnow()
        row, held = _close(
            session,
            gtin,
            lot,
            state="escalated",
            reason=reason,
            reason_code=reason_code,
            by=by,
            tx_hash=tx_hash,
            now=now,
        )
        recall = RecallRow(
            gtin=gtin,
            lot=lot,
            state="recalled",
            reason=reason,
            reason_code=reason_code,
            recalled_by=by,
            recalled_at=now,
            recall_tx=tx_hash,
        )
        session.add(recall)
        if session.get(RecalledLotRow, (gtin, lot)) is None:
            session.add(RecalledLotRow(gtin=gtin, lot=lot, recalled_at=now))
        session.flush()
        row.recall_id = recall.id
        notified = notify(
            session,
            gtin,
            lot,
            "recall",
            reason,
            reason_code,
            held,
            now,
            recall=recall,
            suspension_id=row.id,
        )
        records = _suspension(row, notified), _recall(recall, notified)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return records


def notifications_of_suspension(
    session: Session, suspension_id: int
) -> list[tuple[NotificationRecord, DeliveryRecord | None]]:
    """Every notification of the suspension (its own, its lifting's or its escalation's), each
    with its webhook delivery (None: no webhook)."""
    rows = session.execute(
        select(NotificationRow, DeliveryRow)
        .outerjoin(DeliveryRow, DeliveryRow.notification_id == NotificationRow.id)
        .where(NotificationRow.suspension_id == suspension_id)
        .order_by(NotificationRow.id)
    )
    found: list[tuple[NotificationRecord, DeliveryRecord | None]] = [
        (_notification(n), _delivery(d) if d is not None else None) for n, d in rows
    ]
    session.rollback()
    return found
