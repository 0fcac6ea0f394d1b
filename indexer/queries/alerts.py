"""Alerts: what a regulator should look at (integrity failures, custody anomalies), newest
first."""

from __future__ import annotations

import json
import re
from typing import Any

from eth_utils.address import to_checksum_address
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from indexer.queries.common import participants
from indexer.queries.pages import DEFAULT_LIMIT, Page, check_limit, decode_cursor, page_of
from indexer.queries.scope import EVERYTHING, Scope
from indexer.store.models import AlertRow

SEVERITIES = ("info", "warning", "critical")

#: The evidence fields that name the participants an alert concerns (indexer/detection: who
#: anchored the event, who held, acted, supplied, received, made or ended the item). An
#: inspector sees an alert when one of them is a participant of its region.
PARTY_FIELDS = (
    "submitter",
    "holder",
    "firstHolder",
    "actor",
    "hospital",
    "supplier",
    "receiver",
    "manufacturer",
    "endedBy",
    "owner",
)


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


_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}(?![0-9a-fA-F])")


def named_addresses(alert: dict[str, Any]) -> list[str]:
    """The participant addresses an alert names (message and evidence), checksummed, each once."""
    text = f"{alert.get('message')} {json.dumps(alert.get('evidence'))}"
    return list(dict.fromkeys(str(to_checksum_address(a)) for a in _ADDRESS.findall(text)))


def list_alerts(
    session: Session,
    *,
    kind: str | None = None,
    severity: str | None = None,
    subject: str | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    within: Scope = EVERYTHING,
) -> Page:
    """Newest first; a region's scope (``within``) keeps the alerts naming one of its
    participants in a :data:`PARTY_FIELDS` field of their evidence."""
    check_limit(limit)
    after = decode_cursor("alerts", cursor, (int, str))
    query = select(AlertRow)
    if kind is not None:
        query = query.where(AlertRow.kind == kind)
    if severity is not None:
        query = query.where(AlertRow.severity == severity)
    if subject is not None:
        query = query.where(AlertRow.subject == subject)
    parties = within.participants(session)
    if parties is not None:
        query = query.where(
            or_(*(AlertRow.evidence[f].as_string().in_(parties) for f in PARTY_FIELDS))
        )
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
    page = page_of(rows, limit, "alerts", lambda r: [r.block_number, r.key], alert_json)
    named = (a for item in page.items for a in named_addresses(item))
    page.extra = {"participants": participants(session, named)}
    return page
