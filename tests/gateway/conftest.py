"""Gateway fixtures: a running service (in-process chain) on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
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


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/gateway.db"
        return
    if not postgres_answers():
        pytest.skip(f"PostgreSQL does not answer at {PG_URL}")
    with fresh_database(prefix="gateway_test") as url:
        yield url


GatewayFactory = Callable[..., Gateway]


@pytest.fixture
def make_gateway(database_url: str, tmp_path: Path) -> Iterator[GatewayFactory]:
    made: list[GatewayService] = []

    def make(**overrides: Any) -> Gateway:
        settings = GatewaySettings(
            data_dir=tmp_path / "data", database_url=database_url, **overrides
        ).allowing_development_password()  # fast KDF: these tests are not about keystores
        service = GatewayService(settings)
        made.append(service)
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
        return Gateway(service, http, regulator, keys, addresses)

    yield make
    for service in made:
        service.stop()


@pytest.fixture
def gateway(make_gateway: GatewayFactory) -> Gateway:
    return make_gateway()
