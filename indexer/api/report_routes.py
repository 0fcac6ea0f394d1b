"""``GET /reports``: a regulator's report for a period, region and product
(:mod:`indexer.queries.reports`), as JSON or CSV (``format=csv``). A regulator's or auditor's
key reads every region; an inspector's its own (a region outside it is refused, none given is
its own). The printable HTML form is the dashboard's (``/dashboard/reports``) and the CLI's
(``provenance report --format html``)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from indexer.api.deps import ScopeDep, SessionDep
from indexer.queries.reports import Period, as_csv, report
from medledger.epcis import gs1
from medledger.errors import PermissionDeniedError
from medledger.regions import in_region, region_code
from servicekit.http.bodies import StrictJSONRoute

reports = APIRouter(tags=["reports"], route_class=StrictJSONRoute)


@reports.get(
    "/reports",
    summary="A report for a period, region and product",
    response_model=None,
    responses={200: {"content": {"text/csv": {}}}},
)
def get_report(
    session: SessionDep,
    within: ScopeDep,
    start: Annotated[date, Query(alias="from", description="first day (UTC), YYYY-MM-DD")],
    end: Annotated[date, Query(alias="to", description="last day (UTC), included")],
    region: Annotated[
        str | None, Query(max_length=6, description="ISO 3166-2 subdivision or country")
    ] = None,
    gtin: Annotated[str | None, Query(max_length=14, description="8 to 14 digits")] = None,
    format: Literal["json", "csv"] = "json",  # noqa: A002 - the query parameter's name
) -> Response:
    """Movements, dispensing, stock, recalls with their reach, alerts by kind and outcome, and
    the chain height and anchors the figures rest on (docs/indexer.md, "Reports")."""
    chosen = region_code(region, pointer="region") if region is not None else None
    if within.region is not None:
        if chosen is not None and not in_region(chosen, within.region):
            raise PermissionDeniedError(
                f"an inspector of {within.region} reads reports of its own region only"
            )
        chosen = chosen or within.region
    found: dict[str, Any] = report(
        session,
        Period.of(start, end),
        region=chosen,
        gtin=gs1.gtin(gtin, pointer="gtin") if gtin is not None else None,
    )
    if format == "csv":
        name = f"report-{start}-{end}{'-' + chosen if chosen else ''}.csv"
        return Response(
            as_csv(found),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return JSONResponse(found)
