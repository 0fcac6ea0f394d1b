"""Gateway fixtures: a running service (in-process chain) on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from devkit.postgres import PG_URL, fresh_database, postgres_answers
from gateway.api.app import create_app
from gateway.service import GatewayService
from gateway.settings import GatewaySettings
from medledger.epcis.builders import Actor
from provenance.journey import ACTORS


@dataclass
class Gateway:
    """A gateway under test: the service, an HTTP client, and the participants' keys."""

    service: GatewayService
    http: TestClient
    regulator: dict[str, str]
    keys: dict[str, dict[str, str]]
    addresses: dict[str, str]

    def headers(self, actor: Actor) -> dict[str, str]:
        return self.keys[actor.name]

    def capture(self, actor: Actor, document: dict[str, Any]) -> Any:
        return self.http.post("/capture", json=document, headers=self.headers(actor))

    def anchor_all(self) -> None:
        self.service.batcher.step(flush=True)


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@contextmanager
def gateway_database(backend: str, directory: Path) -> Iterator[str]:
    """A SQLite file in ``directory``, or a fresh PostgreSQL database (skips when none answers)."""
    if backend == "sqlite":
        yield f"sqlite:///{directory}/gateway.db"
        return
    if not postgres_answers():
        pytest.skip(f"PostgreSQL does not answer at {PG_URL}")
    with fresh_database(prefix="gateway_test") as url:
        yield url


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with gateway_database(request.param, tmp_path) as url:
        yield url


GatewayFactory = Callable[..., Gateway]


def start_gateway(database_url: str, data_dir: Path, **overrides: Any) -> Gateway:
    """A gateway (in-process chain, fast KDF) with every journey actor registered."""
    settings = GatewaySettings(
        data_dir=data_dir, database_url=database_url, **overrides
    ).allowing_development_password()  # fast KDF: these tests are not about keystores
    service = GatewayService(settings)
    try:
        http = TestClient(create_app(service, run_batcher=False))
        regulator = {"Authorization": f"Bearer {service.regulator_api_key}"}
        keys: dict[str, dict[str, str]] = {}
        addresses: dict[str, str] = {}
        for actor in ACTORS:
            body = actor.registration()
            response = http.post("/participants", json=body, headers=regulator)
            assert response.status_code == 201, response.text
            keys[actor.name] = {"Authorization": f"Bearer {response.json()['apiKey']}"}
            addresses[actor.name] = response.json()["address"]
    except BaseException:
        service.stop()
        raise
    return Gateway(service, http, regulator, keys, addresses)


@contextmanager
def gateways(
    database: Callable[[], AbstractContextManager[str]], folder: Callable[[], Path]
) -> Iterator[GatewayFactory]:
    """A factory of gateways, each on ``database()`` with its data in ``folder()``; stops them."""
    with ExitStack() as stack:

        def make(**overrides: Any) -> Gateway:
            url = stack.enter_context(database())
            gateway = start_gateway(url, folder() / "data", **overrides)
            stack.callback(gateway.service.stop)
            return gateway

        yield make


@pytest.fixture
def make_gateway(database_url: str, tmp_path: Path) -> Iterator[GatewayFactory]:
    with gateways(lambda: nullcontext(database_url), lambda: tmp_path) as make:
        yield make


@pytest.fixture
def gateway(make_gateway: GatewayFactory) -> Gateway:
    return make_gateway()


@pytest.fixture(scope="module", params=BACKENDS)
def make_module_gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayFactory]:
    """Gateways kept for a whole module, each on a database of its own (a gateway costs 3-5 s of
    setup, on both databases): for tests that need no empty gateway, isolated by what they make
    (participants, GLNs, keys of their own) or by comparing with what was there before them."""
    backend = str(request.param)

    def folder() -> Path:
        return tmp_path_factory.mktemp("gateway")

    with gateways(lambda: gateway_database(backend, folder()), folder) as make:
        yield make
