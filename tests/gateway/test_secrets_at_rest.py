"""Secrets at rest are readable by their owner only (issue 14, finding 9: "webhook secrets sit in
plain text in a world-readable (0644) SQLite file").

A fresh gateway data dir, with a participant, its webhook and a capture written (so SQLite's
-wal and -shm files exist), holds nothing that group or others may read but the public
deployment file, even under the common umask 022.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.api.app import create_app
from gateway.service import GatewayService
from gateway.settings import GatewaySettings
from gateway.store.engine import make_engine
from gateway.store.recalls import get_webhook
from provenance.journey import PHARMACY

#: Files in the data dir that hold nothing secret (contract addresses and the chain id).
PUBLIC = {"deployment.json"}


@pytest.fixture
def common_umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def modes(root: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = stat.S_IMODE(path.stat().st_mode)
    return found


@pytest.mark.usefixtures("common_umask")
def test_a_fresh_gateway_data_dir_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    service = GatewayService(GatewaySettings(data_dir=data))
    try:
        http = TestClient(create_app(service, run_batcher=False))
        regulator = {"Authorization": f"Bearer {service.regulator_api_key}"}
        body = {
            "name": PHARMACY.name,
            "roles": PHARMACY.roles.names(),
            "gln": PHARMACY.gln,
            "webhookUrl": "https://erp.pharmacy.example/recalls",
        }
        created = http.post("/participants", json=body, headers=regulator)
        assert created.status_code == 201, created.text
        secret = created.json()["webhookSecret"]
        with service.sessions() as session:
            hook = get_webhook(session, created.json()["address"])
        assert hook is not None and hook.secret == secret  # kept to sign deliveries
        found = modes(data)
    finally:
        service.stop()
    assert {"gateway.db", "gateway.db-wal", "gateway.db-shm", "keys"} <= set(found), found
    assert any(name.startswith("keys/participant-") for name in found), found
    exposed = {
        name: oct(mode) for name, mode in found.items() if mode & 0o077 and name not in PUBLIC
    }
    assert exposed == {}


@pytest.mark.usefixtures("common_umask")
def test_an_existing_world_readable_database_is_narrowed(tmp_path: Path) -> None:
    database = tmp_path / "old.db"
    for path in (database, Path(f"{database}-wal")):
        path.touch()
        path.chmod(0o644)
    engine = make_engine(f"sqlite:///{database}")
    engine.dispose()
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    assert stat.S_IMODE(Path(f"{database}-wal").stat().st_mode) == 0o600
