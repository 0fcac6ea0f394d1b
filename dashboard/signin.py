"""Sign-in, sign-out and the signed-in pages' guard.

A reader key is typed once into ``/login`` and exchanged for a session cookie (HttpOnly,
SameSite=Strict, Secure over HTTPS; :mod:`dashboard.sessions`). Failed sign-ins count against
the client address's failed-authentication budget, like a bad key on the API. Every POST must
come from this origin (the ``Origin`` header, which browsers send with forms) and, once signed
in, carry the session's CSRF token (a hidden field, compared in constant time)."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from typing import Annotated, Any, Final
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dashboard import sessions
from dashboard.i18n import choose
from dashboard.overview import OverviewCache
from dashboard.render import SECURITY_HEADERS, render
from dashboard.sessions import SignedIn
from indexer.api.deps import ServiceDep
from indexer.reader_keys import FULL_READERS
from indexer.service import IndexerService
from medledger.errors import PermissionDeniedError, RateLimitedError
from servicekit.http.ratelimits import RateLimits, client_key
from servicekit.sql.helpers import utcnow

COOKIE: Final = "dash_session"
HOME: Final = "/dashboard"
LOGIN: Final = "/login"
NUMBERS: Final = "/dashboard/overview/numbers"
MAX_FORM_BYTES: Final = 4096

#: The check page's headers, but the referrer kept within the site: with ``no-referrer`` a
#: browser sends ``Origin: null`` with a form, and the origin check would refuse every form.
HEADERS: Final = {**SECURITY_HEADERS, "Referrer-Policy": "same-origin"}
#: The overview's: its own script may run and fetch its numbers from this site, nothing else.
LIVE_HEADERS: Final = {
    **HEADERS,
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; "
    "script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'",
}

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)


class NotSignedIn(Exception):
    """The request has no live session: the guard answers with the sign-in page."""


def language_of(request: Request) -> str:
    """The page's language: ``?lang=``, else the browser's, else English."""
    return choose(request.query_params.get("lang"), request.headers.get("accept-language", ""))


def _page(request: Request, template: str, status: int = 200, **context: object) -> HTMLResponse:
    return HTMLResponse(
        render(request, template, language_of(request), **context),
        status_code=status,
        headers=HEADERS,
    )


def same_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise PermissionDeniedError("this form may only be sent from this site")


async def form_fields(request: Request, limit: int = MAX_FORM_BYTES) -> Mapping[str, str]:
    """The form's fields (each's first value); none at all past ``limit`` bytes."""
    body = await request.body()
    if len(body) > limit:
        return {}
    fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=10)
    return {name: values[0] for name, values in fields.items()}


def signed_in(request: Request, service: ServiceDep) -> SignedIn:
    """The live session of this request, or :class:`NotSignedIn`."""
    token = request.cookies.get(COOKIE, "")
    with service.write_sessions() as session, session.begin():
        found = sessions.resume(session, token, utcnow())
    if found is None:
        raise NotSignedIn
    return found


SignedInDep = Annotated[SignedIn, Depends(signed_in)]


def check_csrf(signed: SignedIn, fields: Mapping[str, str]) -> None:
    if not hmac.compare_digest(fields.get("csrf", "").encode(), signed.csrf.encode()):
        raise PermissionDeniedError("the form's CSRF token is missing or wrong: reload the page")


@router.get(LOGIN, response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return _page(request, "login.html", failed=None)


@router.post(LOGIN, response_class=HTMLResponse)
async def login(request: Request, service: ServiceDep) -> Response:
    same_origin(request)
    fields = await form_fields(request)
    limits: RateLimits = request.app.state.rate_limits
    client = client_key(request.client and request.client.host)
    try:
        limits.refuse_if_locked_out(client)
    except RateLimitedError as exc:
        return _page(request, "login.html", 429, failed="limited", retry=exc.retry_after_seconds)
    token = _start(service, fields.get("key", "").strip())
    if token is None:
        limits.count_failure(client)
        return _page(request, "login.html", 401, failed="key")
    answer = RedirectResponse(HOME, status_code=303)
    answer.set_cookie(
        COOKIE,
        token,
        max_age=int(sessions.ABSOLUTE.total_seconds()),
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return answer


def _start(service: IndexerService, key_text: str) -> str | None:
    if not key_text or len(key_text) > 200:
        return None
    with service.write_sessions() as session:  # authenticate commits its last-used time
        key = service.api_keys.authenticate(session, key_text)
        if key is None:
            return None
        token, _ = sessions.start(session, key, utcnow())
        session.commit()
    return token


@router.post("/logout")
async def logout(request: Request, service: ServiceDep, signed: SignedInDep) -> Response:
    same_origin(request)
    check_csrf(signed, await form_fields(request))
    with service.write_sessions() as session, session.begin():
        sessions.end(session, signed.session_id, utcnow())
    answer = RedirectResponse(LOGIN, status_code=303)
    answer.delete_cookie(COOKIE, path="/")
    return answer


@router.get(HOME, response_class=HTMLResponse)
def overview(request: Request, service: ServiceDep, signed: SignedInDep) -> HTMLResponse:
    """The overview, with its one script: the live refresh (``overview.js``) of its numbers."""
    body = render(
        request,
        "overview.html",
        language_of(request),
        signed=signed,
        home=HOME,
        numbers_url=f"{NUMBERS}?lang={language_of(request)}",
        refresh_seconds=request.app.state.overview_refresh_seconds,
        **_numbers(request, service, signed),
    )
    return HTMLResponse(body, headers=LIVE_HEADERS)


@router.get(NUMBERS, response_class=HTMLResponse)
def overview_numbers(request: Request, service: ServiceDep, signed: SignedInDep) -> HTMLResponse:
    """The overview's numbers alone (what the live refresh puts in place of the page's)."""
    return _page(request, "overview_numbers.html", **_numbers(request, service, signed))


def _numbers(request: Request, service: IndexerService, signed: SignedIn) -> dict[str, Any]:
    with service.sessions() as session:
        cache: OverviewCache = request.app.state.overview_cache
        numbers = cache.read(session) if signed.role in FULL_READERS else None
    return {"numbers": numbers, "lag": _lag(service)}


def _lag(service: IndexerService) -> int | None:
    """Blocks behind the chain's head; None while the node does not answer (the page says so)."""
    try:
        return service.lag()
    except Exception:  # noqa: BLE001 - any failure of the node: the page shows "unknown"
        log.warning("the chain node did not answer for the overview's lag", exc_info=True)
        return None
