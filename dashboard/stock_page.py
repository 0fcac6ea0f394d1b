"""``/dashboard/stock``: packs by region, then a region's participants (``?region=``), a
participant's products there (``&holder=``), a product's lots (``&gtin=``), each lot linked to
its lot page; active, in transit, dispensed, recalled and expired (:mod:`dashboard.stock_view`),
with a bar per line. Regions are named as ISO 3166-2 names them; participants and products by
their registry and master data names.

Regulators and auditors read every region; an inspector its own region's only (a region
outside it answers an empty table). Where a GeoJSON file of region shapes is configured
(``PROVENANCE_INDEXER_REGIONS_GEOJSON``, :mod:`dashboard.region_map`) the regions' page
draws the map too. Below the packs, days of supply by region and product
(:mod:`dashboard.supply_view`), the regions short of a product first."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Final
from urllib.parse import urlencode

import pycountry
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from dashboard.i18n import messages
from dashboard.lot_page import LOT, url_of
from dashboard.region_map import RegionMap
from dashboard.render import render
from dashboard.signin import HEADERS, SignedInDep, language_of
from dashboard.stock_view import COLUMNS, UNKNOWN, read_stock
from dashboard.supply_view import read_supply
from dashboard.trace_page import participant_label
from indexer.api.deps import ServiceDep, TodayDep
from indexer.queries.scope import EVERYTHING, Scope
from indexer.reader_keys import FULL_READERS
from medledger.epcis import gs1
from medledger.errors import ValidationError
from medledger.regions import region_code

PATH: Final = "/dashboard/stock"
#: ``?region=`` of the packs no region is known of
UNKNOWN_PARAM: Final = "unknown"

router = APIRouter(include_in_schema=False)
Text = Annotated[str | None, Query(max_length=64)]


def region_name(code: str, unknown: str) -> str:
    """``Bishkek (KG-GB)``; the code alone where ISO 3166 has no name for it."""
    if code == UNKNOWN:
        return unknown
    found = _names().get(code)
    return f"{found} ({code})" if found is not None else code


@cache
def _names() -> dict[str, str]:
    """ISO 3166 code -> name, for every country and subdivision pycountry knows."""
    names = {str(c.alpha_2): str(c.name) for c in pycountry.countries}
    return names | {str(s.code): str(s.name) for s in pycountry.subdivisions}


def _chosen(region: str | None, holder: str | None, gtin: str | None) -> dict[str, str] | None:
    """The drill-down's choices, checked (None: one is not a region, address or GTIN)."""
    out: dict[str, str] = {}
    try:
        if region:
            out["region"] = UNKNOWN if region == UNKNOWN_PARAM else region_code(region)
        if holder and "region" in out:
            if not (len(holder) == 42 and holder.startswith("0x")):
                return None
            out["holder"] = holder
        if gtin and "holder" in out:
            out["gtin"] = gs1.gtin(gtin)
    except ValidationError:
        return None
    return out


def _url(language: str, **chosen: str) -> str:
    params = {
        k: (UNKNOWN_PARAM if k == "region" and v == UNKNOWN else v) for k, v in chosen.items()
    }
    return f"{PATH}?{urlencode({**params, 'lang': language})}"


@router.get(PATH, response_class=HTMLResponse)
def stock_page(
    request: Request,
    service: ServiceDep,
    signed: SignedInDep,
    today: TodayDep,
    region: Text = None,
    holder: Text = None,
    gtin: Text = None,
) -> HTMLResponse:
    language = language_of(request)
    t = messages(language)
    chosen = _chosen(region, holder, gtin)
    if chosen is None:
        body = render(request, "stock.html", language, signed=signed, problem=t["stock.bad_choice"])
        return HTMLResponse(body, status_code=422, headers=HEADERS)
    scope = EVERYTHING if signed.role in FULL_READERS else Scope(signed.region)
    with service.sessions() as session:
        found = read_stock(session, scope, today, **chosen)
        supply = read_supply(
            session,
            service.settings,
            scope_region=scope.region,
            region=chosen.get("region"),
            gtin=chosen.get("gtin"),
        )
    unknown = t["stock.no_region"]

    def label(key: str) -> str:
        if found.level == "region":
            return region_name(key, unknown)
        if found.level == "holder":
            return participant_label(found.participants, key) if key else unknown
        if found.level == "gtin":
            return _product(found.products, key)
        expiry = found.expiries.get(key)
        return f"{key} · {t['fact.expiry']} {expiry}" if expiry else key

    def link(key: str) -> str | None:
        if found.level == "lot":
            if signed.role not in FULL_READERS:
                return None  # an inspector's key does not open lot pages
            return url_of(LOT, chosen["gtin"], key, language)
        below = {"region": "region", "holder": "holder", "gtin": "gtin"}[found.level]
        return _url(language, **chosen, **{below: key})

    trail: list[tuple[str, str]] = [(t["stock.title"], _url(language))]
    if "region" in chosen:
        trail.append(
            (region_name(chosen["region"], unknown), _url(language, region=chosen["region"]))
        )
    if "holder" in chosen:
        trail.append(
            (
                participant_label(found.participants, chosen["holder"]),
                _url(language, **{k: chosen[k] for k in ("region", "holder")}),
            )
        )
    if "gtin" in chosen:
        trail.append((_product(found.products, chosen["gtin"]), _url(language, **chosen)))
    top = max((row.packs for row in found.rows), default=0) or 1
    shapes: RegionMap | None = getattr(request.app.state, "dashboard_region_map", None)
    body = render(
        request,
        "stock.html",
        language,
        signed=signed,
        problem=None,
        found=found,
        columns=COLUMNS,
        label=label,
        link=link,
        trail=trail,
        top=top,
        supply=supply,
        region_label=lambda k: region_name(k, unknown),
        product_label=lambda g: _product(supply.products, g),
        region_map=shapes.draw(
            {r.key: r.packs for r in found.rows},
            lambda k: region_name(k, unknown),
            lambda k: _url(language, region=k),
            t["stock.map"],
            scope.region,
        )
        if shapes is not None and found.level == "region"
        else None,
    )
    return HTMLResponse(body, headers=HEADERS)


def _product(products: dict[str, Any], gtin: str) -> str:
    found = products.get(gtin)
    return f"{found['name']} · {gtin}" if found and found.get("name") else gtin
