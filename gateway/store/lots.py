"""Code issuance (docs/codes.md): lots declared with their pack count, and the serials issued.

``declare_lot`` commits on its own. Issuing is part of a capture: :func:`lock_code_lot` and
:func:`add_codes` write into the caller's transaction **without committing**, and the caller's
``record_capture`` commits the codes with their commissioning event (or a rollback drops both).
The number of packs commissioned into a lot (``issued``: by ``/codes`` and by ``/capture``
alike) never exceeds its declared packs: :func:`commission_into_lot`, which applies the rules'
``CommissionIntoLot`` change, raises the counter with ``UPDATE ... SET issued = issued + n
WHERE issued + n <= packs`` (the custody lock and the row lock serialise concurrent writers on
PostgreSQL; SQLite has one writer), and a CHECK constraint refuses it even if a caller skipped
that. A lot nobody declared belongs to whoever commissioned into it first (``lot_claims``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.store.models import CodeLotRow, CodeRow, ItemRow, LotClaimRow
from medledger.errors import StoreConflictError
from servicekit.sql.helpers import is_postgresql, key_chunks, member_of, utcnow


@dataclass(frozen=True)
class CodeLot:
    gtin: str
    lot: str
    participant: str  # who declared it (and issues its codes)
    expiry: date
    packs: int
    issued: int
    released_by: str  # the registrant in the recall registry
    register_tx: str | None  # None: it was registered on-chain before the declaration
    declared_at: datetime

    @property
    def remaining(self) -> int:
        return self.packs - self.issued


@dataclass(frozen=True)
class CodeRecord:
    id: int
    gtin: str
    serial: str
    lot: str
    participant: str
    event_id: str
    issued_at: datetime


def _lot(row: CodeLotRow) -> CodeLot:
    return CodeLot(
        gtin=row.gtin,
        lot=row.lot,
        participant=row.participant,
        expiry=row.expiry,
        packs=row.packs,
        issued=row.issued,
        released_by=row.released_by,
        register_tx=row.register_tx,
        declared_at=row.declared_at,
    )


def _code(row: CodeRow) -> CodeRecord:
    return CodeRecord(
        id=row.id,
        gtin=row.gtin,
        serial=row.serial,
        lot=row.lot,
        participant=row.participant,
        event_id=row.event_id,
        issued_at=row.issued_at,
    )


def get_code_lot(session: Session, gtin: str, lot: str) -> CodeLot | None:
    row = session.get(CodeLotRow, (gtin, lot))
    found = _lot(row) if row is not None else None
    session.rollback()
    return found


def declare_lot(
    session: Session,
    *,
    gtin: str,
    lot: str,
    participant: str,
    expiry: date,
    packs: int,
    released_by: str,
    register_tx: str | None,
    now: datetime | None = None,
    issued: int = 0,
) -> CodeLot:
    """Record a declared lot (``issued``: packs its declarer commissioned into it before, when
    it was its claim); a lot is declared once (else conflict)."""
    row = CodeLotRow(
        gtin=gtin,
        lot=lot,
        participant=participant,
        expiry=expiry,
        packs=packs,
        issued=issued,
        released_by=released_by,
        register_tx=register_tx,
        declared_at=now or utcnow(),
    )
    session.add(row)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise StoreConflictError(f"lot {lot} of GTIN {gtin} is already declared") from exc
    return _lot(row)


def lock_code_lot(session: Session, gtin: str, lot: str) -> CodeLot | None:
    """The declared lot, read in the caller's transaction (``FOR UPDATE`` on PostgreSQL)."""
    query = select(CodeLotRow).where(CodeLotRow.gtin == gtin, CodeLotRow.lot == lot)
    if is_postgresql(session):
        query = query.with_for_update()
    row = session.scalars(query).one_or_none()
    return _lot(row) if row is not None else None


def taken_serials(session: Session, gtin: str, serials: Sequence[str]) -> set[str]:
    """Which of ``serials`` are already issued for ``gtin`` (in the caller's transaction)."""
    taken: set[str] = set()
    for chunk in key_chunks(session, sorted(set(serials))):
        taken.update(
            session.scalars(
                select(CodeRow.serial).where(
                    CodeRow.gtin == gtin, member_of(session, CodeRow.serial, chunk)
                )
            )
        )
    return taken


def add_codes(
    session: Session,
    *,
    gtin: str,
    lot: str,
    participant: str,
    serials: Sequence[str],
    event_id: str,
    now: datetime | None = None,
) -> None:
    """Insert the issued ``serials``, **without commit** (their packs are counted against the
    lot by the capture's ``CommissionIntoLot`` change: :func:`commission_into_lot`).

    Raises :class:`StoreConflictError` (and leaves the rollback to the caller) if a serial is
    already issued for the GTIN.
    """
    issued_at = now or utcnow()
    try:
        session.execute(
            insert(CodeRow),
            [
                {
                    "gtin": gtin,
                    "serial": serial,
                    "lot": lot,
                    "participant": participant,
                    "event_id": event_id,
                    "issued_at": issued_at,
                }
                for serial in serials
            ],
        )
    except IntegrityError as exc:
        raise StoreConflictError(f"a serial of GTIN {gtin} is already issued: {exc.orig}") from exc


def codes_of(session: Session, gtin: str, lot: str) -> list[CodeRecord]:
    """The codes issued for a lot, in issue order."""
    rows = session.scalars(
        select(CodeRow).where(CodeRow.gtin == gtin, CodeRow.lot == lot).order_by(CodeRow.id)
    ).all()
    found = [_code(r) for r in rows]
    session.rollback()
    return found


def get_code(session: Session, gtin: str, serial: str) -> CodeRecord | None:
    row = session.scalars(
        select(CodeRow).where(CodeRow.gtin == gtin, CodeRow.serial == serial)
    ).one_or_none()
    found = _code(row) if row is not None else None
    session.rollback()
    return found


def commission_into_lot(
    session: Session, *, gtin: str, lot: str, owner: str, packs: int, declared: bool
) -> None:
    """``packs`` commissioned into a lot, **without commit**: a declared lot's count rises
    (never past its packs: :class:`StoreConflictError`), an undeclared one is claimed by
    ``owner`` if nobody claimed it yet."""
    if declared:
        if packs == 0:
            return
        raised = session.execute(
            update(CodeLotRow)
            .where(
                CodeLotRow.gtin == gtin,
                CodeLotRow.lot == lot,
                CodeLotRow.issued + packs <= CodeLotRow.packs,
            )
            .values(issued=CodeLotRow.issued + packs)
            .execution_options(synchronize_session=False)
        )
        if raised.rowcount != 1:  # type: ignore[attr-defined]
            raise StoreConflictError(
                f"lot {lot} of GTIN {gtin}: {packs} more packs would exceed its declared packs"
            )
        return
    if session.get(LotClaimRow, (gtin, lot)) is None:
        session.add(LotClaimRow(gtin=gtin, lot=lot, participant=owner, claimed_at=utcnow()))
        session.flush()


def lot_claim(session: Session, gtin: str, lot: str) -> str | None:
    """Who owns the undeclared lot by commissioning into it first, or None."""
    row = session.get(LotClaimRow, (gtin, lot))
    return row.participant if row is not None else None


def commissioned_in_lot(session: Session, gtin: str, lot: str) -> int:
    """How many packs were commissioned into the lot (items recorded with its GTIN and lot)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(ItemRow)
            .where(ItemRow.gtin == gtin, ItemRow.lot == lot)
        )
        or 0
    )
