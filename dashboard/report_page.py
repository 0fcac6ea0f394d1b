"""``/dashboard/reports``: a regulator chooses a period (and a region, a product) and reads the
report (:mod:`indexer.queries.reports`) on the page, downloads it as CSV
(``/dashboard/reports.csv``) or opens the printable page (``/dashboard/reports/print``). An
inspector's reports are of its own region (a region outside it is refused); other keys'
roles are refused. Every form of the
report carries the chain height and the anchors it rests on."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from dashboard.i18n import messages
from dashboard.render import render
from dashboard.report_html import context, printable
from dashboard.signin import HEADERS, SignedInDep, language_of
from indexer.api.deps import ServiceDep
from indexer.queries.reports import Period, as_csv, report
from indexer.reader_keys import FULL_READERS
from medledger.epcis import gs1
from medledger.errors import ValidationError
from medledger.regions import in_region, region_code

PATH: Final = "/dashboard/reports"
CSV_PATH: Final = "/dashboard/reports.csv"
PRINT_PATH: Final = "/dashboard/reports/print"

router = APIRouter(include_in_schema=False)
Text = Annotated[str | None, Query(max_length=16)]


class _Refused(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _build(
    service: Any,
    signed: Any,
    language: str,
    start: str | None,
    end: str | None,
    region: str | None,
    gtin: str | None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """The report the form asks for, and the choices as the report's URLs carry them."""
    t = messages(language)
    try:
        period = Period.of(date.fromisoformat(start or ""), date.fromisoformat(end or ""))
        chosen = region_code(region) if region else None
        product = gs1.gtin(gtin) if gtin else None
    except ValidationError as exc:  # what is wrong, in the domain's words
        raise _Refused(str(exc), 422) from exc
    except ValueError as exc:  # a date that is not one
        raise _Refused(t["report.bad"], 422) from exc
    if signed.role not in FULL_READERS and (signed.role != "inspector" or not signed.region):
        raise _Refused(t["page.not_for_role"], 403)
    scope = None if signed.role in FULL_READERS else signed.region
    if scope is not None:
        if chosen is not None and not in_region(chosen, scope):
            raise _Refused(t["report.not_your_region"], 403)
        chosen = chosen or scope
    with service.sessions() as session:
        found = report(session, period, region=chosen, gtin=product)
    params = {"from": period.first.isoformat(), "to": period.last.isoformat()}
    params |= {k: v for k, v in (("region", chosen), ("gtin", product)) if v}
    return found, params


@router.get(PATH, response_class=HTMLResponse)
def reports_page(
    request: Request,
    service: ServiceDep,
    signed: SignedInDep,
    start: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    region: Text = None,
    gtin: Text = None,
) -> HTMLResponse:
    language = language_of(request)
    form = {"from": start or "", "to": end or "", "region": region or "", "gtin": gtin or ""}
    page: dict[str, Any] = {"form": form, "path": PATH, "problem": None, "found": None}
    status = 200
    if start or end:
        try:
            found, params = _build(service, signed, language, start, end, region, gtin)
            query = urlencode({**params, "lang": language})
            page |= context(found, language) | {
                "csv_url": f"{CSV_PATH}?{query}",
                "print_url": f"{PRINT_PATH}?{query}",
            }
        except _Refused as refused:
            page["problem"], status = str(refused), refused.status
    body = render(request, "reports.html", language, signed=signed, **page)
    return HTMLResponse(body, status_code=status, headers=HEADERS)


@router.get(CSV_PATH)
def report_csv(
    request: Request,
    service: ServiceDep,
    signed: SignedInDep,
    start: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    region: Text = None,
    gtin: Text = None,
) -> Response:
    language = language_of(request)
    try:
        found, params = _build(service, signed, language, start, end, region, gtin)
    except _Refused as refused:
        return Response(str(refused), status_code=refused.status, media_type="text/plain")
    name = "report-" + "-".join(params.values()) + ".csv"
    headers = HEADERS | {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(as_csv(found), media_type="text/csv; charset=utf-8", headers=headers)


@router.get(PRINT_PATH, response_class=HTMLResponse)
def report_print(
    request: Request,
    service: ServiceDep,
    signed: SignedInDep,
    start: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    region: Text = None,
    gtin: Text = None,
) -> HTMLResponse:
    language = language_of(request)
    try:
        found, _ = _build(service, signed, language, start, end, region, gtin)
    except _Refused as refused:
        return HTMLResponse(str(refused), status_code=refused.status, headers=HEADERS)
    return HTMLResponse(printable(found, language, standalone=False), headers=HEADERS)
