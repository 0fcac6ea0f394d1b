"""Alerts: what a regulator should look at (integrity failures, custody anomalies), newest
first."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from indexer.queries.pages import DEFAULT_LIMIT, Page, check_limit, decode_cursor, page_of
from indexer.store.models import AlertRow

SEVERITIES = ("info", "warning", "critical")


def alert_json(row: AlertRow) -> dict[str, Any]:
    return {
        "key": row.key,
        "kind": row.kind,
        "severity": row.severity,
        "blockNumber": row.block_number,
        "subject": row.subject,
        "message": row.message,
        "evidence": row.evidence,
    }


def list_alerts(
    session: Session,
    *,
    kind: str | None = None,
    severity: str | None = None,
    subject: str | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page:
    check_limit(limit)
    after = decode_cursor("alerts", cursor, (int, str))
    query = select(AlertRow)
    if kind is not None:
        query = query.where(AlertRow.kind == kind)
    if severity is not None:
        query = query.where(AlertRow.severity == severity)
    if subject is not None:
        query = query.where(AlertRow.subject == subject)
    if after is not None:
        query = query.where(
            or_(
                AlertRow.block_number < after[0],
                and_(AlertRow.block_number == after[0], AlertRow.key > after[1]),
            )
        )
    rows = list(
        session.scalars(query.order_by(AlertRow.block_number.desc(), AlertRow.key).limit(limit + 1))
    )
    return page_of(rows, limit, "alerts", lambda r: [r.block_number, r.key], alert_json)
