"""The OpenAPI documents say what the services answer when they refuse: problem+json.

Every error of the gateway and the indexer is an RFC 9457 problem (servicekit/http/problems.py), but
FastAPI documents only the statuses a route names, and its 422 as ``application/json`` with its
own ``HTTPValidationError`` shape. A client generated from the document, or a fuzzer checking
answers against it (tests/provenance/test_fuzz.py), would then meet statuses, media types and
bodies the document does not know. :func:`document_problems` rewrites the document once:

- every 4xx and 5xx response a route names carries the ``Problem`` schema as
  ``application/problem+json`` (FastAPI's 422 shape included: ours lists ``errors``);
- every operation gets a ``default`` response, the same problem: the statuses any route may
  answer (401 without a key, 413 past the body limit, 429, 503 when the database is busy, 500).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from servicekit.http.problems import PROBLEM_JSON

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; members beyond these may follow (`rule`, "
    "`pointer`, `errors`, `retry_after`, a readiness check's `failing` and `checks`)",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "A URI naming the kind of problem"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "Cut to a few hundred characters"},
        "rule": {"type": "string", "description": "The rule a refused document breaks"},
        "pointer": {"type": ["string", "null"], "description": "Where (JSON Pointer)"},
        "errors": {
            "type": "array",
            "description": "A malformed request's errors (at most 20)",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                    "msg": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}
_REF = {"$ref": "#/components/schemas/Problem"}
_DEFAULT = {
    "description": "Any other refusal or failure (401, 413, 429, 500, 503 ...): a problem",
    "content": {PROBLEM_JSON: {"schema": _REF}},
}
_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def with_problems(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` (an OpenAPI 3.1 dict), changed in place as the module docstring says."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for path_item in document.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for code, response in responses.items():
                if code[:1] in ("4", "5"):
                    response["content"] = {PROBLEM_JSON: {"schema": _REF}}
            responses.setdefault("default", _DEFAULT)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document


def document_problems(app: FastAPI) -> None:
    """Serve ``app``'s OpenAPI document with its problems (computed once, like FastAPI's)."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_problems(plain())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
