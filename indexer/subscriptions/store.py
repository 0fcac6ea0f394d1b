"""Webhook subscriptions to a named query (``POST /queries/{name}/subscriptions``): checked,
stored, listed, deleted. Delivery: indexer/subscriptions/delivery.py.

A subscription is a standing query, either ``stream`` (every new matching event, as soon as it
is deliverable; the binding's ``QueryStreamSubscription``) or ``schedule`` (the events recorded
since the last run, at each time the schedule names: medledger/epcis/query_schedule.py; with
``reportIfEmpty`` an empty document when there are none), never both. Its **cursor** starts at
the events recorded before ``initialRecordTime`` (recordTime is the anchoring block's time), or
before now: every event the index holds now is behind it.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from indexer.queries.common import iso
from indexer.store.models import (
    SEQ_BLOCK,
    AnchorRow,
    BlockRow,
    EventRow,
    SubscriptionRow,
    first_sequence_of_block,
)
from indexer.store.writes import get_checkpoint
from indexer.subscriptions.named import NamedQuery
from medledger.epcis.query import parse_query
from medledger.epcis.query_schedule import parse_schedule
from medledger.errors import NotFoundError, SubscriptionControlsError, ValidationError, echo
from servicekit.sql.helpers import utcnow
from servicekit.webhook_targets import TargetPolicy

#: Subscriptions one named query may have.
MAX_SUBSCRIPTIONS = 10
TOKEN_MAX = 500
_FIELDS = {"dest", "signatureToken", "reportIfEmpty", "stream", "schedule", "initialRecordTime"}


def _fail(pointer: str, message: str, rule: str = "subscription.controls") -> Exception:
    return SubscriptionControlsError(message, rule=rule, pointer=pointer)


@dataclass(frozen=True)
class Controls:
    """A subscription's controls as checked."""

    dest: str
    signature_token: str | None
    report_if_empty: bool
    initial_record_time: datetime | None
    #: the schedule as given (None: a stream)
    schedule: dict[str, Any] | None = None

    def next_run(self, after: datetime) -> datetime | None:
        return None if self.schedule is None else next_run(self.schedule, after)


def next_run(schedule: dict[str, Any], after: datetime) -> datetime | None:
    """When a schedule runs next after ``after``."""
    return parse_schedule(schedule, after).next_after(after)


def controls(body: Any, targets: TargetPolicy) -> Controls:
    """The controls of a ``POST /queries/{name}/subscriptions`` body (400 if not acceptable:
    no ``dest``, a destination the webhook rules refuse, neither ``stream`` nor ``schedule``,
    both, a schedule malformed or never due, an unknown member)."""
    if not isinstance(body, dict):
        raise _fail("", 'a subscription is a JSON object: {"dest": ..., "stream": true}')
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise _fail(f"/{unknown[0]}"[:200], f"not a subscription control: {echo(unknown[0])}")
    dest = body.get("dest")
    if not isinstance(dest, str):
        raise _fail("/dest", "dest: the webhook URL to deliver to (a string)")
    try:
        targets.check_url(dest, pointer="/dest")
    except ValidationError as exc:
        raise _fail("/dest", str(exc), exc.rule or "webhook.url") from None
    token = body.get("signatureToken")
    if token is not None and (not isinstance(token, str) or not 0 < len(token) <= TOKEN_MAX):
        raise _fail("/signatureToken", f"signatureToken: a string of 1 to {TOKEN_MAX} characters")
    schedule = None
    if "schedule" in body:
        if "stream" in body:
            raise _fail("/stream", "stream and schedule exclude each other")
        parse_schedule(body["schedule"])
        schedule = body["schedule"]
    elif body.get("stream") is not True:
        raise _fail("/stream", 'a subscription needs "stream": true or a schedule')
    report = body.get("reportIfEmpty", False)
    if not isinstance(report, bool):
        raise _fail("/reportIfEmpty", "reportIfEmpty: true or false")
    initial = body.get("initialRecordTime")
    moment = None
    if initial is not None:
        if not isinstance(initial, str):
            raise _fail("/initialRecordTime", "initialRecordTime: a date-time")
        moment = parse_query([("GE_recordTime", initial)]).record_time.ge
    return Controls(dest, token, report, moment, schedule)


def start_cursor(session: Session, initial: datetime | None) -> int:
    """The cursor a new subscription starts at: behind every event recorded before
    ``initial``, or every event the index holds (without it)."""
    if initial is not None:
        last = session.scalar(
            select(func.max(EventRow.seq))
            .join(AnchorRow, AnchorRow.root == EventRow.root)
            .where(AnchorRow.block_timestamp < math.ceil(initial.timestamp()))
        )
        return -1 if last is None else int(last)
    checkpoint = get_checkpoint(session)
    return -1 if checkpoint is None else first_sequence_of_block(checkpoint.block_number + 1) - 1


def subscribe(session: Session, query: NamedQuery, given: Controls) -> SubscriptionRow:
    count = session.scalar(
        select(func.count())
        .select_from(SubscriptionRow)
        .where(SubscriptionRow.query_id == query.id)
    )
    if (count or 0) >= MAX_SUBSCRIPTIONS:
        raise _fail("", f"a named query has at most {MAX_SUBSCRIPTIONS} subscriptions")
    now = utcnow()
    row = SubscriptionRow(
        id=str(uuid.uuid4()),
        schedule=None if given.schedule is None else json.dumps(given.schedule),
        next_run_at=given.next_run(now),
        query_id=query.id,
        dest=given.dest,
        signature_token=given.signature_token,
        report_if_empty=given.report_if_empty,
        initial_record_time=given.initial_record_time,
        created_at=now,
        cursor=start_cursor(session, given.initial_record_time),
        batch_end=None,
        attempts=0,
    )
    session.add(row)
    session.flush()
    return row


def listing(session: Session, query: NamedQuery) -> list[SubscriptionRow]:
    return list(
        session.scalars(
            select(SubscriptionRow)
            .where(SubscriptionRow.query_id == query.id)
            .order_by(SubscriptionRow.created_at, SubscriptionRow.id)
        )
    )


def find(session: Session, query: NamedQuery, subscription_id: str) -> SubscriptionRow:
    row = session.get(SubscriptionRow, subscription_id[:36])
    if row is None or row.query_id != query.id:
        raise NotFoundError(f"the query has no subscription {subscription_id[:100]!r}")
    return row


def unsubscribe(session: Session, query: NamedQuery, subscription_id: str) -> None:
    row = find(session, query, subscription_id)
    session.execute(delete(SubscriptionRow).where(SubscriptionRow.id == row.id))


def public(session: Session, row: SubscriptionRow, name: str) -> dict[str, Any]:
    """As the binding shows a subscription (never its signature token)."""
    out: dict[str, Any] = {
        "subscriptionID": row.id,
        "queryName": name,
        "dest": row.dest,
        "createdAt": iso(row.created_at),
        "reportIfEmpty": row.report_if_empty,
    }
    if row.schedule is None:
        out["stream"] = True
    else:
        out["schedule"] = json.loads(row.schedule)
    if row.initial_record_time is not None:
        out["initialRecordTime"] = iso(row.initial_record_time)
    if row.last_notified_at is not None:
        out["lastNotifiedAt"] = iso(row.last_notified_at)
    out["minRecordTime"] = iso(min_record_time(session, row))
    return out


def min_record_time(session: Session, row: SubscriptionRow) -> datetime:
    """The binding's ``minRecordTime``, "initially ``initialRecordTime``, then updated to the
    most recent execution": ``initialRecordTime`` (default: when it was made) until a receiver
    acknowledges a delivery, then the recordTime (the anchoring block's time) of the last
    event delivered, the cursor's block: every event still to come was recorded then or later
    (an event of that block and after), so it is the bound of the next run."""
    start = row.initial_record_time or row.created_at
    if row.last_notified_at is None:
        return start
    stamp = session.scalar(  # the cursor's block, else the last block read before it
        select(BlockRow.timestamp)
        .where(BlockRow.number <= row.cursor // SEQ_BLOCK)
        .order_by(BlockRow.number.desc())
        .limit(1)
    )
    if stamp is None:
        return start
    return max(start, datetime.fromtimestamp(stamp, UTC))
