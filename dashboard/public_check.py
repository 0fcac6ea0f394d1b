"""The public pack check for a person: ``GET /check`` from a browser answers this page (the same
URL answers JSON to everything else, see :mod:`dashboard.app`). Type or paste the code, see the
verdict in plain words and colour, English or Russian. It shows exactly what the JSON answer
shows an anonymous caller (``for_caller(full=False)``): nothing about holders or sites; and every
code looked up counts against the client address's check budget, like the JSON API."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from dashboard.i18n import choose, messages
from dashboard.render import SECURITY_HEADERS, render
from indexer.api.deps import SessionDep, TodayDep
from indexer.queries import check as check_queries
from medledger.errors import RateLimitedError, ValidationError
from servicekit.http.ratelimits import RateLimits, client_key

PAGE_PATH = "/_pages/check"

#: The pages' headers, letting this page run its one script, the camera scan (scan.js): from
#: this host only; 'wasm-unsafe-eval' lets it compile the barcode reader's WebAssembly (which
#: CSP otherwise blocks like eval) without allowing eval of any JavaScript; connect-src 'self'
#: lets it fetch that .wasm from here. The camera's stream is a MediaStream, never a URL.
HEADERS = SECURITY_HEADERS | {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; "
    "script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    # the camera for this page itself, never for a frame; no microphone, no location
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
}

router = APIRouter(include_in_schema=False)


@router.get(PAGE_PATH, response_class=HTMLResponse)
def check_page(
    request: Request,
    session: SessionDep,
    today: TodayDep,
    code: Annotated[str | None, Query(max_length=4 * check_queries.MAX_CODE_LENGTH)] = None,
    lang: Annotated[str | None, Query(max_length=8)] = None,
) -> HTMLResponse:
    language = choose(lang, request.headers.get("accept-language", ""))
    t = messages(language)
    context: dict[str, Any] = {"code": code or "", "answer": None, "error": None}
    status, headers = 200, {**HEADERS, "Vary": "Accept, Accept-Language"}
    if code and code.strip():
        try:
            limits: RateLimits = request.app.state.rate_limits
            limits.take_check(client_key(request.client and request.client.host))
            context["answer"] = _public_answer(session, code, today)
        except RateLimitedError as exc:
            status, headers["Retry-After"] = 429, str(exc.retry_after_seconds)
            context |= {"error_title": t["error.limited"], "error": ""}
        except ValidationError as exc:
            status = 422
            context |= {"error_title": t["error.malformed"], "error": str(exc)}
    page = render(
        request,
        "check.html",
        language,
        code=context["code"],
        answer=context["answer"],
        error=context["error"],
        error_title=context.get("error_title"),
        max_length=check_queries.MAX_CODE_LENGTH,
        reason=lambda reason_code: t.get(f"reason.{reason_code}", f"{reason_code}"),
        suspension_reason=lambda code: t.get(f"suspension_reason.{code}", f"{code}"),
    )
    return HTMLResponse(page, status_code=status, headers=headers)


def _public_answer(session: SessionDep, code: str, today: date) -> dict[str, Any]:
    if len(code) > check_queries.MAX_CODE_LENGTH:
        raise ValidationError(
            f"the code is longer than {check_queries.MAX_CODE_LENGTH} characters",
            rule="check.code",
            pointer="code",
        )
    answer = check_queries.check(session, code, today=today)
    return check_queries.for_caller(answer, full=False)
