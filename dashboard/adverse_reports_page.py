"""``/dashboard/adverse-reactions?gtin=&lot=``: a lot's adverse-reaction reports as written
(what happened, the reporter's contact, from where and when), for the regulator's
pharmacovigilance officers only (``pharmacovigilance`` reader keys): every other role gets 403
and sees, on the lot's page, only how many there are."""

from __future__ import annotations

from typing import Annotated, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from dashboard.i18n import messages
from dashboard.render import render
from dashboard.signin import HEADERS, SignedInDep, language_of
from indexer import adverse_reports
from indexer.api.deps import ServiceDep
from indexer.reader_keys import PHARMACOVIGILANCE_READERS
from medledger.epcis import gs1
from medledger.errors import ValidationError

PATH: Final = "/dashboard/adverse-reactions"

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Query(max_length=64)]


def reports_url(gtin: str, lot: str, language: str) -> str:
    return f"{PATH}?{urlencode({'gtin': gtin, 'lot': lot, 'lang': language})}"


@router.get(PATH, response_class=HTMLResponse)
def adverse_reports_page(
    request: Request, service: ServiceDep, signed: SignedInDep, gtin: Text = "", lot: Text = ""
) -> HTMLResponse:
    t = messages(language_of(request))
    status, problem, rows = 200, None, []
    if signed.role not in PHARMACOVIGILANCE_READERS:
        status, problem = 403, t["adverse.not_yours"]
    else:
        try:
            checked = gs1.gtin(gtin, pointer="gtin")
        except ValidationError:
            checked = ""
        if not checked or not lot:
            status, problem = 404, t["lot.unknown"]
        else:
            with service.sessions() as session:
                rows = adverse_reports.reports_of_lot(session, checked, lot)
                session.expunge_all()
    body = render(
        request,
        "adverse_reports.html",
        language_of(request),
        signed=signed,
        problem=problem,
        rows=rows,
        gtin=gtin,
        lot=lot,
    )
    return HTMLResponse(body, status_code=status, headers=HEADERS)
