"""Days of supply by region and product, read from the totals the indexer keeps as it writes
(:mod:`indexer.store.supply`): never a scan of the items.

For a region and a GTIN, as of the **supply clock** (the latest day any supply change is
dated: the index's own clock, so a fresh index and a reorganised one agree):

- ``onHand``: packs active at the region's pharmacies, hospitals, distributors and wholesalers;
- ``dispensed``: packs dispensed there over the window (the clock's day and the
  ``window - 1`` days before it), ``dailyRate`` = dispensed / window;
- ``daysOfSupply`` = onHand / dailyRate (None: nothing dispensed in the window);
- ``thresholdDays``: the product class's threshold (:mod:`indexer.supply_thresholds`);
  ``short`` when days of supply are under it.

A region holds a **surplus** of a product when it has packs beyond its own threshold's days
at its own rate (all its packs when it dispenses none): ``surplusPacks``. The nearest come
first: by the distance between the mean coordinates of the regions' places (location master
data), then regions of the same country, then the larger surplus.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, func, select, tuple_
from sqlalchemy.orm import Session

from indexer.queries.masterdata import product_facts
from indexer.store.models import ShortageRow, SupplyDayRow, SupplyPlaceRow, SupplyStockRow
from indexer.store.state import chunks
from indexer.store.supply import latest_day
from indexer.supply_thresholds import Thresholds

Key = tuple[str, str]
#: Surplus regions named with a shortage.
NEAREST = 5


@dataclass(frozen=True)
class Figure:
    region: str
    gtin: str
    on_hand: int
    dispensed: int
    window: int
    threshold: float

    @property
    def daily_rate(self) -> float:
        return self.dispensed / self.window

    @property
    def days(self) -> float | None:
        return self.on_hand / self.daily_rate if self.dispensed else None

    @property
    def short(self) -> bool:
        days = self.days
        return days is not None and days < self.threshold

    @property
    def surplus(self) -> int:
        if not self.dispensed:
            return self.on_hand
        return max(0, self.on_hand - math.ceil(self.threshold * self.daily_rate))

    def as_json(self) -> dict[str, Any]:
        days = self.days
        return {
            "region": self.region,
            "gtin": self.gtin,
            "onHand": self.on_hand,
            "dispensed": self.dispensed,
            "windowDays": self.window,
            "dailyRate": round(self.daily_rate, 3),
            "daysOfSupply": round(days, 2) if days is not None else None,
            "thresholdDays": self.threshold,
            "short": self.short,
        }


def supply_clock(session: Session) -> date | None:
    """The latest day a supply change is dated (None: nothing counted yet)."""
    return latest_day(session)


def window_of(today: date, window: int) -> tuple[date, date]:
    return today - timedelta(days=window - 1), today


def atc_codes(session: Session, gtins: Iterable[str]) -> dict[str, str | None]:
    return {g: f.get("atcCode") for g, f in product_facts(session, set(gtins)).items()}


def figures(
    session: Session,
    today: date,
    window: int,
    thresholds: Thresholds,
    *,
    keys: Iterable[Key] | None = None,
    gtins: Iterable[str] | None = None,
) -> list[Figure]:
    """The figures of ``keys`` (region, GTIN), or of every region holding or dispensing one of
    ``gtins``, or of everything (both None); sorted by region and GTIN."""
    first, last = window_of(today, window)
    s, d = SupplyStockRow, SupplyDayRow
    stock_q = select(s.region, s.gtin, s.on_hand)
    days_q = (
        select(d.region, d.gtin, func.sum(d.dispensed))
        .where(and_(d.day >= first, d.day <= last))
        .group_by(d.region, d.gtin)
    )
    on_hand: dict[Key, int] = {}
    dispensed: dict[Key, int] = {}
    if keys is not None:
        wanted = sorted(set(keys))
        for part in chunks(wanted):
            for r, g, n in session.execute(stock_q.where(tuple_(s.region, s.gtin).in_(part))):
                on_hand[(r, g)] = int(n)
            for r, g, n in session.execute(days_q.where(tuple_(d.region, d.gtin).in_(part))):
                dispensed[(r, g)] = int(n or 0)
        found = set(wanted)
    else:
        if gtins is not None:
            chosen = sorted(set(gtins))
            stock_q, days_q = stock_q.where(s.gtin.in_(chosen)), days_q.where(d.gtin.in_(chosen))
        on_hand = {(r, g): int(n) for r, g, n in session.execute(stock_q)}
        dispensed = {(r, g): int(n or 0) for r, g, n in session.execute(days_q)}
        found = set(on_hand) | {k for k, n in dispensed.items() if n}
    codes = atc_codes(session, {g for _, g in found})
    return [
        Figure(
            r,
            g,
            on_hand.get((r, g), 0),
            dispensed.get((r, g), 0),
            window,
            thresholds.for_atc(codes.get(g)),
        )
        for r, g in sorted(found)
    ]


def centroids(session: Session) -> dict[str, tuple[float, float]]:
    """Each region's mean coordinates over its counted places that have them."""
    p = SupplyPlaceRow
    rows = session.execute(
        select(p.region, func.avg(p.latitude), func.avg(p.longitude))
        .where(p.counted.is_(True), p.latitude.is_not(None), p.longitude.is_not(None))
        .group_by(p.region)
    )
    return {r: (float(lat), float(lon)) for r, lat, lon in rows if lat is not None}


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine, a 6,371 km sphere)."""
    la1, lo1, la2, lo2 = map(math.radians, (*a, *b))
    h = math.sin((la2 - la1) / 2) ** 2
    h += math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def nearest_surplus(
    session: Session, short: Figure, today: date, thresholds: Thresholds
) -> list[dict[str, Any]]:
    """Up to :data:`NEAREST` other regions holding a surplus of the short product, nearest
    first (see the module docstring)."""
    others = [
        f
        for f in figures(session, today, short.window, thresholds, gtins=[short.gtin])
        if f.region != short.region and f.surplus > 0
    ]
    where = centroids(session)
    home = where.get(short.region)

    def distance(f: Figure) -> float | None:
        there = where.get(f.region)
        return _km(home, there) if home is not None and there is not None else None

    country = short.region[:2]
    ranked = sorted(
        others,
        key=lambda f: (
            distance(f) if distance(f) is not None else math.inf,
            f.region[:2] != country,
            -f.surplus,
            f.region,
        ),
    )
    out = []
    for f in ranked[:NEAREST]:
        km = distance(f)
        out.append(
            {
                "region": f.region,
                "onHand": f.on_hand,
                "daysOfSupply": round(f.days, 2) if f.days is not None else None,
                "surplusPacks": f.surplus,
                "distanceKm": round(km, 1) if km is not None else None,
            }
        )
    return out


def shortages(session: Session, *, open_only: bool = True) -> list[ShortageRow]:
    """The shortages (open ones only by default), newest first."""
    query = select(ShortageRow)
    if open_only:
        query = query.where(ShortageRow.cleared_block.is_(None))
    return list(
        session.scalars(
            query.order_by(ShortageRow.opened_block.desc(), ShortageRow.region, ShortageRow.gtin)
        )
    )
