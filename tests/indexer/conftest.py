"""Indexer fixtures: a gateway on the in-process chain, and indexers on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from devkit.postgres import PG_URL, fresh_database, postgres_answers
from indexer.service import IndexerService
from provenance.journey import Journey
from tests.support.network import Network

INDEX_BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@contextmanager
def index_database(backend: str, directory: Path) -> Iterator[str]:
    """A SQLite file in ``directory``, or a fresh PostgreSQL database (skips when none answers)."""
    if backend == "sqlite":
        yield f"sqlite:///{directory}/indexer.db"
        return
    if not postgres_answers():
        pytest.skip(f"PostgreSQL does not answer at {PG_URL}")
    with fresh_database(prefix="indexer_test") as url:
        yield url


@pytest.fixture(params=INDEX_BACKENDS)
def index_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The indexer's database: a SQLite file, or a fresh PostgreSQL database."""
    with index_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture(scope="module", params=INDEX_BACKENDS)
def module_index_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """``index_url`` once per module, for the modules that index one journey for all their tests."""
    with index_database(request.param, tmp_path_factory.mktemp("index")) as url:
        yield url


IndexerFactory = Callable[..., IndexerService]


@pytest.fixture
def make_indexer(network: Network, index_url: str, tmp_path: Path) -> Iterator[IndexerFactory]:
    made: list[IndexerService] = []

    def make(**overrides: Any) -> IndexerService:
        service = network.indexer(index_url, tmp_path / "indexer", **overrides)
        made.append(service)
        return service

    yield make
    for service in made:
        service.stop()


@pytest.fixture
def journey(network: Network) -> Journey:
    """The molecule-to-pack journey (100 packs, cases of 25), every step anchored."""
    return network.run_journey()


@pytest.fixture
def indexed(make_indexer: IndexerFactory, journey: Journey) -> IndexerService:
    """An indexer caught up with the journey."""
    service = make_indexer()
    service.catch_up()
    return service
