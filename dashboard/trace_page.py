"""``/dashboard/trace``: one search box for whatever a scanner or a person has (a DataMatrix
element string, a GS1 Digital Link URI, an EPC URN, or a GTIN and a lot), and the trace: where
the pack or lot came from (the transformation and the API lots it consumed, with their makers),
and every custody step since, each with who, where, when and its anchor. Participants are shown
by name, or GLN and roles, never by a bare address."""

from __future__ import annotations

from typing import Annotated, Any, Final
from urllib.parse import urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy.orm import Session

from dashboard.i18n import messages
from dashboard.render import render
from dashboard.signin import HEADERS, SignedInDep, language_of
from indexer.api.deps import ServiceDep
from indexer.queries import check as check_queries
from indexer.queries.receipts import receipt_json
from indexer.queries.subjects import identifier_of
from indexer.queries.trace import trace
from indexer.reader_keys import FULL_READERS
from medledger.errors import NotFoundError, ValidationError

PATH: Final = "/dashboard/trace"
RECEIPT: Final = "/dashboard/receipt"
MAX_QUERY: Final = check_queries.MAX_CODE_LENGTH

router = APIRouter(include_in_schema=False)


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
        node_url=node_url(request),
        registry=service.deployment.anchor_registry,  # the page's, never the receipt's
        receipt_url=RECEIPT,
    )
    return HTMLResponse(page, status_code=status, headers=page_headers(request))


def node_url(request: Request) -> str | None:
    """The chain node's JSON-RPC URL the browser checks anchors against (``mount``'s
    ``node_url``), or None where the pages were given none (an in-process chain)."""
    url: str | None = getattr(request.app.state, "dashboard_node_url", None)
    return url


def page_headers(request: Request) -> dict[str, str]:
    """The pages' headers, letting the trace run its one script and reach the node."""
    url = node_url(request)
    node = ""
    if url:
        parts = urlsplit(url)
        node = f" {parts.scheme}://{parts.netloc}"
    return HEADERS | {
        "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; "
        f"script-src 'self'; connect-src 'self'{node}; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    }


@router.get(RECEIPT)
def receipt(
    service: ServiceDep,
    signed: SignedInDep,
    event: Annotated[str, Query(min_length=1, max_length=200)],
) -> JSONResponse:
    """The receipt of one event for the page's own check (JSON; a signed-in reader only)."""
    if signed.role not in FULL_READERS:
        return JSONResponse({"detail": "not for this role"}, status_code=403)
    with service.sessions() as session:
        try:
            body = receipt_json(session, event, service.deployment)
        except NotFoundError:
            return JSONResponse({"detail": "no such event"}, status_code=404)
        except ValidationError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=422)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def _trace(
    session: Session, query: str, t: dict[str, str]
) -> tuple[dict[str, Any] | None, str | None, int]:
    try:
        return trace(session, identifier_of(query)), None, 200
    except NotFoundError:
        return None, t["trace.unknown"], 404
    except ValidationError as exc:
        return None, f"{t['trace.malformed']} {exc}", 422
