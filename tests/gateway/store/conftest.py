"""Store fixtures: every test runs on a fresh SQLite file and on a fresh PostgreSQL database.

The PostgreSQL variant creates a uniquely named database on the server at 127.0.0.1:5432 (or
``PROVENANCE_TEST_PG_URL``) and drops it afterwards, so parallel runs never share state; it is
marked ``postgres`` and skips with a reason when the server does not answer.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from devkit.postgres import PG_URL, fresh_database, postgres_answers
from gateway.store.engine import make_engine, session_factory, upgrade
from gateway.store.participants import ApiKeys, ParticipantRecord, create_participant
from tests.gateway.store.store_support import ParticipantMaker


@pytest.fixture(scope="session")
def postgres_server() -> str:
    if not postgres_answers(PG_URL):
        pytest.skip(f"PostgreSQL does not answer at {make_url(PG_URL).render_as_string()}")
    return PG_URL


@pytest.fixture
def fresh_postgres(postgres_server: str) -> Iterator[str]:
    """A new, empty database on the server; dropped (forcibly) after the test."""
    with fresh_database(postgres_server, prefix="store_test") as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    url: str = request.getfixturevalue("fresh_postgres")
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with session_factory(engine)() as session:
        yield session


@pytest.fixture
def api_keys() -> ApiKeys:
    # The cheapest argon2id parameters: the tests check the scheme, not the hardness.
    return ApiKeys(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def make_participant(session: Session) -> ParticipantMaker:
    counter = iter(range(1, 10_000))

    def make(**overrides: object) -> ParticipantRecord:
        n = next(counter)
        fields: dict[str, object] = {
            "address": f"0x{n:040x}",
            "name": f"participant {n}",
            "roles": 2,
            "gln": f"{4700000000000 + n}",
        }
        fields.update(overrides)
        return create_participant(session, **fields)  # type: ignore[arg-type]

    return make
