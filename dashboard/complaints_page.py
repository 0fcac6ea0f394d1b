"""``/dashboard/complaints``: the regulator reads the public's price complaints (newest first,
by status), opens one (the product, the price paid against the maximum price of the day, the
pharmacy named, the receipt photo, the complainant's contact) and sets its status with a note;
the complainant sees the new status by the reference. Only a regulator's key (and a
pharmacovigilance officer's, which reads what a regulator reads) opens these pages: a complaint
may carry a person's contact."""

from __future__ import annotations

from typing import Annotated, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dashboard.i18n import messages
from dashboard.render import render
from dashboard.signin import (
    HEADERS,
    SignedInDep,
    check_csrf,
    form_fields,
    language_of,
    same_origin,
)
from indexer import complaints
from indexer.api.deps import ServiceDep
from indexer.store.models import COMPLAINT_STATES
from medledger.errors import NotFoundError, ValidationError
from servicekit.sql.helpers import utcnow

PATH: Final = "/dashboard/complaints"
#: The reader roles that see complaints (they carry personal data: the contact).
READERS: Final = ("regulator", "pharmacovigilance")
MAX_ACTION_BYTES: Final = 8 * 1024

router = APIRouter(include_in_schema=False)


def _refused(request: Request, signed: SignedInDep, status: int, problem: str) -> HTMLResponse:
    body = render(
        request,
        "complaints.html",
        language_of(request),
        signed=signed,
        problem=problem,
        rows=[],
        states=COMPLAINT_STATES,
        chosen="",
    )
    return HTMLResponse(body, status_code=status, headers=HEADERS)


@router.get(PATH, response_class=HTMLResponse)
def complaints_list(
    request: Request,
    service: ServiceDep,
    signed: SignedInDep,
    status: Annotated[str | None, Query(max_length=16)] = None,
) -> HTMLResponse:
    t = messages(language_of(request))
    if signed.role not in READERS:
        return _refused(request, signed, 403, t["complaints.not_yours"])
    chosen = status if status in COMPLAINT_STATES else None
    with service.sessions() as session:
        rows = complaints.listed(session, status=chosen)
    body = render(
        request,
        "complaints.html",
        language_of(request),
        signed=signed,
        problem=None,
        rows=rows,
        states=COMPLAINT_STATES,
        chosen=chosen or "",
    )
    return HTMLResponse(body, headers=HEADERS)


def _detail(
    request: Request,
    service: ServiceDep,
    signed: SignedInDep,
    reference: str,
    *,
    problem: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    t = messages(language_of(request))
    if signed.role not in READERS:
        return _refused(request, signed, 403, t["complaints.not_yours"])
    with service.sessions() as session:
        try:
            row = complaints.complaint(session, reference[:16])
        except NotFoundError:
            return _refused(request, signed, 404, t["complaint.unknown"])
        session.expunge(row)
    body = render(
        request,
        "complaint_detail.html",
        language_of(request),
        signed=signed,
        row=row,
        states=COMPLAINT_STATES,
        problem=problem,
        path=PATH,
    )
    return HTMLResponse(body, status_code=status, headers=HEADERS)


@router.get(PATH + "/{reference}", response_class=HTMLResponse)
def complaint_detail(
    request: Request, service: ServiceDep, signed: SignedInDep, reference: str
) -> HTMLResponse:
    return _detail(request, service, signed, reference)


@router.get(PATH + "/{reference}/receipt")
def complaint_receipt(service: ServiceDep, signed: SignedInDep, reference: str) -> Response:
    """The stored (re-encoded) receipt photo, for the regulator's eyes only."""
    if signed.role not in READERS:
        return Response(status_code=403, headers=HEADERS)
    with service.sessions() as session:
        try:
            row = complaints.complaint(session, reference[:16])
        except NotFoundError:
            return Response(status_code=404, headers=HEADERS)
        data, media_type = row.receipt, row.receipt_type
    return Response(
        data,
        media_type=media_type,
        headers={**HEADERS, "Content-Disposition": f'inline; filename="{reference[:16]}"'},
    )


@router.post(PATH + "/{reference}", response_class=HTMLResponse)
async def complaint_update(
    request: Request, service: ServiceDep, signed: SignedInDep, reference: str
) -> Response:
    same_origin(request)
    fields = await form_fields(request, MAX_ACTION_BYTES)
    check_csrf(signed, fields)
    if signed.role not in READERS:
        return _refused(
            request, signed, 403, messages(language_of(request))["complaints.not_yours"]
        )
    try:
        with service.write_sessions() as session, session.begin():
            complaints.set_status(
                session,
                reference[:16],
                fields.get("status", ""),
                fields.get("note", ""),
                actor=signed.name,
                now=utcnow(),
            )
    except NotFoundError:
        return _detail(request, service, signed, reference)
    except ValidationError as exc:
        return _detail(request, service, signed, reference, problem=str(exc), status=422)
    lang = request.query_params.get("lang")
    suffix = f"?{urlencode({'lang': lang})}" if lang else ""
    return RedirectResponse(f"{PATH}/{reference[:16]}{suffix}", status_code=303)
