"""What the stock page shows of supply: days of supply by region and product, as of the
index's supply clock (:mod:`indexer.queries.supply`, kept by the indexer as it writes), the
short ones first, with the surplus regions an open shortage named.

An inspector's scope keeps its own region's lines; a chosen region keeps that region's (a
country: its subdivisions'), a chosen product that product's."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from sqlalchemy.orm import Session

from indexer.queries.masterdata import product_facts
from indexer.queries.supply import Figure, figures, shortages, supply_clock
from indexer.settings import IndexerSettings
from indexer.supply_thresholds import Thresholds
from medledger.regions import in_region

#: Lines shown (the shortest supply first).
SHOWN: Final = 50


@dataclass
class Supply:
    today: date | None
    window: int
    lines: list[Figure]
    products: dict[str, dict[str, Any]]
    surplus: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    more: int = 0


def read_supply(
    session: Session,
    settings: IndexerSettings,
    *,
    scope_region: str | None,
    region: str | None = None,
    gtin: str | None = None,
) -> Supply:
    window = settings.shortage_window_days
    today = supply_clock(session)
    if today is None:
        return Supply(None, window, [], {})
    found = figures(
        session,
        today,
        window,
        Thresholds.parse(settings.shortage_days),
        gtins=[gtin] if gtin else None,
    )
    kept = [
        f
        for f in found
        if (scope_region is None or in_region(f.region, scope_region))
        and (region is None or in_region(f.region, region))
    ]
    kept.sort(
        key=lambda f: (not f.short, f.days if f.days is not None else math.inf, f.region, f.gtin)
    )
    shown = kept[:SHOWN]
    surplus = {
        (row.region, row.gtin): list(row.alert["evidence"].get("surplus", []))
        for row in shortages(session)
    }
    return Supply(
        today,
        window,
        shown,
        product_facts(session, {f.gtin for f in shown}),
        {k: v for k, v in surplus.items() if any((f.region, f.gtin) == k for f in shown)},
        len(kept) - len(shown),
    )
