"""RFC 9457 problem details: the one table mapping domain errors to HTTP answers.

Shared by the gateway's and the indexer's apps (:func:`install_problem_handlers`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from medledger.errors import (
    MESSAGE_LIMIT,
    AnchorReplacedError,
    AuthenticationError,
    BackPressureError,
    ChainError,
    IntegrityViolationError,
    NotAcceptableError,
    NotAnchoredYetError,
    NotFoundError,
    PermissionDeniedError,
    ProvenanceError,
    QueryParameterError,
    QueryTooLargeError,
    RateLimitedError,
    RecordNotFoundError,
    SignerError,
    StoreConflictError,
    SubscriptionControlsError,
    TriageTransitionError,
    UnsupportedMediaTypeError,
    ValidationError,
    cut,
)

log = logging.getLogger("provenance.http")

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://provenance.example/problems/"

#: Database errors that say "not now" rather than "wrong": the database is locked (SQLite's busy
#: timeout ran out), unreachable or restarting (OperationalError), or every pooled connection is
#: taken (the pool's TimeoutError). They answer 503 with this Retry-After, not 500.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (OperationalError, PoolTimeoutError)
DATABASE_RETRY_AFTER_SECONDS = 2

#: Domain error → (status, problem type slug, title). The first matching class wins.
PROBLEM_TABLE: tuple[tuple[type[ProvenanceError], int, str, str], ...] = (
    (UnsupportedMediaTypeError, 415, "unsupported-media-type", "Unsupported media type"),
    (NotAcceptableError, 406, "not-acceptable", "Cannot answer as asked"),
    (QueryParameterError, 400, "query-parameter", "A query parameter is not one to answer"),
    (SubscriptionControlsError, 400, "subscription-controls", "Not a subscription to accept"),
    (QueryTooLargeError, 413, "query-too-large", "More events match than maxEventCount"),
    (ValidationError, 422, "validation", "The document breaks a rule"),
    (AuthenticationError, 401, "unauthenticated", "Missing or unknown API key"),
    (PermissionDeniedError, 403, "forbidden", "Not allowed for this participant"),
    (NotFoundError, 404, "not-found", "Not found"),
    (RecordNotFoundError, 404, "not-found", "Not found"),
    (NotAnchoredYetError, 409, "not-anchored", "Not anchored yet; ask again shortly"),
    (AnchorReplacedError, 410, "anchor-replaced", "This anchor is no longer on chain"),
    (IntegrityViolationError, 409, "integrity", "What is stored no longer verifies"),
    (StoreConflictError, 409, "conflict", "Conflicts with what is stored"),
    (TriageTransitionError, 409, "triage-state", "Not allowed in the alert's triage state"),
    (RateLimitedError, 429, "rate-limited", "Too many requests from this address"),
    (BackPressureError, 503, "back-pressure", "Try again later"),
    (SignerError, 502, "signer", "The signer did not sign; nothing was sent"),
    (ChainError, 502, "chain", "The chain could not be reached"),
)


#: Pydantic errors a 422 "request" answer lists, and characters kept of each one's location.
MAX_REQUEST_ERRORS = 20
LOC_LIMIT = 100
MSG_LIMIT = 600  # room for an enum's allowed values (17 alert kinds)

#: Status → problem type slug, for the HTTP errors the framework raises itself (an unknown
#: route, a method the route does not take).
HTTP_SLUGS = {401: "unauthenticated", 403: "forbidden", 404: "not-found", 405: "method"}


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json answer; its ``detail`` is cut to :data:`medledger.errors.MESSAGE_LIMIT`
    characters (an error echoes what it was sent, which may be megabytes: issue 14, finding 8)."""
    detail = cut(detail, MESSAGE_LIMIT)
    body = {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail}
    body.update({k: v for k, v in extra.items() if v is not None})
    headers = dict(headers or {})
    if "retry_after" in extra:
        headers["Retry-After"] = str(extra["retry_after"])
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def problem_for(exc: ProvenanceError, *, status: int | None = None) -> JSONResponse:
    """The problem :data:`PROBLEM_TABLE` makes of ``exc``; ``status`` answers another code with
    the same body (``POST /capture`` refuses a document with the REST binding's 400)."""
    for cls, table_status, slug, title in PROBLEM_TABLE:
        if isinstance(exc, cls):
            extra: dict[str, Any] = {}
            if isinstance(exc, ValidationError):
                extra = {
                    "rule": exc.rule,
                    "pointer": exc.pointer,
                    "event_index": getattr(exc, "event_index", None),
                    "capture_id": getattr(exc, "capture_id", None),
                }
            if isinstance(exc, BackPressureError):
                extra = {"retry_after": exc.retry_after_seconds}
            if isinstance(exc, AnchorReplacedError):
                extra = dict(exc.details)
            if isinstance(exc, IntegrityViolationError):
                extra = integrity_facts(exc)
            return problem(status or table_status, slug, title, str(exc), **extra)
    log.error("a domain error without an HTTP answer: %r", exc)
    return internal_problem()


def _request_detail(errors: list[dict[str, Any]]) -> str:
    """The first error in a line a script's log shows whole: where (``query parameter kind``)
    and what (``Input should be 'info', 'warning' or 'critical'``: the allowed values)."""
    if not errors:
        return "the request is malformed"
    first = errors[0]
    loc = [str(p) for p in first["loc"]]
    where = f"{_PLACES.get(loc[0], loc[0])} {'.'.join(loc[1:])}".strip() if loc else "request"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"


_PLACES = {"query": "query parameter", "path": "path parameter", "header": "header", "body": "body"}


#: Event ids an integrity problem lists (its message says how many there are).
MAX_PROBLEM_EVENT_IDS = 100


def integrity_facts(exc: IntegrityViolationError) -> dict[str, Any]:
    """The rule, events and root of a 409 ``integrity`` problem (the indexer reads them)."""
    return {
        "rule": exc.rule,
        "event_ids": list(exc.event_ids[:MAX_PROBLEM_EVENT_IDS]),
        "root": None if exc.root is None else "0x" + exc.root.hex(),
        "computed_root": None if exc.computed_root is None else "0x" + exc.computed_root.hex(),
    }


def internal_problem() -> JSONResponse:
    """500 for anything unexpected: nothing of the error reaches the client (the log has it)."""
    return problem(500, "internal", "Internal error", "an unexpected error; the server logged it")


def database_problem() -> JSONResponse:
    """503 for a database that is busy or down. The detail names neither the statement nor the
    server (the log line does, see :func:`install_problem_handlers`)."""
    return problem(
        503,
        "database-unavailable",
        "The database is busy or unavailable",
        "the database is busy or unreachable; try again shortly",
        retry_after=DATABASE_RETRY_AFTER_SECONDS,
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Every domain error, every request-shape error, the framework's own HTTP errors (an
    unknown route: 404), a busy or unreachable database (503 with Retry-After) and any other
    exception (500, logged with its traceback) become problem+json."""

    async def on_domain_error(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, ProvenanceError):  # registered for it: cannot happen
            return await on_unexpected_error(request, exc)
        return problem_for(exc)

    async def on_request_error(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, RequestValidationError):  # registered for it: cannot happen
            return await on_unexpected_error(request, exc)
        errors = [
            {
                "loc": [
                    p if isinstance(p, int) else cut(str(p), LOC_LIMIT) for p in e.get("loc", [])
                ],
                "msg": cut(str(e.get("msg", "")), MSG_LIMIT),
            }
            for e in exc.errors()[:MAX_REQUEST_ERRORS]
        ]
        return problem(422, "request", "Malformed request", _request_detail(errors), errors=errors)

    async def on_database_error(request: Request, exc: Exception) -> JSONResponse:
        log.warning(
            "%s %s: the database is busy or unavailable: %s",
            request.method,
            request.url.path,
            getattr(exc, "orig", None) or exc,
        )
        return database_problem()

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, StarletteHTTPException):  # registered for it: cannot happen
            return await on_unexpected_error(request, exc)
        slug = HTTP_SLUGS.get(exc.status_code, "http")
        detail = str(exc.detail)
        return problem(exc.status_code, slug, detail, detail, headers=exc.headers)

    async def on_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        log.error(
            "%s %s: unexpected %s",
            request.method,
            request.url.path,
            type(exc).__name__,
            exc_info=exc,
        )
        return internal_problem()

    app.add_exception_handler(ProvenanceError, on_domain_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    # Exception (not a subclass) goes to Starlette's outermost ServerErrorMiddleware, which
    # answers with this handler and then re-raises for the server to log too.
    app.add_exception_handler(Exception, on_unexpected_error)
    app.add_exception_handler(RequestValidationError, on_request_error)
    for error in DATABASE_UNAVAILABLE:
        app.add_exception_handler(error, on_database_error)
