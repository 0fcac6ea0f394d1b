"""The medicine finder (issue 22): a product found by its name, its GTIN or a scanned pack's code,
what master data says of it for a patient (registration status, leaflet, regulated maximum
retail price) and the pharmacies that hold it now, by region.

A pharmacy *holds* a product when a pack of it is active (not in transit, not dispensed) at one
of its locations, its holder a registered, active participant with the pharmacy role, and the
pack's lot neither recalled nor suspended (pending investigation) in force, nor past its
expiry. The answer names pharmacies, never how many packs each holds (stock levels are
commercial facts and a guide to diversion); a region counts its pharmacies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Final

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from indexer.queries.check import parse_code
from indexer.queries.common import participants
from indexer.queries.masterdata import location_facts
from indexer.store.models import (
    ItemVersionRow,
    LotRow,
    MasterDataRow,
    ParticipantProfileRow,
    ParticipantRow,
    RecallRow,
)
from medledger.epcis import gs1
from medledger.epcis.identifiers import ID_GS1
from medledger.errors import ValidationError
from medledger.masterdata.record import read_record
from medledger.masterdata.views import Product, product
from medledger.masterdata.vocabulary import KIND_PRODUCT
from medledger.roles import Role

#: The shortest and longest name a search takes.
MIN_QUERY: Final = 2
MAX_QUERY: Final = 100
#: At most this many products a search lists.
MAX_PRODUCTS: Final = 20
_PRODUCT_ID: Final = f"{ID_GS1}/01/"


@dataclass(frozen=True)
class Pharmacy:
    """A pharmacy's site that holds the product: its location's name, else the participant's."""

    location: str | None
    name: str
    region: str | None
    city: str | None
    latitude: str | None
    longitude: str | None


@dataclass
class Availability:
    """Where a product is in stock at pharmacies, by region (region None: no master data)."""

    gtin: str
    by_region: dict[str | None, list[Pharmacy]] = field(default_factory=dict)

    @property
    def pharmacies(self) -> int:
        return sum(len(found) for found in self.by_region.values())


def gtin_asked(text: str) -> str | None:
    """The GTIN-14 a query names: 8-14 digits (check digit verified) or a pack's scanned code;
    None when it is a name to search for. ValidationError for digits with a wrong check digit."""
    query = text.strip()
    if query.isdigit() and len(query) in (8, 12, 13, 14):
        return gs1.gtin(query, pointer="q")
    looks_like_code = query.startswith(("(", "]", "\x1d", "urn:epc:")) or "://" in query
    if looks_like_code or (query.isdigit() and len(query) > 14):
        return parse_code(query).gtin
    return None


def _checked_name(text: str) -> str:
    query = " ".join(text.split())
    if not MIN_QUERY <= len(query) <= MAX_QUERY:
        raise ValidationError(
            f"a name to search for is {MIN_QUERY} to {MAX_QUERY} characters",
            rule="finder.query",
            pointer="q",
        )
    return query


def _current_products(session: Session, rows: list[MasterDataRow]) -> dict[str, Product]:
    now = datetime.now(UTC)
    best: dict[str, MasterDataRow] = {}
    for row in rows:
        if row.effective_time.replace(tzinfo=row.effective_time.tzinfo or UTC) > now:
            continue
        found = best.get(row.element_id)
        if found is None or (row.effective_time, row.seq) > (found.effective_time, found.seq):
            best[row.element_id] = row
    return {e: product(read_record(json.loads(r.raw))) for e, r in best.items()}


def search(session: Session, text: str) -> list[Product]:
    """Products whose current name contains ``text`` (any case), or the one product its GTIN
    or scanned code names (when master data knows it); at most :data:`MAX_PRODUCTS`, by name."""
    gtin = gtin_asked(text)
    if gtin is not None:
        found = describe(session, gtin)
        return [found] if found is not None else []
    query = _checked_name(text).lower()
    pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    elements = session.scalars(
        select(MasterDataRow.element_id)
        .where(
            MasterDataRow.kind == KIND_PRODUCT,
            func.lower(MasterDataRow.name).like(pattern, escape="\\"),
        )
        .distinct()
        .limit(10 * MAX_PRODUCTS)
    ).all()
    if not elements:
        return []
    rows = list(
        session.scalars(select(MasterDataRow).where(MasterDataRow.element_id.in_(elements)))
    )
    current = _current_products(session, rows)
    matching = [p for p in current.values() if p.name and query in p.name.lower()]
    return sorted(matching, key=lambda p: (p.name or "", p.gtin))[:MAX_PRODUCTS]


def describe(session: Session, gtin: str) -> Product | None:
    """What master data says of the product now (None: nothing)."""
    rows = list(
        session.scalars(select(MasterDataRow).where(MasterDataRow.element_id == _PRODUCT_ID + gtin))
    )
    return _current_products(session, rows).get(_PRODUCT_ID + gtin)


def availability(session: Session, gtin: str, *, today: date) -> Availability:
    """The pharmacies holding a usable pack of ``gtin`` now (see the module docstring)."""
    v = ItemVersionRow
    pharmacy = Role.PHARMACY.value
    query = (
        select(v.holder, v.location)
        .join(ParticipantRow, ParticipantRow.address == v.holder)
        .outerjoin(LotRow, and_(LotRow.gtin == v.gtin, LotRow.lot == v.lot))
        .outerjoin(RecallRow, and_(RecallRow.gtin == v.gtin, RecallRow.lot == v.lot))
        .where(
            v.valid_to.is_(None),
            v.gtin == gtin,
            v.status == "active",
            ParticipantRow.active.is_(True),
            ParticipantRow.roles.op("&")(pharmacy) != 0,
            or_(RecallRow.recalled.is_(None), RecallRow.recalled.is_(False)),
            or_(RecallRow.suspended.is_(None), RecallRow.suspended.is_(False)),
            or_(LotRow.expiry.is_(None), LotRow.expiry >= today),
        )
        .distinct()
    )
    found: set[tuple[str | None, str | None]] = {(h, loc) for h, loc in session.execute(query)}
    sites = sorted(found, key=lambda p: (p[0] or "", p[1] or ""))
    places = location_facts(session, {location for _, location in sites})
    registry = participants(session, {holder for holder, _ in sites})
    profiles = select(ParticipantProfileRow.address, ParticipantProfileRow.region).where(
        ParticipantProfileRow.address.in_({h for h, _ in sites if h})
    )
    registered: dict[str, str | None] = {
        row.address: row.region for row in session.execute(profiles)
    }
    out = Availability(gtin)
    for holder, location in sites:
        place = places.get(location or "", {})
        who = registry.get(holder or "", {})
        name = place.get("name") or who.get("name") or who.get("gln") or "?"
        region = place.get("region") or registered.get(holder or "")
        out.by_region.setdefault(region, []).append(
            Pharmacy(
                location=location,
                name=str(name),
                region=region,
                city=place.get("city"),
                latitude=place.get("latitude"),
                longitude=place.get("longitude"),
            )
        )
    for listed in out.by_region.values():
        listed.sort(key=lambda p: (p.name, p.location or ""))
    return out
