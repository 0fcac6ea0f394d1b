"""The EPCIS 2.0 REST binding's capture headers and codes (GS1 ``openapi.json``, ``/capture``).

Requests: ``Content-Type`` must be JSON (``application/json``, ``application/ld+json``) or
EPCIS XML (``application/xml``, ``text/xml``; 2.0, or 1.2 converted by GS1's stylesheet), else
415; ``Accept`` must allow JSON, else 406 (``GET /capture`` and ``GET /capture/{id}`` answer
EPCIS 2.0 XML too: :func:`answer_format`); ``GS1-EPCIS-Version`` and ``GS1-CBV-Version``, when
sent, must be 2.x for JSON-LD and agree with the ``schemaVersion`` of an XML document, else 406;
``GS1-Capture-Error-Behaviour`` is ``rollback`` (the default) or ``proceed``; anything else is
refused, ``capture.error-behaviour``.

Refusals: ``POST /capture`` answers a document or request it refuses (any
:class:`~medledger.errors.ValidationError` but 415 and 406) with the binding's **400**, the
problem body every other route answers with 422 (``rule``, ``pointer``, ``capture_id`` ...):
:class:`CaptureRoute`.

Answers: every answer under ``/capture`` (refusals included) carries ``GS1-EPCIS-Version``,
``GS1-CBV-Version``, ``GS1-EPCIS-Min``/``-Max``, ``GS1-CBV-Min``/``-Max``,
``GS1-Capture-Error-Behaviour: all`` (it supports ``rollback`` and ``proceed``) and
``GS1-EPCIS-Capture-File-Size-Limit`` (:class:`BindingHeadersMiddleware`).
"""

from __future__ import annotations

import email.message
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Literal

from fastapi import Request, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from medledger.errors import NotAcceptableError, UnsupportedMediaTypeError, ValidationError
from servicekit.http.bodies import StrictJSONRoute
from servicekit.http.negotiation import JSON_TYPES, accepts_json, preferred_format
from servicekit.http.problems import problem_for

EPCIS_VERSION = "2.0.0"
CBV_VERSION = "2.0.0"
#: What GS1-Capture-Error-Behaviour the gateway implements (the binding's default).
ERROR_BEHAVIOURS = ("rollback", "proceed")
XML_TYPES = ("application/xml", "text/xml")
#: What ``POST /capture`` answers a document or request it refuses (the binding's 400).
REFUSED_STATUS = 400


def binding_headers(max_capture_bytes: int) -> dict[str, str]:
    """The ``GS1-*`` headers of every answer under ``/capture``."""
    return {
        "GS1-EPCIS-Version": EPCIS_VERSION,
        "GS1-EPCIS-Min": EPCIS_VERSION,
        "GS1-EPCIS-Max": EPCIS_VERSION,
        "GS1-CBV-Version": CBV_VERSION,
        "GS1-CBV-Min": CBV_VERSION,
        "GS1-CBV-Max": CBV_VERSION,
        # the binding: "all" is "used only by the server to announce it supports both"
        "GS1-Capture-Error-Behaviour": "all",
        "GS1-EPCIS-Capture-File-Size-Limit": str(max_capture_bytes),
    }


class BindingHeadersMiddleware:
    """Adds :func:`binding_headers` to every answer whose path is ``/capture`` or under it,
    whoever wrote it (the route, a problem handler, the body limit)."""

    def __init__(self, app: ASGIApp, *, max_capture_bytes: int) -> None:
        self.app = app
        self.headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1"))
            for k, v in binding_headers(max_capture_bytes).items()
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path != "/capture" and not path.startswith("/capture/"):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *self.headers]}
            await send(message)

        await self.app(scope, receive, with_headers)


class CaptureRoute(StrictJSONRoute):
    """The routes under ``/capture``: ``POST`` answers a refused document or request (any
    :class:`ValidationError` but :class:`UnsupportedMediaTypeError` and
    :class:`NotAcceptableError`, wherever it is raised: the strict body and query checks, the
    headers, the intake) with the binding's 400 and the usual problem body; ``GET`` keeps the
    422 of every other route."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if "POST" not in (self.methods or ()):
            return handler

        async def binding_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except (UnsupportedMediaTypeError, NotAcceptableError):
                raise
            except ValidationError as exc:
                return problem_for(exc, status=REFUSED_STATUS)

        return binding_handler


def _media_type(value: str) -> str:
    message = email.message.Message()
    message["content-type"] = value
    return message.get_content_type()


def capture_format(content_type: str | None) -> str:
    """``"json"`` or ``"xml"`` (EPCIS 2.0 or 1.2 XML, read by :mod:`medledger.epcis.xml_capture`),
    by the body's Content-Type; 415 for anything else (no Content-Type is taken as JSON, as
    everywhere else)."""
    if not content_type:
        return "json"
    media = _media_type(content_type)
    if media in JSON_TYPES:
        return "json"
    if media in XML_TYPES:
        return "xml"
    detail = (
        f"Content-Type {media[:100]} is not captured; send an EPCIS 2.0 document as "
        "application/ld+json or application/json, or as EPCIS 2.0 XML (application/xml)"
    )
    raise UnsupportedMediaTypeError(detail, rule="capture.content-type", pointer="Content-Type")


def require_acceptable(accept: str | None) -> None:
    """406 unless ``Accept`` allows a JSON answer (none given: anything goes)."""
    if accepts_json(accept) or accept is None:
        return
    raise NotAcceptableError(
        f"Accept {accept[:200]!r}: capture answers only in JSON (application/json; EPCIS XML "
        "answers are not supported yet)",
        rule="capture.accept",
        pointer="Accept",
    )


def answer_format(accept: str | None) -> Literal["json", "xml"]:
    """How ``GET /capture`` and ``GET /capture/{id}`` answer: JSON (the default, and on a tie)
    or, when ``Accept`` prefers it, EPCIS 2.0 XML (``epcis:EPCISCaptureJob``); 406 for neither."""
    chosen = preferred_format(accept)
    if chosen is not None:
        return chosen
    raise NotAcceptableError(
        f"Accept {(accept or '')[:200]!r}: a capture job answers in JSON (application/json) or "
        "EPCIS 2.0 XML (application/xml, text/xml)",
        rule="capture.accept",
        pointer="Accept",
    )


def _version(value: str) -> tuple[int, ...] | None:
    """``"1.2.0"`` as ``(1, 2, 0)``; ``None`` for anything else (or longer than a version is)."""
    if len(value) > 50:
        return None
    parts = value.strip().split(".")
    return tuple(int(p) for p in parts) if all(p.isdigit() for p in parts) else None


def _refuse_version(header: str, value: str, why: str) -> NotAcceptableError:
    return NotAcceptableError(
        f"{header} {value[:50]!r}: {why}", rule="capture.version", pointer=header
    )


def require_versions(headers: Mapping[str, str], *, xml: bool = False) -> None:
    """406 unless ``GS1-EPCIS-Version`` and ``GS1-CBV-Version``, if sent, are versions this
    gateway captures: 2.x for JSON-LD (EPCIS 1.2 has no JSON binding), 2.x or 1.x for XML (1.2
    is converted by GS1's stylesheet; :func:`require_document_version` then checks that the
    header agrees with the document)."""
    majors = (2, 1) if xml else (2,)
    for header in ("GS1-EPCIS-Version", "GS1-CBV-Version"):
        value = headers.get(header)
        if value is None:
            continue
        parts = _version(value)
        if parts is None or parts[0] not in majors:
            raise _refuse_version(
                header,
                value,
                "this gateway captures EPCIS 2.0 (CBV 2.0) as JSON-LD or XML, and EPCIS 1.2 "
                "as XML only"
                if xml
                else "a JSON-LD document is EPCIS 2.0 (CBV 2.0): send 2.0.0, or EPCIS 1.2 as XML",
            )


def require_document_version(headers: Mapping[str, str], schema_version: str) -> None:
    """406 unless ``GS1-EPCIS-Version``, if sent, agrees with the XML document's
    ``schemaVersion`` (major and minor: ``1.2.0`` with ``1.2``, ``2.0.0`` with ``2.0``); a
    ``GS1-CBV-Version`` of 1.x goes with an EPCIS 1.x document only. A document without a
    readable ``schemaVersion`` is left to the reader's own refusal."""
    document = _version(schema_version) if schema_version else None
    if document is None:
        return
    value = headers.get("GS1-EPCIS-Version")
    declared = None if value is None else _version(value)
    if value is not None and (declared is None or (declared + (0,))[:2] != (document + (0,))[:2]):
        raise _refuse_version(
            "GS1-EPCIS-Version",
            value,
            f"the document says schemaVersion {schema_version[:20]!r}; the header must agree",
        )
    cbv = headers.get("GS1-CBV-Version")
    cbv_version = None if cbv is None else _version(cbv)
    if cbv is not None and cbv_version is not None and cbv_version[0] < document[0]:
        raise _refuse_version(
            "GS1-CBV-Version",
            cbv,
            f"CBV {cbv[:20]} goes with EPCIS 1.x; the document is EPCIS {schema_version[:20]}",
        )


def error_behaviour(value: str | None) -> str:
    """The capture's GS1-Capture-Error-Behaviour: ``rollback`` (the default) or ``proceed``;
    anything else (``all`` announces a server's support, a client does not send it) refused."""
    behaviour = "rollback" if value is None or not value.strip() else value.strip().lower()
    if behaviour in ERROR_BEHAVIOURS:
        return behaviour
    raise ValidationError(
        f"GS1-Capture-Error-Behaviour {value[:50] if value else value!r}: send 'rollback' (the "
        "default: a document is stored whole or not at all) or 'proceed' (the valid events are "
        "stored, the others listed in the capture job)",
        rule="capture.error-behaviour",
        pointer="GS1-Capture-Error-Behaviour",
    )
