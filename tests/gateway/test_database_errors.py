"""A busy or unreachable database answers 503 problem+json with Retry-After, never a bare 500.

The mapping is :func:`servicekit.http.problems.install_problem_handlers`, which the indexer's app
installs too.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

import servicekit.sql.engine as engine_module
from medledger.epcis.builders import as_document
from provenance.journey import API_MAKER, build_journey
from servicekit.http.problems import DATABASE_RETRY_AFTER_SECONDS, install_problem_handlers
from tests.gateway.conftest import Gateway, GatewayFactory

PROBLEM = "application/problem+json"
UNREACHABLE_DATABASE = "postgresql+psycopg://nobody@127.0.0.1:1/nothing?connect_timeout=2"
UNAVAILABLE = "https://provenance.example/problems/database-unavailable"


def assert_database_unavailable(response: object) -> None:
    status = getattr(response, "status_code", None)
    assert status == 503, getattr(response, "text", "")
    headers = response.headers  # type: ignore[attr-defined]
    assert headers["content-type"] == PROBLEM
    assert headers["retry-after"] == str(DATABASE_RETRY_AFTER_SECONDS)
    body = response.json()  # type: ignore[attr-defined]
    assert body["type"] == UNAVAILABLE
    assert body["status"] == 503
    # Neither the statement nor the server's address is echoed to the client.
    assert "SELECT" not in body["detail"] and "127.0.0.1" not in body["detail"]


def _app(raises: BaseException) -> TestClient:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/boom")
    def boom() -> None:
        raise raises

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize(
    "error",
    [
        OperationalError(
            "SELECT 1", {}, sqlite3.OperationalError("database is locked")
        ),  # SQLite's busy timeout ran out
        OperationalError(
            "SELECT 1", {}, ConnectionRefusedError("connection to 127.0.0.1 port 5432 refused")
        ),
        PoolTimeoutError("QueuePool limit of size 5 overflow 10 reached"),
    ],
    ids=["locked", "unreachable", "pool-exhausted"],
)
def test_database_errors_map_to_503_problem_json(error: Exception) -> None:
    assert_database_unavailable(_app(error).get("/boom"))


def test_other_database_errors_stay_500() -> None:
    response = _app(IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE"))).get("/boom")
    assert response.status_code == 500


def test_an_unreachable_database_answers_503(gateway: Gateway) -> None:
    service = gateway.service
    reads, writes = service.sessions.kw["bind"], service.write_sessions.kw["bind"]
    broken = create_engine(UNREACHABLE_DATABASE)
    service.sessions.configure(bind=broken)
    service.write_sessions.configure(bind=broken)
    try:
        # Authentication reads the key's row: the first statement of every request.
        assert_database_unavailable(gateway.http.get("/participants", headers=gateway.regulator))
        document = as_document(build_journey().steps[0].events)
        assert_database_unavailable(gateway.capture(API_MAKER, document))
    finally:
        service.sessions.configure(bind=reads)
        service.write_sessions.configure(bind=writes)
        broken.dispose()
    assert gateway.http.get("/participants", headers=gateway.regulator).status_code == 200


@contextmanager
def write_lock_held(path: str) -> Iterator[None]:
    """Another connection holds the SQLite file's write lock (as a long writer would)."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_a_write_that_waits_out_the_busy_timeout_answers_503_and_reads_go_on(
    make_gateway: GatewayFactory, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    monkeypatch.setattr(engine_module, "BUSY_TIMEOUT_SECONDS", 0.2)
    gateway = make_gateway()
    path = gateway.service.engine.url.database
    assert path is not None
    document = as_document(build_journey().steps[0].events)
    with write_lock_held(path):
        assert_database_unavailable(gateway.capture(API_MAKER, document))
        # Readers take no lock in WAL mode: they answer while the writer holds it.
        assert gateway.http.get("/participants", headers=gateway.regulator).status_code == 200
    accepted = gateway.capture(API_MAKER, document)
    assert accepted.status_code == 202, accepted.text
