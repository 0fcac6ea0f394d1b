"""Supply by region, kept as the index is written: packs on hand and packs dispensed per region
and GTIN (docs/detection.md, "Shortage").

A pack counts **on hand** in a region while its current version is ``active`` with a holder
that is a pharmacy, hospital, distributor or wholesaler (roles as indexed) at a place in that
region; a pack **dispensed** there counts on the UTC day of its dispensing's eventTime. A place
is a (holder, location) pair; its region is the location's master data region, else the
holder's registered region (docs/masterdata.md), fixed when the place first holds a pack
(``ix_supply_places``): what a later master data version says moves no pack counted before, so
taking a pack away always subtracts from the region that counted it. A place whose region no
one knows is not counted.

Every change of state the projection writes (and every version an error declaration's undo
writes, :mod:`indexer.store.undo`) is accounted as one step ``before -> after``: on hand
moves by what the two states count, and a step into ``dispensed`` (out of it: an undone
dispensing) adds (removes) one dispensed pack. A block's changes are logged per (region,
GTIN, day) in ``ix_supply_changes`` and added to the totals (``ix_supply_stock``,
``ix_supply_days``) in the same transaction; :func:`rollback` subtracts the logged changes of
the orphaned blocks and deletes them, so a reorganised index holds the figures of a fresh one
(and the shortages, :mod:`indexer.detection.shortage`, as they were at the ancestor). No
total row is kept at zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.orm import Session

from indexer.projection import ItemState, Projection
from indexer.queries.masterdata import location_facts
from indexer.store.models import (
    AlertRow,
    ParticipantProfileRow,
    ShortageRow,
    SupplyChangeRow,
    SupplyDayRow,
    SupplyPlaceRow,
    SupplyStockRow,
)
from indexer.store.state import chunks
from medledger.roles import Role

#: The roles whose packs are stock a patient can be supplied from.
COUNTED_ROLES: Final = Role.PHARMACY | Role.HOSPITAL | Role.DISTRIBUTOR | Role.WHOLESALER

Key = tuple[str, str]  # (region, GTIN)
Place = tuple[str, str]  # (holder, location or "")
Step = tuple[ItemState | None, ItemState | None]


@dataclass
class Delta:
    stock: int = 0
    dispensed: int = 0


def steps_of(projection: Projection) -> list[Step]:
    """Each pack's state changes in one projection, in order (``prior -> v1 -> v2 ...``)."""
    out: list[Step] = []
    for identifier, versions in projection.item_versions.items():
        before = projection.prior_items.get(identifier)
        for after in versions:
            if after.gtin is not None or (before is not None and before.gtin is not None):
                out.append((before, after))
            before = after
    return out


def _place(state: ItemState | None) -> Place | None:
    if state is None or state.holder is None or state.gtin is None:
        return None
    return (state.holder, state.location or "")


def account(
    session: Session,
    block_number: int,
    steps: Iterable[Step],
    registry: Mapping[str, tuple[int, str]],
) -> set[Key]:
    """Log and add what ``steps`` change of supply at ``block_number``; the (region, GTIN)
    pairs changed."""
    steps = list(steps)
    places = _places(
        session,
        {p for before, after in steps for p in (_place(before), _place(after)) if p},
        registry,
        block_number,
    )

    def key(state: ItemState | None) -> Key | None:
        place = _place(state)
        found = places.get(place) if place else None
        if state is None or found is None or not found.counted or not found.region:
            return None
        return (found.region, state.gtin or "")

    deltas: dict[tuple[str, str, date], Delta] = {}

    def add(state: ItemState, stock: int, dispensed: int) -> None:
        k = key(state)
        if k is None:
            return
        d = deltas.setdefault((*k, state.event_time.date()), Delta())
        d.stock += stock
        d.dispensed += dispensed

    for before, after in steps:
        if before is not None and before.status == "active":
            add(before, -1, 0)
        if after is not None and after.status == "active":
            add(after, +1, 0)
        was = before is not None and before.status == "dispensed"
        now = after is not None and after.status == "dispensed"
        if now and not was and after is not None:
            add(after, 0, +1)
        if was and not now and before is not None:
            add(before, 0, -1)
    changed = {k: d for k, d in deltas.items() if d.stock or d.dispensed}
    _apply(session, block_number, changed, sign=+1)
    return {(region, gtin) for region, gtin, _ in changed}


def _places(
    session: Session,
    wanted: set[Place],
    registry: Mapping[str, tuple[int, str]],
    block_number: int,
) -> dict[Place, SupplyPlaceRow]:
    """The places as first fixed, fixing those seen for the first time now."""
    found: dict[Place, SupplyPlaceRow] = {}
    p = SupplyPlaceRow
    for part in chunks(sorted(wanted)):
        for row in session.scalars(select(p).where(tuple_(p.holder, p.location).in_(part))):
            found[(row.holder, row.location)] = row
    new = wanted - set(found)
    if not new:
        return found
    facts = location_facts(session, {loc for _, loc in new if loc})
    holders = sorted({h for h, _ in new})
    registered = dict(
        session.execute(
            select(ParticipantProfileRow.address, ParticipantProfileRow.region).where(
                ParticipantProfileRow.address.in_(holders)
            )
        ).all()
    )
    for holder, location in sorted(new):
        place = facts.get(location, {})
        row = SupplyPlaceRow(
            holder=holder,
            location=location,
            region=place.get("region") or registered.get(holder) or "",
            counted=bool(Role(registry.get(holder, (0, ""))[0]) & COUNTED_ROLES),
            latitude=_float(place.get("latitude")),
            longitude=_float(place.get("longitude")),
            block_number=block_number,
        )
        session.add(row)
        found[(holder, location)] = row
    session.flush()
    return found


def _float(value: object) -> float | None:
    try:
        return float(value) if value is not None else None  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _apply(
    session: Session,
    block_number: int | None,
    deltas: Mapping[tuple[str, str, date], Delta],
    *,
    sign: int,
) -> None:
    """Add (``sign`` +1) or subtract (-1) ``deltas`` to the totals; log them at
    ``block_number`` when adding."""
    stock: dict[Key, int] = {}
    for (region, gtin, day), d in sorted(deltas.items()):
        stock[(region, gtin)] = stock.get((region, gtin), 0) + sign * d.stock
        if d.dispensed:
            _bump(session, SupplyDayRow, (region, gtin, day), "dispensed", sign * d.dispensed)
        if block_number is not None:
            _bump_change(session, block_number, region, gtin, day, d)
    for (region, gtin), n in sorted(stock.items()):
        if n:
            _bump(session, SupplyStockRow, (region, gtin), "on_hand", n)


def _bump(session: Session, model: type, key: tuple[object, ...], column: str, n: int) -> None:
    row = session.get(model, key)
    if row is None:
        names = [c.name for c in model.__table__.primary_key.columns]  # type: ignore[attr-defined]
        session.add(model(**dict(zip(names, key, strict=True)), **{column: n}))
        return
    value = getattr(row, column) + n
    if value == 0:
        session.delete(row)
    else:
        setattr(row, column, value)


def _bump_change(
    session: Session, block_number: int, region: str, gtin: str, day: date, d: Delta
) -> None:
    row = session.get(SupplyChangeRow, (block_number, region, gtin, day))
    if row is None:
        session.add(
            SupplyChangeRow(
                block_number=block_number,
                region=region,
                gtin=gtin,
                day=day,
                stock_delta=d.stock,
                dispensed=d.dispensed,
            )
        )
        return
    row.stock_delta += d.stock
    row.dispensed += d.dispensed
    if not row.stock_delta and not row.dispensed:
        session.delete(row)


def rollback(session: Session, ancestor: int) -> None:
    """Subtract and delete what blocks after ``ancestor`` changed; forget the places they
    fixed."""
    c = SupplyChangeRow
    logged = session.execute(
        select(c.region, c.gtin, c.day, func.sum(c.stock_delta), func.sum(c.dispensed))
        .where(c.block_number > ancestor)
        .group_by(c.region, c.gtin, c.day)
    ).all()
    deltas = {
        (region, gtin, day): Delta(int(stock or 0), int(dispensed or 0))
        for region, gtin, day, stock, dispensed in logged
    }
    session.flush()
    _apply(session, None, deltas, sign=-1)
    session.flush()
    session.execute(delete(c).where(c.block_number > ancestor))
    session.execute(delete(SupplyPlaceRow).where(SupplyPlaceRow.block_number > ancestor))
    # shortages opened after the ancestor go; those cleared after it are open again, their
    # alerts (of their opening block, at or before it) raised again
    s = ShortageRow
    session.execute(delete(s).where(s.opened_block > ancestor))
    reopened = list(session.scalars(select(s).where(s.cleared_block > ancestor)))
    for row in reopened:
        row.cleared_block = row.cleared_day = None
        raise_alert(session, row.alert_key, row.opened_block, row.alert)
    session.flush()


#: The alert of an open shortage (indexer/detection/shortage.py).
KIND: Final = "shortage"
SEVERITY: Final = "warning"


def raise_alert(session: Session, key: str, block_number: int, alert: dict[str, Any]) -> None:
    """Write an open shortage's alert (``alert``: its subject, message and evidence)."""
    if session.get(AlertRow, key) is None:
        session.add(
            AlertRow(
                key=key,
                kind=KIND,
                severity=SEVERITY,
                block_number=block_number,
                subject=alert["subject"],
                message=alert["message"],
                evidence=alert["evidence"],
            )
        )


def latest_day(session: Session) -> date | None:
    """The supply clock: the latest day any logged change is dated (None: no supply yet)."""
    found = session.scalar(select(func.max(SupplyChangeRow.day)))
    return found if isinstance(found, date) or found is None else date.fromisoformat(str(found))
