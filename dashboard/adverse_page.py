"""``/report``: a person reports an adverse reaction to a medicine (issue 22): the pack's code
(typed, or carried over from the pack check), what happened, and optionally how to reach them.
The protections of the complaint form (same origin, the ``reports`` budget per client address,
a capped body); the answer is a reference number. Stored off chain and counted on the lot's
dashboard page (:mod:`indexer.adverse_reports`); what was written is read by the regulator's
pharmacovigilance officers only (``/dashboard/adverse-reactions``)."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from dashboard.i18n import choose, messages
from dashboard.render import render
from dashboard.signin import HEADERS, form_fields, same_origin
from indexer import adverse_reports
from indexer.api.deps import ServiceDep
from indexer.queries.check import MAX_CODE_LENGTH
from medledger.errors import RateLimitedError, ValidationError
from servicekit.http.ratelimits import RateLimits, client_key
from servicekit.sql.helpers import utcnow

PATH: Final = "/report"
#: What happened, in Cyrillic, percent-encoded: 2,000 characters take up to 12 KB.
MAX_FORM_BYTES: Final = 32 * 1024

router = APIRouter(include_in_schema=False)


def _page(request: Request, status: int = 200, **context: Any) -> HTMLResponse:
    language = choose(request.query_params.get("lang"), request.headers.get("accept-language", ""))
    defaults: dict[str, Any] = {
        "given": {"code": "", "description": "", "contact": ""},
        "problem": None,
        "filed": None,
        "max_length": MAX_CODE_LENGTH,
        "max_description": adverse_reports.MAX_DESCRIPTION,
    }
    page = render(request, "report.html", language, **(defaults | context))
    return HTMLResponse(page, status_code=status, headers=HEADERS)


@router.get(PATH, response_class=HTMLResponse)
def report_form(
    request: Request, code: Annotated[str | None, Query(max_length=MAX_CODE_LENGTH)] = None
) -> HTMLResponse:
    return _page(request, given={"code": code or "", "description": "", "contact": ""})


@router.post(PATH, response_class=HTMLResponse)
async def send_report(request: Request, service: ServiceDep) -> HTMLResponse:
    language = choose(request.query_params.get("lang"), request.headers.get("accept-language", ""))
    t = messages(language)
    same_origin(request)
    limits: RateLimits = request.app.state.rate_limits
    try:
        limits.take_report(client_key(request.client and request.client.host))
    except RateLimitedError as exc:
        answer = _page(request, 429, problem=t["complaint.limited"])
        answer.headers["Retry-After"] = str(exc.retry_after_seconds)
        return answer
    fields = await form_fields(request, MAX_FORM_BYTES)
    given = {k: fields.get(k, "") for k in ("code", "description", "contact")}
    if not given["code"].strip() or not given["description"].strip():
        return _page(request, 422, given=given, problem=t["report.missing"])
    try:
        with service.write_sessions() as session, session.begin():
            filed = adverse_reports.file_report(
                session,
                code=given["code"],
                description=given["description"],
                contact=given["contact"],
                now=utcnow(),
                threshold=service.settings.adverse_reaction_threshold,
            )
    except ValidationError as exc:
        problem = t["error.malformed"] + ": " + str(exc) if exc.pointer == "code" else str(exc)
        return _page(request, 422, given=given, problem=problem)
    return _page(request, 200, filed=filed.reference)
