"""``/find``: the public medicine finder (issue 22). A person types a medicine's name, its GTIN
or scans a pack (the check page's camera scan), picks the product, and reads its registration
status, leaflet link and regulated maximum retail price (product master data,
docs/masterdata.md) and the pharmacies that hold it now, listed by region and drawn on the
configured map of region outlines (``PROVENANCE_INDEXER_REGIONS_GEOJSON``; no tiles, nothing
fetched). English and Russian; no key. Every search and every product shown counts against the
client address's check budget, like ``/check``."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from dashboard.i18n import choose, messages
from dashboard.public_check import HEADERS
from dashboard.region_map import RegionMap
from dashboard.render import render
from dashboard.stock_page import region_name
from indexer.api.deps import SessionDep, TodayDep
from indexer.queries import finder
from indexer.queries.check import MAX_CODE_LENGTH
from medledger.epcis import gs1
from medledger.errors import RateLimitedError, ValidationError
from servicekit.http.ratelimits import RateLimits, client_key

PATH: Final = "/find"
#: The key of the pharmacies no master data or registration places in a region.
NO_REGION: Final = ""

router = APIRouter(include_in_schema=False)


def take_budget(request: Request) -> None:
    """Count one look-up of this client against the check budget (RateLimitedError past it)."""
    limits: RateLimits = request.app.state.rate_limits
    limits.take_check(client_key(request.client and request.client.host))


@router.get(PATH, response_class=HTMLResponse)
def find_page(
    request: Request,
    session: SessionDep,
    today: TodayDep,
    q: Annotated[str | None, Query(max_length=MAX_CODE_LENGTH)] = None,
    gtin: Annotated[str | None, Query(max_length=14)] = None,
    lang: Annotated[str | None, Query(max_length=8)] = None,
) -> HTMLResponse:
    language = choose(lang, request.headers.get("accept-language", ""))
    t = messages(language)
    context: dict[str, Any] = {
        "q": q or "",
        "products": None,
        "drug": None,
        "gtin": None,
        "where": None,
        "regions": [],
        "region_map": None,
        "error_title": None,
        "error": None,
    }
    status, headers = 200, {**HEADERS, "Vary": "Accept-Language"}
    try:
        if gtin:
            take_budget(request)
            _product(request, session, gs1.gtin(gtin, pointer="gtin"), today, language, context)
        elif q and q.strip():
            take_budget(request)
            found = finder.search(session, q)
            if len(found) == 1:
                _product(request, session, found[0].gtin, today, language, context)
            else:
                context["products"] = found
    except RateLimitedError as exc:
        status, headers["Retry-After"] = 429, str(exc.retry_after_seconds)
        context |= {"error_title": t["error.limited"], "error": ""}
    except ValidationError as exc:
        status = 422
        context |= {"error_title": t["find.malformed"], "error": str(exc)}
    page = render(
        request,
        "find.html",
        language,
        max_length=MAX_CODE_LENGTH,
        region_label=lambda code: region_name(code, t["find.no_region"]) if code else "",
        money=money,
        **context,
    )
    return HTMLResponse(page, status_code=status, headers=headers)


def money(amount: str) -> str:
    """A price as people write it: two decimals (``125.5`` -> ``125.50``), more if it has them."""
    value = Decimal(amount)
    return f"{value:.2f}" if value == value.quantize(Decimal("0.01")) else amount


def _product(
    request: Request,
    session: SessionDep,
    gtin: str,
    today: Any,
    language: str,
    context: dict[str, Any],
) -> None:
    t = messages(language)
    drug = finder.describe(session, gtin)
    where = finder.availability(session, gtin, today=today)
    context["drug"], context["gtin"], context["where"] = drug, gtin, where
    context["regions"] = sorted(
        where.by_region.items(), key=lambda p: (p[0] is None, region_name(p[0] or "", ""))
    )
    shapes: RegionMap | None = getattr(request.app.state, "dashboard_region_map", None)
    if shapes is not None:
        context["region_map"] = shapes.draw(
            {code: len(found) for code, found in where.by_region.items() if code},
            lambda code: region_name(code, t["find.no_region"]),
            lambda code: f"#region-{code}",
            t["find.map"],
        )
