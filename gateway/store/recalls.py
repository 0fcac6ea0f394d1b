"""Recalls, notifications and the webhook outbox (see ``docs/recalls.md``).

:func:`record_recall` and :func:`record_release` each do **one transaction**: the recall row,
the ``recalled_lots`` row the pharma rules read (so the next capture already sees the lot
recalled), one notification per holder of the lot with what it holds, and one outbox row per
notification whose participant has a webhook. The holdings are read under
:func:`~gateway.store.custody_view.custody_lock`, so no capture changes them half-way.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from medledger.errors import StoreConflictError
from servicekit.sql.helpers import utcnow

from .custody_view import custody_lock, to_decimal
from .models import (
    DeliveryRow,
    ItemRow,
    NotificationRow,
    ParticipantRow,
    QuantityRow,
    RecalledLotRow,
    RecallRow,
    WebhookRow,
)

#: Item statuses that still count as stock of a lot (held, or on its way somewhere).
_LIVE = ("active", "in_transit")


@dataclass(frozen=True)
class RecallRecord:
    id: int
    gtin: str
    lot: str
    state: str  # recalled | released
    reason: str
    reason_code: int
    recalled_by: str
    recalled_at: datetime
    recall_tx: str | None
    released_by: str | None
    released_at: datetime | None
    release_reason: str | None
    release_reason_code: int | None
    release_tx: str | None
    notified: int = 0  # notifications created by the call that returned this record


@dataclass(frozen=True)
class NotificationRecord:
    id: int
    participant: str
    kind: str  # recall | release | suspension | lift
    recall_id: int | None  # None: a suspension's (or its lifting's) notice
    gtin: str
    lot: str
    reason: str
    reason_code: int
    holding: dict[str, Any]
    created_at: datetime
    suspension_id: int | None = None  # the suspension (lifted, or escalated to the recall)


@dataclass(frozen=True)
class Webhook:
    participant: str
    url: str
    secret: str
    created_at: datetime


@dataclass(frozen=True)
class DeliveryRecord:
    notification_id: int
    participant: str
    state: str  # pending | delivered | failed
    attempts: int
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    url: str | None
    delivered_at: datetime | None


@dataclass(frozen=True)
class DueDelivery:
    """A pending delivery, with the notification to send and where to send it."""

    delivery: DeliveryRecord
    notification: NotificationRecord
    webhook: Webhook | None  # None: the participant removed its webhook since


def _recall(row: RecallRow, notified: int = 0) -> RecallRecord:
    return RecallRecord(
        id=row.id,
        gtin=row.gtin,
        lot=row.lot,
        state=row.state,
        reason=row.reason,
        reason_code=row.reason_code,
        recalled_by=row.recalled_by,
        recalled_at=row.recalled_at,
        recall_tx=row.recall_tx,
        released_by=row.released_by,
        released_at=row.released_at,
        release_reason=row.release_reason,
        release_reason_code=row.release_reason_code,
        release_tx=row.release_tx,
        notified=notified,
    )


def _notification(row: NotificationRow) -> NotificationRecord:
    return NotificationRecord(
        id=row.id,
        participant=row.participant,
        kind=row.kind,
        recall_id=row.recall_id,
        gtin=row.gtin,
        lot=row.lot,
        reason=row.reason,
        reason_code=row.reason_code,
        holding=dict(row.holding),
        created_at=row.created_at,
        suspension_id=row.suspension_id,
    )


def _webhook(row: WebhookRow) -> Webhook:
    return Webhook(
        participant=row.participant, url=row.url, secret=row.secret, created_at=row.created_at
    )


def _delivery(row: DeliveryRow) -> DeliveryRecord:
    return DeliveryRecord(
        notification_id=row.notification_id,
        participant=row.participant,
        state=row.state,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_attempt_at=row.last_attempt_at,
        last_status=row.last_status,
        last_error=row.last_error,
        url=row.url,
        delivered_at=row.delivered_at,
    )


# --- lots and holdings ------------------------------------------------------------------------


def lot_known(session: Session, gtin: str, lot: str) -> bool:
    """The gateway has seen the lot: a pack of it, or the lot itself, was commissioned here."""
    found = session.scalar(
        select(ItemRow.identifier).where(ItemRow.gtin == gtin, ItemRow.lot == lot).limit(1)
    )
    session.rollback()
    return found is not None


def _empty_holding() -> dict[str, Any]:
    return {"packs": {"held": 0, "outbound": 0, "inbound": 0}, "quantities": []}


def holdings(session: Session, gtin: str, lot: str) -> dict[str, dict[str, Any]]:
    """What each participant has of the lot now, in the session's transaction.

    ``packs``: instances (packs; cases carry no lot) ``held`` (active, in its custody),
    ``outbound`` (shipped by it, not yet received) and ``inbound`` (shipped to it).
    ``quantities``: class-level stock of the lot (kilograms of an API lot), per unit, as
    decimal strings. Participants with nothing are left out.
    """
    result: dict[str, dict[str, Any]] = defaultdict(_empty_holding)
    class_ids: list[str] = []
    counts = session.execute(
        select(ItemRow.status, ItemRow.holder, ItemRow.in_transit_to, func.count())
        .where(ItemRow.gtin == gtin, ItemRow.lot == lot, ItemRow.status.in_(_LIVE))
        .where(ItemRow.identifier.like("%/21/%"))
        .group_by(ItemRow.status, ItemRow.holder, ItemRow.in_transit_to)
    )
    for status, holder, to, count in counts:
        if status == "active":
            result[holder]["packs"]["held"] += int(count)
        else:
            result[holder]["packs"]["outbound"] += int(count)
            if to is not None:
                result[to]["packs"]["inbound"] += int(count)
    class_ids = list(
        session.scalars(
            select(ItemRow.identifier).where(
                ItemRow.gtin == gtin, ItemRow.lot == lot, ItemRow.identifier.like("%/10/%")
            )
        )
    )
    if class_ids:
        amounts: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(
            lambda: {"held": Decimal(0), "outbound": Decimal(0), "inbound": Decimal(0)}
        )
        rows = session.execute(
            select(
                QuantityRow.holder,
                QuantityRow.in_transit_to,
                QuantityRow.uom,
                func.sum(QuantityRow.quantity),
            )
            .where(QuantityRow.class_id.in_(class_ids))
            .group_by(QuantityRow.holder, QuantityRow.in_transit_to, QuantityRow.uom)
        )
        for holder, to, uom, total in rows:
            amount = to_decimal(total)
            if amount == 0:
                continue
            if to is None:
                amounts[(holder, uom)]["held"] += amount
            else:
                amounts[(holder, uom)]["outbound"] += amount
                amounts[(to, uom)]["inbound"] += amount
        for (participant, uom), values in sorted(amounts.items()):
            result[participant]["quantities"].append(
                {"uom": uom, **{k: _decimal_text(v) for k, v in values.items()}}
            )
    return {p: h for p, h in result.items() if _holds_any(h)}


def _decimal_text(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def _holds_any(holding: dict[str, Any]) -> bool:
    packs = holding["packs"]
    return bool(packs["held"] or packs["outbound"] or packs["inbound"] or holding["quantities"])


# --- recalls ----------------------------------------------------------------------------------


def active_recall(session: Session, gtin: str, lot: str) -> RecallRecord | None:
    row = session.scalar(
        select(RecallRow).where(
            RecallRow.gtin == gtin, RecallRow.lot == lot, RecallRow.state == "recalled"
        )
    )
    record = _recall(row) if row is not None else None
    session.rollback()
    return record


def list_recalls(session: Session, *, active: bool | None = None) -> list[RecallRecord]:
    query = select(RecallRow).order_by(RecallRow.id)
    if active is not None:
        query = query.where(RecallRow.state == ("recalled" if active else "released"))
    records = [_recall(row) for row in session.scalars(query)]
    session.rollback()
    return records


def record_recall(
    session: Session,
    *,
    gtin: str,
    lot: str,
    reason: str,
    reason_code: int,
    by: str,
    tx_hash: str | None,
) -> RecallRecord:
    """The recall, the lot marked recalled for the rules, holders notified: one commit."""
    try:
        custody_lock(session)
        if session.scalar(
            select(RecallRow.id).where(
                RecallRow.gtin == gtin, RecallRow.lot == lot, RecallRow.state == "recalled"
            )
        ):
            raise StoreConflictError(f"lot {lot} of GTIN {gtin} is already recalled")
        now = utcnow()
        row = RecallRow(
            gtin=gtin,
            lot=lot,
            state="recalled",
            reason=reason,
            reason_code=reason_code,
            recalled_by=by,
            recalled_at=now,
            recall_tx=tx_hash,
        )
        session.add(row)
        if session.get(RecalledLotRow, (gtin, lot)) is None:
            session.add(RecalledLotRow(gtin=gtin, lot=lot, recalled_at=now))
        session.flush()
        held = holdings(session, gtin, lot)
        notified = notify(session, gtin, lot, "recall", reason, reason_code, held, now, recall=row)
        record = _recall(row, notified)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return record


def record_release(
    session: Session,
    *,
    gtin: str,
    lot: str,
    reason: str,
    reason_code: int,
    by: str,
    tx_hash: str | None,
) -> RecallRecord:
    """The recall lifted, the lot movable again, holders (and those told of the recall)
    notified: one commit."""
    try:
        custody_lock(session)
        row = session.scalar(
            select(RecallRow).where(
                RecallRow.gtin == gtin, RecallRow.lot == lot, RecallRow.state == "recalled"
            )
        )
        if row is None:
            raise StoreConflictError(f"lot {lot} of GTIN {gtin} is not recalled")
        now = utcnow()
        row.state = "released"
        row.released_by = by
        row.released_at = now
        row.release_reason = reason
        row.release_reason_code = reason_code
        row.release_tx = tx_hash
        session.execute(
            delete(RecalledLotRow).where(RecalledLotRow.gtin == gtin, RecalledLotRow.lot == lot)
        )
        held = holdings(session, gtin, lot)
        told = session.scalars(
            select(NotificationRow.participant).where(
                NotificationRow.recall_id == row.id, NotificationRow.kind == "recall"
            )
        )
        for participant in told:
            held.setdefault(participant, _empty_holding())
        notified = notify(session, gtin, lot, "release", reason, reason_code, held, now, recall=row)
        record = _recall(row, notified)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return record


def notify(
    session: Session,
    gtin: str,
    lot: str,
    kind: str,
    reason: str,
    reason_code: int,
    held: dict[str, dict[str, Any]],
    now: datetime,
    *,
    recall: RecallRow | None = None,
    suspension_id: int | None = None,
) -> int:
    """One notification per participant of ``held``, and an outbox row where there is a hook;
    about ``recall`` or the suspension ``suspension_id`` (an escalated one: both)."""
    if not held:
        return 0
    known = set(
        session.scalars(select(ParticipantRow.address).where(ParticipantRow.address.in_(held)))
    )
    hooked = set(
        session.scalars(select(WebhookRow.participant).where(WebhookRow.participant.in_(held)))
    )
    count = 0
    for participant in sorted(held):
        if participant not in known:
            continue
        note = NotificationRow(
            participant=participant,
            kind=kind,
            recall_id=recall.id if recall is not None else None,
            suspension_id=suspension_id,
            gtin=gtin,
            lot=lot,
            reason=reason,
            reason_code=reason_code,
            holding=held[participant],
            created_at=now,
        )
        session.add(note)
        session.flush()
        count += 1
        if participant in hooked:
            session.add(
                DeliveryRow(
                    notification_id=note.id,
                    participant=participant,
                    state="pending",
                    attempts=0,
                    next_attempt_at=now,
                )
            )
    return count


# --- notifications ----------------------------------------------------------------------------


def notifications_for(
    session: Session, participant: str, *, after: int = 0, limit: int = 100
) -> list[NotificationRecord]:
    """The participant's notifications with an id above ``after``, oldest first."""
    rows = session.scalars(
        select(NotificationRow)
        .where(NotificationRow.participant == participant, NotificationRow.id > after)
        .order_by(NotificationRow.id)
        .limit(limit)
    )
    records = [_notification(row) for row in rows]
    session.rollback()
    return records


def recall_exists(session: Session, recall_id: int) -> bool:
    found = session.get(RecallRow, recall_id) is not None
    session.rollback()
    return found


def notifications_of_recall(
    session: Session, recall_id: int
) -> list[tuple[NotificationRecord, DeliveryRecord | None]]:
    """Every notification of the recall (its recall's, then its release's), each with its
    webhook delivery (None: the participant had no webhook; it reads its feed)."""
    rows = session.execute(
        select(NotificationRow, DeliveryRow)
        .outerjoin(DeliveryRow, DeliveryRow.notification_id == NotificationRow.id)
        .where(NotificationRow.recall_id == recall_id)
        .order_by(NotificationRow.id)
    )
    found: list[tuple[NotificationRecord, DeliveryRecord | None]] = [
        (_notification(n), _delivery(d) if d is not None else None) for n, d in rows
    ]
    session.rollback()
    return found


# --- webhooks ---------------------------------------------------------------------------------


def set_webhook(session: Session, participant: str, url: str) -> Webhook:
    """Register (or replace) the participant's webhook with a new secret, and commit."""
    secret = "whsec_" + secrets.token_urlsafe(32)
    row = session.get(WebhookRow, participant)
    if row is None:
        row = WebhookRow(participant=participant, url=url, secret=secret, created_at=utcnow())
        session.add(row)
    else:
        row.url, row.secret, row.created_at = url, secret, utcnow()
    hook = _webhook(row)
    session.commit()
    return hook


def get_webhook(session: Session, participant: str) -> Webhook | None:
    row = session.get(WebhookRow, participant)
    hook = _webhook(row) if row is not None else None
    session.rollback()
    return hook


def delete_webhook(session: Session, participant: str) -> bool:
    """Remove the webhook; pending deliveries then fail at their next attempt."""
    result = session.execute(delete(WebhookRow).where(WebhookRow.participant == participant))
    session.commit()
    return bool(getattr(result, "rowcount", 0))


# --- the outbox -------------------------------------------------------------------------------


def due_deliveries(session: Session, now: datetime, *, limit: int = 100) -> list[DueDelivery]:
    """Pending deliveries whose next attempt is due, oldest notification first."""
    rows = session.execute(
        select(DeliveryRow, NotificationRow, WebhookRow)
        .join(NotificationRow, NotificationRow.id == DeliveryRow.notification_id)
        .outerjoin(WebhookRow, WebhookRow.participant == DeliveryRow.participant)
        .where(DeliveryRow.state == "pending", DeliveryRow.next_attempt_at <= now)
        .order_by(DeliveryRow.notification_id)
        .limit(limit)
    )
    due = [
        DueDelivery(
            delivery=_delivery(d),
            notification=_notification(n),
            webhook=_webhook(w) if w is not None else None,
        )
        for d, n, w in rows
    ]
    session.rollback()
    return due


def record_attempt(
    session: Session,
    notification_id: int,
    *,
    at: datetime,
    url: str | None,
    status: int | None,
    error: str | None,
    next_attempt_at: datetime | None,
) -> DeliveryRecord:
    """Record one attempt: delivered (no ``error``), retried at ``next_attempt_at``, or given up
    (an error and no next attempt). Commits."""
    row = session.get(DeliveryRow, notification_id)
    if row is None:
        session.rollback()
        raise StoreConflictError(f"no delivery for notification {notification_id}")
    row.attempts += 1
    row.last_attempt_at = at
    row.last_status = status
    row.last_error = error
    row.url = url
    if error is None:
        row.state = "delivered"
        row.delivered_at = at
    elif next_attempt_at is None:
        row.state = "failed"
    else:
        row.next_attempt_at = next_attempt_at
    record = _delivery(row)
    session.commit()
    return record


def get_delivery(session: Session, notification_id: int) -> DeliveryRecord | None:
    row = session.get(DeliveryRow, notification_id)
    record = _delivery(row) if row is not None else None
    session.rollback()
    return record
