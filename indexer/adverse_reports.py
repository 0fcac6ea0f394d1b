"""Adverse-reaction reports (issue 22): a pack's code, what happened and, optionally, how to
reach the reporter, from the public page or from a pharmacy's or hospital's participant key.
Stored off chain in ``ix_adverse_reports``, linked to the pack's lot (the code's AI 10, else the
pack's lot in the index), counted per lot on the lot's dashboard page; the report that brings a
lot to ``threshold`` reports raises an ``adverse-reactions`` alert (warning) to consider
suspending it, through the alerts every other detector uses (/alerts and its stream, triage,
CLI, reports).

Personal data is minimised: no name, address or client IP is asked or kept; what happened is
capped at :data:`MAX_DESCRIPTION` characters and the contact at :data:`MAX_CONTACT`; neither
reaches the chain, an alert's message or evidence, or any role but ``pharmacovigilance``
(``indexer.reader_keys.PHARMACOVIGILANCE_READERS``): the others see how many reports a lot has.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from indexer.queries.check import parse_code
from indexer.store.models import AdverseReportRow, ItemVersionRow
from indexer.store.writes import add_alert, get_checkpoint
from medledger.errors import ValidationError

KIND: Final = "adverse-reactions"
_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PREFIX: Final = "AR-"
MAX_DESCRIPTION: Final = 2000
MAX_CONTACT: Final = 200


@dataclass(frozen=True)
class Filed:
    reference: str
    gtin: str
    lot: str | None
    #: reports about its lot now (this one included); 0 when the lot is not known
    reports_for_lot: int
    alerted: bool


def _text(value: str, limit: int, field: str, *, required: bool) -> str | None:
    cleaned = value.strip()
    if not cleaned:
        if required:
            raise ValidationError(
                f"{field} is required", rule="adverse-report.field", pointer=f"/{field}"
            )
        return None
    if len(cleaned) > limit:
        raise ValidationError(
            f"{field} is at most {limit} characters",
            rule="adverse-report.field",
            pointer=f"/{field}",
        )
    return cleaned


def file_report(
    session: Session,
    *,
    code: str,
    description: str,
    contact: str,
    now: datetime,
    threshold: int,
    reporter: str | None = None,
) -> Filed:
    """Stores a report of the pack ``code`` names (ValidationError for a code that is not a
    pack's, an empty or too long description or contact) and raises the lot's alert once it
    has ``threshold`` reports (0: never). ``reporter``: the participant address of a keyed
    report (None: the public page)."""
    scanned = parse_code(code)
    what = _text(description, MAX_DESCRIPTION, "description", required=True)
    assert what is not None
    lot = scanned.lot or session.scalar(
        select(ItemVersionRow.lot).where(
            ItemVersionRow.identifier == scanned.identifier, ItemVersionRow.valid_to.is_(None)
        )
    )
    row = AdverseReportRow(
        reference=PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(10)),
        gtin=scanned.gtin,
        lot=lot,
        identifier=scanned.identifier,
        description=what,
        contact=_text(contact, MAX_CONTACT, "contact", required=False),
        source="public" if reporter is None else "participant",
        reporter=reporter,
        received_at=now,
    )
    session.add(row)
    session.flush()
    count = counts(session, scanned.gtin, [lot])[lot] if lot else 0
    alerted = bool(lot) and threshold > 0 and count >= threshold
    if alerted and lot:
        _alert(session, scanned.gtin, lot, count, threshold)
    return Filed(row.reference, scanned.gtin, lot, count, alerted)


def _alert(session: Session, gtin: str, lot: str, count: int, threshold: int) -> None:
    checkpoint = get_checkpoint(session)
    lot_id = f"https://id.gs1.org/01/{gtin}/10/{lot}"
    add_alert(  # one per lot (its key): later reports do not raise it again
        session,
        kind=KIND,
        severity="warning",
        # the index's height when it was raised: it sorts with the alerts of its time
        block_number=checkpoint.block_number if checkpoint is not None else 0,
        subject=lot_id,
        message=f"{count} adverse-reaction reports about lot {lot} (GTIN {gtin}) reached the "
        f"threshold of {threshold}: consider suspending the lot while they are investigated",
        evidence={"lot": lot_id, "gtin": gtin, "reports": count, "threshold": threshold},
        key_parts=(gtin, lot),
    )


def counts(session: Session, gtin: str, lots: list[str | None]) -> dict[str, int]:
    """Reports per lot of ``gtin`` (lots without any: 0)."""
    wanted = [lot for lot in lots if lot]
    found = dict.fromkeys(wanted, 0)
    rows = session.execute(
        select(AdverseReportRow.lot, func.count())
        .where(AdverseReportRow.gtin == gtin, AdverseReportRow.lot.in_(wanted))
        .group_by(AdverseReportRow.lot)
    )
    for lot, count in rows:
        found[str(lot)] = int(count)
    return found


def reports_of_lot(session: Session, gtin: str, lot: str) -> list[AdverseReportRow]:
    """The lot's reports, newest first (pharmacovigilance keys only: the caller checks)."""
    return list(
        session.scalars(
            select(AdverseReportRow)
            .where(AdverseReportRow.gtin == gtin, AdverseReportRow.lot == lot)
            .order_by(AdverseReportRow.received_at.desc(), AdverseReportRow.reference)
        )
    )
