"""``/dashboard/trace``: one search box for whatever a scanner or a person has (a DataMatrix
element string, a GS1 Digital Link URI, an EPC URN, or a GTIN and a lot), and the trace: where
the pack or lot came from (the transformation and the API lots it consumed, with their makers),
and every custody step since, each with who, where, when and its anchor. Participants are shown
by name, or GLN and roles, never by a bare address."""

from __future__ import annotations

import re
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from dashboard.i18n import messages
from dashboard.render import render
from dashboard.signin import HEADERS, SignedInDep, language_of
from indexer.api.deps import ServiceDep
from indexer.queries import check as check_queries
from indexer.queries.common import lot_class_id
from indexer.queries.trace import trace
from indexer.reader_keys import FULL_READERS
from medledger.errors import NotFoundError, ValidationError

PATH: Final = "/dashboard/trace"
MAX_QUERY: Final = check_queries.MAX_CODE_LENGTH
#: "04700123123452 B2026-117", or with (01) and (10) and no serial.
_GTIN_LOT = re.compile(r"^\(?0?1?\)?\s*(\d{14})\s*(?:\(10\)|\s)\s*(\S{1,20})$")

router = APIRouter(include_in_schema=False)


def identifier_of(query: str) -> str:
    """The identifier to trace: a lot's class for a GTIN and a lot, else the scanned pack's
    canonical identifier, else the text as given (an SSCC, an LGTIN URI, an EPC pattern)."""
    text = query.strip()
    lot = _GTIN_LOT.match(text)
    if lot is not None:
        return lot_class_id(lot.group(1), lot.group(2))
    try:
        return check_queries.parse_code(text).identifier
    except ValidationError:
        return text


def participant_label(participants: dict[str, Any], address: str | None) -> str:
    """A participant as a person reads it: its name, else GLN and roles."""
    if not address:
        return ""
    found = participants.get(address)
    if found is None:
        return "unregistered participant"
    if found.get("name"):
        return str(found["name"])
    roles = ", ".join(found.get("roles") or [])
    return f"GLN {found.get('gln') or '?'} · {roles}"


@router.get(PATH, response_class=HTMLResponse)
def trace_page(
    request: Request,
    service: ServiceDep,
    signed: SignedInDep,
    q: Annotated[str, Query(max_length=MAX_QUERY)] = "",
) -> HTMLResponse:
    language = language_of(request)
    t = messages(language)
    found: dict[str, Any] | None = None
    problem: str | None = None
    status = 200
    if signed.role not in FULL_READERS:
        problem, status = t["trace.not_for_role"], 403
    elif q.strip():
        with service.sessions() as session:
            found, problem, status = _trace(session, q, t)
    page = render(
        request,
        "trace.html",
        language,
        signed=signed,
        q=q,
        found=found,
        problem=problem,
        who=lambda address: participant_label(found["participants"] if found else {}, address),
    )
    return HTMLResponse(page, status_code=status, headers=HEADERS)


def _trace(
    session: Session, query: str, t: dict[str, str]
) -> tuple[dict[str, Any] | None, str | None, int]:
    try:
        return trace(session, identifier_of(query)), None, 200
    except NotFoundError:
        return None, t["trace.unknown"], 404
    except ValidationError as exc:
        return None, f"{t['trace.malformed']} {exc}", 422
