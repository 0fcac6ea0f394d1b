"""Stock: what is where now. Counts of live items (active or in transit) by holder, location,
GTIN, lot and status; and class-level holdings (kilograms of an API lot) that are not zero.

Logistic units (cases, pallets) are counted too, under ``gtin`` None.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from indexer.queries.common import decimal_text, participants
from indexer.queries.masterdata import location_facts, product_facts, region_of
from indexer.queries.scope import EVERYTHING, Scope
from indexer.store.models import HoldingVersionRow, ItemVersionRow
from medledger.epcis.digital_link import lot_of_class
from medledger.regions import in_region

LIVE = ("active", "in_transit")


def stock(
    session: Session,
    *,
    participant: str | None = None,
    location: str | None = None,
    gtin: str | None = None,
    lot: str | None = None,
    region: str | None = None,
    within: Scope = EVERYTHING,
) -> dict[str, Any]:
    """Filters are exact: a checksummed holder address, a canonical location, a GTIN-14, a lot.
    ``region`` (an ISO 3166-2 subdivision or a country) keeps the items at locations whose
    master data puts them there (docs/masterdata.md), and no holdings (they have no location).
    A region's scope (``within``) keeps what its participants hold (and send). Names and regions
    of locations and products come with the answer where master data exists, and the items
    counted by region (``byRegion``; ``region`` null: no master data says)."""
    held_by = within.participants(session)
    query = select(
        ItemVersionRow.holder,
        ItemVersionRow.location,
        ItemVersionRow.gtin,
        ItemVersionRow.lot,
        ItemVersionRow.status,
        func.count(),
    ).where(ItemVersionRow.valid_to.is_(None), ItemVersionRow.status.in_(LIVE))
    if participant is not None:
        query = query.where(ItemVersionRow.holder == participant)
    if held_by is not None:
        query = query.where(ItemVersionRow.holder.in_(held_by))
    if location is not None:
        query = query.where(ItemVersionRow.location == location)
    if gtin is not None:
        query = query.where(ItemVersionRow.gtin == gtin)
    if lot is not None:
        query = query.where(ItemVersionRow.lot == lot)
    group = (
        ItemVersionRow.holder,
        ItemVersionRow.location,
        ItemVersionRow.gtin,
        ItemVersionRow.lot,
        ItemVersionRow.status,
    )
    rows = session.execute(query.group_by(*group).order_by(*group))
    items: list[dict[str, Any]] = [
        {"holder": h, "location": loc, "gtin": g, "lot": lt, "status": s, "count": int(n)}
        for h, loc, g, lt, s, n in rows
    ]
    places = location_facts(session, {i["location"] for i in items})
    for item in items:
        item["region"] = region_of(places, item["location"])
    if region is not None:
        items = [i for i in items if in_region(i["region"], region)]
    by_region: dict[str | None, int] = {}
    for item in items:
        by_region[item["region"]] = by_region.get(item["region"], 0) + item["count"]
    holdings: list[dict[str, Any]] = []
    if location is None and region is None:
        held = select(HoldingVersionRow).where(
            HoldingVersionRow.valid_to.is_(None), HoldingVersionRow.quantity != 0
        )
        if participant is not None:
            held = held.where(HoldingVersionRow.holder == participant)
        if held_by is not None:
            held = held.where(HoldingVersionRow.holder.in_(held_by))
        for row in session.scalars(
            held.order_by(
                HoldingVersionRow.class_id,
                HoldingVersionRow.holder,
                HoldingVersionRow.in_transit_to,
            )
        ):
            found = lot_of_class(row.class_id)
            g, lt = found if found else (None, None)
            if (gtin is not None and g != gtin) or (lot is not None and lt != lot):
                continue
            holdings.append(
                {
                    "classId": row.class_id,
                    "gtin": g,
                    "lot": lt,
                    "holder": row.holder,
                    "status": "in_transit" if row.in_transit_to else "active",
                    "inTransitTo": row.in_transit_to or None,
                    "quantity": decimal_text(row.quantity),
                    "uom": row.uom,
                }
            )
    addresses = [i["holder"] for i in items] + [h["holder"] for h in holdings]
    addresses += [h["inTransitTo"] for h in holdings]
    gtins = {i["gtin"] for i in items} | {h["gtin"] for h in holdings}
    return {
        "items": items,
        "holdings": holdings,
        "participants": participants(session, addresses),
        "byRegion": [
            {"region": r, "count": n}
            for r, n in sorted(by_region.items(), key=lambda p: (p[0] is None, p[0] or ""))
        ],
        "locations": {u: places[u] for u in sorted({i["location"] for i in items}) if u in places},
        "products": product_facts(session, gtins),
    }
