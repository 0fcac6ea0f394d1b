"""What the stock page reads from the index: packs now, counted by region, then by participant,
product and lot within one, as active, in transit, dispensed, recalled and expired.

A pack is an item with a GTIN (cases and pallets are not counted) whose current version is
active, in transit or dispensed. *Recalled* and *expired* count packs still in circulation
(active or in transit) of a lot recalled in force, or past its expiry: they are part of the
first two columns, not beside them.

A pack's region is its location's (location master data, ``docs/masterdata.md``), else its
holder's registered region (:func:`dashboard.lot_view.regions_of`'s rule, per location). An
inspector's scope keeps its region's participants' packs and, of those, the ones whose region
lies within its own: a pack placed elsewhere never widens what it sees.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from indexer.queries.common import participants
from indexer.queries.masterdata import location_facts, product_facts, region_of
from indexer.queries.scope import Scope
from indexer.store.models import ItemVersionRow, LotRow, ParticipantProfileRow, RecallRow
from medledger.regions import in_region

#: The page's columns, in order.
COLUMNS: Final = ("active", "in_transit", "dispensed", "recalled", "expired")
#: A region no master data or registration gives.
UNKNOWN: Final = ""


@dataclass
class Row:
    """One line of a level: its key (region, holder address, GTIN or lot) and its counts."""

    key: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COLUMNS, 0))

    @property
    def packs(self) -> int:
        """Packs counted on this line: in circulation or dispensed."""
        return self.counts["active"] + self.counts["in_transit"] + self.counts["dispensed"]

    def add(self, counts: dict[str, int]) -> None:
        for column in COLUMNS:
            self.counts[column] += counts[column]


@dataclass
class Stock:
    """One level of the drill-down: ``level`` is what its rows are (``region``, ``holder``,
    ``gtin`` or ``lot``), with the names a person reads them by."""

    level: str
    rows: list[Row]
    participants: dict[str, dict[str, Any]]
    products: dict[str, dict[str, Any]]
    expiries: dict[str, date | None] = field(default_factory=dict)

    @property
    def total(self) -> Row:
        out = Row("")
        for row in self.rows:
            out.add(row.counts)
        return out


def _counted(today: date) -> list[Any]:
    v = ItemVersionRow
    live = v.status.in_(("active", "in_transit"))
    return [
        func.sum(case((v.status == status, 1), else_=0)).label(status)
        for status in ("active", "in_transit", "dispensed")
    ] + [
        func.sum(case((and_(live, RecallRow.recalled.is_(True)), 1), else_=0)).label("recalled"),
        func.sum(case((and_(live, LotRow.expiry < today), 1), else_=0)).label("expired"),
    ]


def read_stock(
    session: Session,
    scope: Scope,
    today: date,
    *,
    region: str | None = None,
    holder: str | None = None,
    gtin: str | None = None,
) -> Stock:
    """The level below what is chosen: regions (nothing chosen), a region's participants, a
    participant's products in the region, a product's lots there."""
    v = ItemVersionRow
    detail = holder is not None
    keys = [v.holder, v.location] + ([v.gtin, v.lot] if detail else [])
    query = (
        select(*keys, *_counted(today))
        .outerjoin(LotRow, and_(LotRow.gtin == v.gtin, LotRow.lot == v.lot))
        .outerjoin(RecallRow, and_(RecallRow.gtin == v.gtin, RecallRow.lot == v.lot))
        .where(
            v.valid_to.is_(None),
            v.gtin.is_not(None),
            v.status.in_(("active", "in_transit", "dispensed")),
        )
        .group_by(*keys)
    )
    held_by = scope.participants(session)
    if held_by is not None:
        query = query.where(v.holder.in_(held_by))
    if holder is not None:
        query = query.where(v.holder == holder)
    if gtin is not None:
        query = query.where(v.gtin == gtin)
    found = session.execute(query).all()
    regions = _regions(session, {(r.holder, r.location) for r in found})
    level = (
        "region" if region is None else "holder" if holder is None else "lot" if gtin else "gtin"
    )
    lines: dict[str, Row] = {}
    for r in found:
        where = regions[(r.holder, r.location)]
        if scope.region is not None and not in_region(where or None, scope.region):
            continue
        if region is not None and where != region and not in_region(where or None, region):
            continue  # region UNKNOWN: exactly the packs no region is known of
        if level == "region":
            key = where
        elif level == "holder":
            key = r.holder or ""
        else:
            key = (r.gtin if level == "gtin" else r.lot) or ""
        counts = {c: int(getattr(r, c) or 0) for c in COLUMNS}
        lines.setdefault(key, Row(key)).add(counts)
    rows = sorted(lines.values(), key=lambda row: (-row.packs, row.key))
    named = [r.key for r in rows]
    stock = Stock(
        level,
        rows,
        participants(session, named if level == "holder" else [holder]),
        product_facts(session, named if level == "gtin" else [gtin]),
    )
    if level == "lot" and gtin is not None:
        lots = select(LotRow.lot, LotRow.expiry).where(LotRow.gtin == gtin, LotRow.lot.in_(named))
        stock.expiries = {row.lot: row.expiry for row in session.execute(lots)}
    return stock


def _regions(
    session: Session, pairs: Iterable[tuple[str | None, str | None]]
) -> dict[tuple[str | None, str | None], str]:
    """Each (holder, location)'s region: the location's master data, else the holder's
    registered region, else :data:`UNKNOWN`."""
    pairs = set(pairs)
    places = location_facts(session, {location for _, location in pairs})
    registered = dict(  # the registry's profiles that have a region (a few hundred rows)
        session.execute(
            select(ParticipantProfileRow.address, ParticipantProfileRow.region).where(
                ParticipantProfileRow.region.is_not(None)
            )
        ).all()
    )
    return {
        (h, loc): region_of(places, loc) or (registered.get(h) if h else None) or UNKNOWN
        for h, loc in pairs
    }
