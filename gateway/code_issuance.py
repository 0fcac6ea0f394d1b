"""Codes for packs without a usable code (docs/codes.md): serials, Digital Link URIs, QR images,
and the one transaction that issues and commissions them.

- A serial is 12 characters drawn with :mod:`secrets` from :data:`SERIAL_ALPHABET` (digits and
  capitals without ``0``, ``1``, ``O`` and ``I``: 32 symbols, 60 random bits, all in GS1
  character set 82 and nothing to percent-encode). Unique per GTIN by a constraint.
- The pack's identifier is the constrained canonical GS1 Digital Link URI
  ``https://id.gs1.org/01/<gtin>/21/<serial>`` (what the events name, see
  ``medledger/epcis/identifiers.py``); its QR code carries that URI with the lot and expiry as
  query attributes, ``?10=<lot>&17=<YYMMDD>``, the way GS1 Digital Link prints them.
- :func:`commission_codes` checks the declared lot, draws the serials, builds one commissioning
  ``ObjectEvent`` ADD at the participant's own location (ILMD lot and expiry) and runs it
  through the intake path (schema, event hash, the participant's rule set) under the custody
  lock; the codes and their counter go into the same transaction as the event, so
  ``record_capture``'s commit stores both, or a failure neither. The counter is the one the
  pharma rules keep for commissioning through ``/capture`` (``CommissionIntoLot``): one cap.
"""

from __future__ import annotations

import io
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

import segno
from sqlalchemy.orm import Session

from gateway.intake import Accepted, classes_of, event_records, identifiers_of, prepare
from gateway.store.capture import known_event_ids, record_capture
from gateway.store.custody_view import SqlCustodyView, custody_lock
from gateway.store.event_items import touches
from gateway.store.lots import add_codes, lock_code_lot, taken_serials
from gateway.store.participants import ParticipantRecord
from medledger.custody.ruleset import RuleSet, check_events
from medledger.custody.state import CommissionIntoLot
from medledger.epcis.identifiers import ID_GS1
from medledger.epcis.schema import EpcisSchema
from medledger.errors import NotFoundError, PermissionDeniedError, StoreConflictError

SERIAL_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
SERIAL_LENGTH = 12
#: Codes per request: one commissioning event names them all.
MAX_COUNT = 10_000
#: Packs a lot may declare.
MAX_PACKS = 10_000_000
EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
#: QR error correction level: M (15 %) suits printed stickers.
QR_ERROR = "m"
FORMATS = ("png", "svg")


@dataclass(frozen=True)
class IssuedCode:
    """An issued serial with what a label shows."""

    gtin: str
    serial: str
    lot: str
    expiry: date
    event_id: str
    issued_at: datetime

    @property
    def identifier(self) -> str:
        return identifier_uri(self.gtin, self.serial)

    @property
    def uri(self) -> str:
        return label_uri(self.gtin, self.serial, self.lot, self.expiry)

    @property
    def text(self) -> str:
        """The human-readable interpretation printed under the QR code."""
        return f"(01){self.gtin} (21){self.serial} (10){self.lot} (17){self.expiry:%y%m%d}"


def new_serials(count: int) -> list[str]:
    return [
        "".join(secrets.choice(SERIAL_ALPHABET) for _ in range(SERIAL_LENGTH)) for _ in range(count)
    ]


def identifier_uri(gtin: str, serial: str) -> str:
    """The pack's constrained canonical Digital Link URI (the identifier the events name)."""
    return f"{ID_GS1}/01/{gtin}/21/{quote(serial, safe='')}"


def label_uri(gtin: str, serial: str, lot: str, expiry: date) -> str:
    """What the QR code carries: the identifier with lot (AI 10) and expiry (AI 17, YYMMDD)."""
    return f"{identifier_uri(gtin, serial)}?10={quote(lot, safe='')}&17={expiry:%y%m%d}"


def qr_code(uri: str) -> segno.QRCode:
    """The QR code of ``uri``: a full QR (never Micro QR), error level M, not boosted, so the
    same URI always gives the same symbol."""
    return segno.make_qr(uri, error=QR_ERROR, boost_error=False)


def render(uri: str, kind: str, *, scale: int = 8, border: int = 4) -> bytes:
    """The QR code of ``uri`` as PNG or SVG bytes (``scale`` pixels or units per module)."""
    if kind not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {kind!r}")
    out = io.BytesIO()
    qr_code(uri).save(out, kind=kind, scale=scale, border=border)
    return out.getvalue()


def sheet_svg(codes: Sequence[IssuedCode], *, columns: int = 4, scale: int = 3) -> bytes:
    """One SVG page of every code with its human-readable text, for printing stickers."""
    border = 4
    cell_w, cell_h, text_h = 0, 0, 34
    symbols: list[tuple[str, int]] = []
    for code in codes:
        qr = qr_code(code.uri)
        width = int(qr.symbol_size(scale=1, border=border)[0]) * scale
        out = io.BytesIO()
        qr.save(out, kind="svg", scale=scale, border=border, xmldecl=False, svgns=True)
        symbols.append((out.getvalue().decode("utf-8"), width))
        cell_w = max(cell_w, width)
    cell_w = max(cell_w, 260)
    cell_h = cell_w + text_h
    rows = -(-len(codes) // columns) if codes else 0
    width, height = columns * cell_w, max(rows * cell_h, 1)
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">',
        f'<rect width="{width}" height="{height}" fill="#fff"/>',
    ]
    for i, (code, (symbol, size)) in enumerate(zip(codes, symbols, strict=True)):
        x, y = (i % columns) * cell_w, (i // columns) * cell_h
        parts.append(f'<g transform="translate({x + (cell_w - size) // 2},{y})">{symbol}</g>')
        line1 = f"(01){code.gtin} (21){code.serial}"
        line2 = f"(10){code.lot} (17){code.expiry:%y%m%d}"
        for j, line in enumerate((line1, line2)):
            parts.append(
                f'<text x="{x + cell_w // 2}" y="{y + size + 12 + 13 * j}" '
                'font-family="monospace" font-size="11" text-anchor="middle">'
                f"{escape(line)}</text>"
            )
    parts.append("</svg>\n")
    return "".join(parts).encode("utf-8")


def commissioning_document(
    *, gtin: str, serials: Sequence[str], lot: str, expiry: date, gln: str, now: datetime
) -> dict[str, Any]:
    """One ObjectEvent ADD commissioning the packs at the participant's location (its GLN)."""
    moment = now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    location = {"id": f"{ID_GS1}/414/{gln}"}
    event = {
        "type": "ObjectEvent",
        "eventTime": moment,
        "eventTimeZoneOffset": "+00:00",
        "epcList": [identifier_uri(gtin, s) for s in serials],
        "action": "ADD",
        "bizStep": "commissioning",
        "disposition": "active",
        "readPoint": location,
        "bizLocation": location,
        "ilmd": {"cbvmda:lotNumber": lot, "cbvmda:itemExpirationDate": expiry.isoformat()},
    }
    return {
        "@context": [EPCIS_CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": moment,
        "epcisBody": {"eventList": [event]},
    }


def _fresh_serials(session: Session, gtin: str, count: int) -> list[str]:
    """``count`` distinct serials not yet issued for ``gtin`` (drawn again on a collision)."""
    chosen: list[str] = []
    while len(chosen) < count:
        drawn = [s for s in dict.fromkeys(new_serials(count - len(chosen))) if s not in chosen]
        taken = taken_serials(session, gtin, drawn)
        chosen.extend(s for s in drawn if s not in taken)
    return chosen


def commission_codes(
    session: Session,
    *,
    schema: EpcisSchema,
    lock: threading.Lock,
    participant: ParticipantRecord,
    gtin: str,
    lot: str,
    count: int,
    expiry: date | None = None,
    now: datetime | None = None,
) -> tuple[Accepted, list[IssuedCode]]:
    """Issue ``count`` codes for a declared lot and commission them, all in one commit.

    ``lock`` is the intake's lock (one document at a time in this process on SQLite, as for
    captures); the custody lock, the global custody key held exclusively, waits for every
    capture in progress and keeps new ones out on PostgreSQL, and the lot's row lock and
    guarded counter keep the lot within its declared packs. Raises :class:`NotFoundError` for
    an undeclared lot, :class:`PermissionDeniedError` for a lot another participant declared,
    :class:`StoreConflictError` past the declared packs (nothing stored) and the rules'
    :class:`~medledger.errors.ValidationError` if the event breaks one.
    """
    moment = now or datetime.now(UTC)
    with lock:
        try:
            custody_lock(session)
            declared = lock_code_lot(session, gtin, lot)
            if declared is None:
                raise NotFoundError(f"lot {lot} of GTIN {gtin} is not declared: POST /lots first")
            if declared.participant != participant.address:
                raise PermissionDeniedError(
                    f"lot {lot} of GTIN {gtin} was declared by {declared.participant}; only it "
                    "issues its codes"
                )
            if expiry is not None and expiry != declared.expiry:
                raise StoreConflictError(
                    f"lot {lot} of GTIN {gtin} was declared with expiry "
                    f"{declared.expiry.isoformat()}, not {expiry.isoformat()}"
                )
            if count > declared.remaining:
                raise StoreConflictError(
                    f"lot {lot} of GTIN {gtin}: {declared.packs} packs declared, "
                    f"{declared.issued} codes issued, {declared.remaining} left; {count} asked"
                )
            serials = _fresh_serials(session, gtin, count)
            document = commissioning_document(
                gtin=gtin,
                serials=serials,
                lot=lot,
                expiry=declared.expiry,
                gln=participant.gln,
                now=moment,
            )
            events, normalised, event_ids = prepare(document, schema)
            records = event_records(events, normalised, event_ids)
            known = known_event_ids(session, event_ids)
            fresh = [f for f, e in zip(normalised, event_ids, strict=True) if e not in known]
            rule_set = RuleSet(participant.rule_set)
            view = SqlCustodyView(session)
            if rule_set is RuleSet.PHARMA:
                view.prefetch(identifiers_of(fresh))
                view.prefetch_quantities(classes_of(fresh))
            changes = check_events(rule_set, fresh, participant.to_custody(), view)
            if not any(isinstance(c, CommissionIntoLot) for c in changes):
                # the epcis rule set keeps no custody, yet the codes count against the lot:
                # the one counter /capture's pharma commissioning raises too
                changes.append(CommissionIntoLot(gtin, lot, participant.address, count, True))
            add_codes(
                session,
                gtin=gtin,
                lot=lot,
                participant=participant.address,
                serials=serials,
                event_id=event_ids[0],
                now=moment,
            )
            fresh_ids = [e for e in event_ids if e not in known]
            applied = touches(fresh, fresh_ids) if rule_set is RuleSet.PHARMA else {}
            result = record_capture(
                session,
                participant.address,
                records,
                changes,
                now=moment,
                known=known,
                custody_items=applied,
            )
        except BaseException:
            session.rollback()
            raise
    accepted = Accepted(
        capture_id=str(result.capture_id),
        event_ids=result.event_ids,
        stored=result.stored,
        duplicates=result.duplicates,
    )
    issued = [
        IssuedCode(
            gtin=gtin,
            serial=s,
            lot=lot,
            expiry=declared.expiry,
            event_id=event_ids[0],
            issued_at=moment,
        )
        for s in serials
    ]
    return accepted, issued
