"""Request bodies, shared by the gateway's and the indexer's apps: how large, and how read.

- :class:`BodyLimitMiddleware` (pure ASGI) caps a request body's size *while it is read*: a
  ``Content-Length`` over the cap answers 413 at once, before a byte of the body is read; a
  body without one (chunked) is counted as it streams and cut off at the cap, then answered 413.
  Either way the 413 is problem+json (``type .../problems/too-large``, the limit in ``limit``) and
  the connection is closed (the rest of the body is never read). One cap for every path, a
  larger one for the paths named (the gateway's ``/capture``).
- :class:`StrictJSONRoute` makes :func:`servicekit.http.strict_json.loads` the parser of every JSON
  body
  FastAPI reads for a pydantic model, and parses it *before* FastAPI does, so that a body the
  parser refuses answers 422 with the parser's rule (FastAPI would turn any parser error but
  ``json.JSONDecodeError`` into a plain 400). Endpoints that read their body themselves
  (``POST /capture``) call :func:`servicekit.http.strict_json.loads` directly.
"""

from __future__ import annotations

import email.message
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from medledger.errors import ValidationError
from servicekit.http import strict_json
from servicekit.http.problems import problem

MIB = 1024 * 1024


class _BodyTooLarge(Exception):
    """Raised into the app by the limited ``receive``; the middleware answers 413."""


def too_large(limit: int) -> Response:
    response = problem(
        413,
        "too-large",
        "Request body too large",
        f"the request body is larger than this endpoint's limit of {limit:,} bytes",
        limit=limit,
    )
    response.headers["Connection"] = "close"
    return response


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", []):
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses it before the app runs
    return None


class BodyLimitMiddleware:
    """At most ``limit`` bytes of request body, ``larger[path]`` for the paths named there
    (the mapping is kept, not copied: an app may name more paths before it serves)."""

    def __init__(self, app: ASGIApp, limit: int, larger: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.larger: Mapping[str, int] = larger if larger is not None else {}

    def limit_for(self, scope: Scope) -> int:
        """The cap of the path asked for, behind any prefix a proxy mounts the app at."""
        path, root = str(scope.get("path", "")), str(scope.get("root_path", ""))
        if root and path.startswith(root):
            path = path[len(root) :]
        return self.larger.get(path.rstrip("/") or "/", self.limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        length = _content_length(scope)
        if length is not None and length > limit:
            await too_large(limit)(scope, receive, send)
            return
        received = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise _BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the app's own answer to a cut-off body (a 400, say) gives way to 413
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not exceeded or started:
                raise
        if exceeded and not started:
            await too_large(limit)(scope, receive, send)


def _is_json(content_type: str | None) -> bool:
    """As FastAPI decides to parse a body as JSON: ``application/json`` or ``…+json``."""
    if not content_type:
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


class StrictJSONRequest(Request):
    """A request whose :meth:`json` is :func:`servicekit.http.strict_json.loads`."""

    async def json(self) -> Any:
        if not hasattr(self, "_strict_json"):
            self._strict_json = strict_json.loads(await self.body())
        return self._strict_json


def _query_names(dependant: Dependant) -> frozenset[str]:
    """The query parameters an endpoint takes, its dependencies' included."""
    names = {field.alias for field in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return frozenset(names)


def _refuse_unknown_query(request: Request, known: frozenset[str]) -> None:
    """A query parameter the endpoint does not take is a typo a script must hear about
    (``?severty=critical`` would otherwise list every alert): 422 naming the ones it takes."""
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        takes = ", ".join(sorted(known)) or "none"
        raise ValidationError(
            f"unknown query parameter {', '.join(unknown)}; this endpoint takes: {takes}",
            rule="query.unknown",
            pointer=unknown[0],
        )


class StrictJSONRoute(APIRoute):
    """A route whose JSON body, if it takes one, is read by the strict parser first (see the
    module's doc); every router of both apps uses it."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        takes_body = self.body_field is not None
        known = _query_names(self.dependant)

        async def strict_handler(request: Request) -> Response:
            request = StrictJSONRequest(request.scope, request.receive)
            _refuse_unknown_query(request, known)
            if takes_body and _is_json(request.headers.get("content-type")):
                if await request.body():
                    await request.json()  # a refused body raises ValidationError: 422
            return await handler(request)

        return strict_handler
