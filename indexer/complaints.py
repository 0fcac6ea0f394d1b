"""Price complaints (issue 22): a citizen says a pharmacy charged more than the product's
regulated maximum retail price, with a photo of the receipt (already re-encoded by the caller)
and optionally how to reach them. Stored off chain in ``ix_price_complaints`` for the
regulator; the complainant follows it by its reference number, which shows its status and
nothing of the complaint's personal data.

States: ``received`` (new) -> ``investigating`` -> ``upheld`` | ``rejected`` -> ``closed``; a
regulator may set any state (a mistaken decision is corrected by setting another), each change
recording who and when.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from indexer.queries import finder
from indexer.store.models import COMPLAINT_STATES, PriceComplaintRow
from medledger.errors import NotFoundError, ValidationError

#: Crockford's base32 (no I, L, O, U): read aloud and typed back without confusion.
_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PREFIX: Final = "PC-"
#: 10 characters: 50 random bits, never guessed within the status page's rate limit.
_LENGTH: Final = 10
MAX_PHARMACY: Final = 300
MAX_CONTACT: Final = 200
MAX_NOTE: Final = 2000


@dataclass(frozen=True)
class PublicStatus:
    """What the complainant sees by the reference: no pharmacy, price, photo or contact."""

    reference: str
    status: str
    gtin: str
    product_name: str | None
    received_at: datetime
    updated_at: datetime


def new_reference() -> str:
    return PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(_LENGTH))


def normal_reference(text: str) -> str | None:
    """A typed reference as stored (``pc-7k3m 9q2x1h`` -> ``PC-7K3M9Q2X1H``); None if it
    cannot be one."""
    compact = "".join(text.split()).upper().replace("O", "0").replace("I", "1").replace("L", "1")
    if compact.startswith(PREFIX):
        body = compact[len(PREFIX) :]
    elif len(compact) == len(PREFIX) - 1 + _LENGTH and compact.startswith("PC"):
        body = compact[2:]  # the prefix without its dash
    else:
        body = compact  # no prefix; a body may itself begin with "PC" (1 in 1,024)
    if len(body) != _LENGTH or any(c not in _ALPHABET for c in body):
        return None
    return PREFIX + body


def price(text: str) -> str:
    """A price as typed (``125.50``, ``125,50``) as canonical text; ValidationError otherwise."""
    try:
        amount = Decimal(text.strip().replace(",", ".").replace(" ", ""))
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or amount <= 0 or amount >= Decimal(10) ** 12:
        raise ValidationError(
            "the price paid is an amount like 125.50", rule="complaint.price", pointer="price"
        )
    return format(amount.normalize(), "f")


def _text(value: str, limit: int, field: str, *, required: bool) -> str | None:
    cleaned = " ".join(value.split())
    if not cleaned:
        if required:
            raise ValidationError(f"{field} is required", rule="complaint.field", pointer=field)
        return None
    if len(cleaned) > limit:
        raise ValidationError(
            f"{field} is at most {limit} characters", rule="complaint.field", pointer=field
        )
    return cleaned


def file_complaint(
    session: Session,
    *,
    gtin: str,
    pharmacy: str,
    price_paid: str,
    receipt: bytes,
    receipt_type: str,
    contact: str,
    now: datetime,
) -> str:
    """Stores the complaint (``gtin`` checked by the caller, the receipt already cleaned) and
    answers its reference. What master data says of the product now is kept beside it."""
    drug = finder.describe(session, gtin)
    row = PriceComplaintRow(
        reference=new_reference(),
        gtin=gtin,
        product_name=drug.name if drug else None,
        pharmacy=_text(pharmacy, MAX_PHARMACY, "pharmacy", required=True),
        price_paid=price(price_paid),
        max_price=drug.max_retail_price if drug else None,
        currency=drug.price_currency if drug else None,
        receipt=receipt,
        receipt_type=receipt_type,
        contact=_text(contact, MAX_CONTACT, "contact", required=False),
        status="received",
        note=None,
        received_at=now,
        updated_at=now,
        updated_by=None,
    )
    session.add(row)
    session.flush()
    return row.reference


def public_status(session: Session, reference: str) -> PublicStatus | None:
    row = session.get(PriceComplaintRow, reference)
    if row is None:
        return None
    return PublicStatus(
        row.reference, row.status, row.gtin, row.product_name, row.received_at, row.updated_at
    )


def listed(
    session: Session, *, status: str | None = None, limit: int = 200
) -> list[PriceComplaintRow]:
    """Complaints newest first (``status``: only those in it), without loading the photos."""
    query = select(PriceComplaintRow).options(defer(PriceComplaintRow.receipt))
    if status is not None:
        query = query.where(PriceComplaintRow.status == status)
    query = query.order_by(PriceComplaintRow.received_at.desc(), PriceComplaintRow.reference)
    return list(session.scalars(query.limit(limit)))


def complaint(session: Session, reference: str) -> PriceComplaintRow:
    row = session.get(PriceComplaintRow, reference)
    if row is None:
        raise NotFoundError(f"no price complaint {reference}")
    return row


def set_status(
    session: Session, reference: str, status: str, note: str, *, actor: str, now: datetime
) -> None:
    """The regulator moves a complaint to ``status`` with an optional note (kept for the
    regulator; the complainant sees the status only)."""
    if status not in COMPLAINT_STATES:
        raise ValidationError(
            f"status is one of {', '.join(COMPLAINT_STATES)}",
            rule="complaint.status",
            pointer="status",
        )
    row = complaint(session, reference)
    row.status = status
    row.note = _text(note, MAX_NOTE, "note", required=False) or row.note
    row.updated_at = now
    row.updated_by = actor[:200]
