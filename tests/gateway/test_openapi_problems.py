"""servicekit/http/openapi_problems.py:
the OpenAPI documents say every refusal is problem+json (issue
14, the fuzz run: schemathesis found statuses the documents did not list, 401, 404, 413, 429,
and 422 answers documented as ``application/json`` with FastAPI's shape)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from servicekit.http.openapi_problems import document_problems
from servicekit.http.problems import PROBLEM_JSON, install_problem_handlers


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/lots/{lot}", responses={409: {"description": "Recalled"}})
    def lot(lot: str, count: int = 1) -> dict[str, str]:
        return {"lot": lot}

    document_problems(app)
    return app


def test_every_operation_documents_its_refusals_as_problems() -> None:
    client = TestClient(_app())
    document = client.get("/openapi.json").json()
    responses = document["paths"]["/lots/{lot}"]["get"]["responses"]
    problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert responses["409"]["content"] == problem
    assert responses["422"]["content"] == problem  # not FastAPI's application/json shape
    assert responses["default"]["content"] == problem  # 401, 413, 429, 500, 503 ...
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert client.get("/openapi.json").json() == document  # computed once


def test_a_malformed_request_answers_what_the_document_says() -> None:
    client = TestClient(_app())
    schema = client.get("/openapi.json").json()["components"]["schemas"]["Problem"]
    answer = client.get("/lots/L1", params={"count": "many"})
    assert answer.status_code == 422
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert set(schema["required"]) <= set(answer.json())
    assert set(answer.json()["errors"][0]) == set(
        schema["properties"]["errors"]["items"]["properties"]
    )
