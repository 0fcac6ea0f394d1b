"""``/complaint``: a citizen's price complaint (issue 22), and ``/complaint/status``: following it
by its reference number. No sign-in and no CSRF token (there is no session to ride); instead
the protections of ``/check`` and a few of a form's own: a POST must come from this site (the
``Origin`` header a browser sends), every complaint counts against the client address's
``reports`` budget (``PROVENANCE_INDEXER_REPORT_RATE_LIMIT``), the body is capped (four times
the photo cap, ``PROVENANCE_INDEXER_RECEIPT_MAX_BYTES``; a photo over the cap itself is refused
with the page saying so), the form's parts are counted and bounded, and the receipt photo must
be a JPEG or PNG by its content and is stored re-encoded without its metadata
(:mod:`dashboard.receipt_image`). Looking a reference up counts against the check budget, so
references (50 random bits) cannot be enumerated."""

from __future__ import annotations

from typing import Annotated, Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dashboard.finder_page import take_budget
from dashboard.i18n import choose, messages
from dashboard.multipart import parse_form
from dashboard.receipt_image import ReceiptTooLarge, clean_receipt
from dashboard.render import render
from dashboard.signin import HEADERS
from indexer import complaints
from indexer.api.deps import ServiceDep
from medledger.epcis import gs1
from medledger.errors import PermissionDeniedError, RateLimitedError, ValidationError
from servicekit.http.ratelimits import RateLimits, client_key
from servicekit.sql.helpers import utcnow

PATH: Final = "/complaint"
STATUS_PATH: Final = "/complaint/status"
#: The request body a complaint may send: this many times the photo cap (the page says a photo
#: between the two is too large; a body beyond is a 413 before it is read).
BODY_FACTOR: Final = 4
FORM_OVERHEAD: Final = 64 * 1024
MIB: Final = 1024 * 1024

router = APIRouter(include_in_schema=False)


def body_limit(receipt_max_bytes: int) -> int:
    return BODY_FACTOR * receipt_max_bytes + FORM_OVERHEAD


def _language(request: Request) -> str:
    return choose(request.query_params.get("lang"), request.headers.get("accept-language", ""))


def _cap(request: Request) -> int:
    limit: int = request.app.state.service.settings.receipt_max_bytes
    return limit


def _form(
    request: Request, status: int = 200, *, problem: str | None = None, **given: str
) -> HTMLResponse:
    language = _language(request)
    page = render(
        request,
        "complaint.html",
        language,
        given={"gtin": "", "pharmacy": "", "price": "", "contact": ""} | given,
        problem=problem,
        megabytes=_megabytes(_cap(request)),
    )
    return HTMLResponse(page, status_code=status, headers=HEADERS)


def _megabytes(size: int) -> str:
    return f"{size / MIB:.1f}".rstrip("0").rstrip(".")


@router.get(PATH, response_class=HTMLResponse)
def complaint_form(
    request: Request, gtin: Annotated[str | None, Query(max_length=14)] = None
) -> HTMLResponse:
    return _form(request, gtin=gtin or "")


@router.post(PATH, response_class=HTMLResponse)
async def send_complaint(request: Request, service: ServiceDep) -> Response:
    t = messages(_language(request))
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise PermissionDeniedError("this form may only be sent from this site")
    limits: RateLimits = request.app.state.rate_limits
    try:
        limits.take_report(client_key(request.client and request.client.host))
    except RateLimitedError as exc:
        answer = _form(request, 429, problem=t["complaint.limited"])
        answer.headers["Retry-After"] = str(exc.retry_after_seconds)
        return answer
    try:
        form = parse_form(await request.body(), request.headers.get("content-type", ""))
    except ValidationError:
        return _form(request, 400, problem=t["complaint.missing"])
    given = {k: form.fields.get(k, "").strip() for k in ("gtin", "pharmacy", "price", "contact")}
    photo = form.files.get("receipt", b"")
    if not (given["gtin"] and given["pharmacy"] and given["price"] and photo):
        return _form(request, 422, problem=t["complaint.missing"], **given)
    try:
        gtin = gs1.gtin(given["gtin"], pointer="gtin")
        complaints.price(given["price"])
        cleaned = clean_receipt(photo, limit=_cap(request))
    except ReceiptTooLarge as exc:
        message = t["complaint.too_big"].format(size=_megabytes(exc.size), mb=_megabytes(exc.limit))
        return _form(request, 413, problem=message, **given)
    except ValidationError as exc:
        problem = {
            "complaint.price": t["complaint.bad_price"],
            "complaint.receipt-format": t["complaint.bad_image"],
        }.get(exc.rule or "", str(exc))
        return _form(request, 422, problem=problem, **given)
    try:
        with service.write_sessions() as session, session.begin():
            reference = complaints.file_complaint(
                session,
                gtin=gtin,
                pharmacy=given["pharmacy"],
                price_paid=given["price"],
                receipt=cleaned.data,
                receipt_type=cleaned.media_type,
                contact=given["contact"],
                now=utcnow(),
            )
    except ValidationError as exc:
        return _form(request, 422, problem=str(exc), **given)
    query = {"ref": reference, "new": "1"}
    if request.query_params.get("lang"):
        query["lang"] = request.query_params["lang"]
    return RedirectResponse(f"{STATUS_PATH}?{urlencode(query)}", status_code=303)


@router.get(STATUS_PATH, response_class=HTMLResponse)
def complaint_status(
    request: Request,
    service: ServiceDep,
    ref: Annotated[str | None, Query(max_length=40)] = None,
    new: Annotated[str | None, Query(max_length=1)] = None,
) -> HTMLResponse:
    t = messages(_language(request))
    context: dict[str, Any] = {"ref": ref or "", "found": None, "problem": None, "new": bool(new)}
    status = 200
    headers = dict(HEADERS)
    if ref and ref.strip():
        try:
            take_budget(request)
            reference = complaints.normal_reference(ref)
            if reference is not None:
                with service.sessions() as session:
                    context["found"] = complaints.public_status(session, reference)
            if context["found"] is None:
                status, context["problem"] = 404, t["complaint.unknown"]
        except RateLimitedError as exc:
            status, headers["Retry-After"] = 429, str(exc.retry_after_seconds)
            context["problem"] = t["error.limited"]
    page = render(request, "complaint_status.html", _language(request), **context)
    return HTMLResponse(page, status_code=status, headers=headers)
