"""The alerts page's reads: alerts by kind, severity, region, participant, time and triage
state, newest first in pages, and their counts by kind and by day.

An alert's time is its block's (``ix_blocks`` keeps every block with logs and each checkpoint
block, so every alert's). A participant keeps the alerts that name it in a party field of their
evidence (``indexer.queries.alerts.PARTY_FIELDS``); a region those concerning it as
``GET /alerts?region=`` says (:func:`indexer.queries.alerts.concerning`: a party there by its
site's master data, else its registered region, or a location there); an inspector's scope (the
rule its ``GET /alerts`` follows: its region's registered participants) is applied on top."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from indexer.queries.alerts import PARTY_FIELDS, concerning
from indexer.queries.pages import Page, check_limit, decode_cursor, page_of
from indexer.queries.scope import Scope
from indexer.store.models import AlertRow, AlertTriageRow, BlockRow


@dataclass(frozen=True)
class AlertFilter:
    """What the page was asked for (None: any); the page validates each before."""

    kind: str | None = None
    severity: str | None = None
    region: str | None = None
    participant: str | None = None
    since: date | None = None
    until: date | None = None  # inclusive
    state: str | None = None


def _naming(parties: list[str]) -> ColumnElement[bool]:
    return or_(*(AlertRow.evidence[f].as_string().in_(parties) for f in PARTY_FIELDS))


def _seconds(day: date) -> int:
    return int(datetime.combine(day, time(), UTC).timestamp())


def conditions(session: Session, wanted: AlertFilter, scope: Scope) -> list[ColumnElement[bool]]:
    """The WHERE of ``wanted`` within ``scope`` (the query joins :class:`BlockRow` and, for a
    state, :class:`AlertTriageRow`)."""
    where: list[ColumnElement[bool]] = []
    if wanted.kind is not None:
        where.append(AlertRow.kind == wanted.kind)
    if wanted.severity is not None:
        where.append(AlertRow.severity == wanted.severity)
    parties = scope.participants(session)
    if parties is not None:  # an inspector: its region's participants, as GET /alerts
        where.append(_naming(parties))
    if wanted.region is not None:  # master data, as GET /alerts?region=
        where.append(concerning(session, wanted.region))
    if wanted.participant is not None:
        where.append(_naming([wanted.participant]))
    if wanted.since is not None:
        where.append(BlockRow.timestamp >= _seconds(wanted.since))
    if wanted.until is not None:
        where.append(BlockRow.timestamp < _seconds(wanted.until + timedelta(days=1)))
    if wanted.state == "open":
        where.append(or_(AlertTriageRow.state.is_(None), AlertTriageRow.state == "open"))
    elif wanted.state is not None:
        where.append(AlertTriageRow.state == wanted.state)
    return where


def _from(query: Any) -> Any:
    return (
        query.select_from(AlertRow)
        .outerjoin(BlockRow, BlockRow.number == AlertRow.block_number)
        .outerjoin(AlertTriageRow, AlertTriageRow.alert_key == AlertRow.key)
    )


def alert_page(
    session: Session,
    wanted: AlertFilter,
    scope: Scope,
    *,
    limit: int,
    cursor: str | None = None,
) -> Page:
    """Newest first (block, then key), with each alert's ``time`` (its block's, UTC)."""
    check_limit(limit)
    after = decode_cursor("dash-alerts", cursor, (int, str))
    where = conditions(session, wanted, scope)
    if after is not None:
        where.append(
            or_(
                AlertRow.block_number < after[0],
                and_(AlertRow.block_number == after[0], AlertRow.key > after[1]),
            )
        )
    rows = list(
        session.execute(
            _from(select(AlertRow, BlockRow.timestamp))
            .where(*where)
            .order_by(AlertRow.block_number.desc(), AlertRow.key)
            .limit(limit + 1)
        ).all()
    )
    return page_of(
        rows,
        limit,
        "dash-alerts",
        lambda r: [r[0].block_number, r[0].key],
        lambda r: {"alert": r[0], "time": when(r[1])},
    )


def when(timestamp: int | None) -> str:
    """A block's time as a person reads it (UTC), or empty."""
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M")


def counts_by_kind(
    session: Session, wanted: AlertFilter, scope: Scope
) -> list[tuple[str, str, int]]:
    """(kind, severity, alerts) of the filtered alerts, most first."""
    n = func.count()
    rows = session.execute(
        _from(select(AlertRow.kind, AlertRow.severity, n))
        .where(*conditions(session, wanted, scope))
        .group_by(AlertRow.kind, AlertRow.severity)
        .order_by(n.desc(), AlertRow.kind)
    )
    return [(kind, severity, int(count)) for kind, severity, count in rows]


def counts_by_day(session: Session, wanted: AlertFilter, scope: Scope) -> list[tuple[str, int]]:
    """(day, alerts) of the filtered alerts, oldest day first (days without any left out)."""
    rows = session.execute(
        _from(select(BlockRow.timestamp, func.count()))
        .where(*conditions(session, wanted, scope))
        .group_by(BlockRow.timestamp)
    )
    days: Counter[str] = Counter()
    for timestamp, count in rows:
        days[when(timestamp)[:10] or "?"] += int(count)
    return sorted(days.items())
