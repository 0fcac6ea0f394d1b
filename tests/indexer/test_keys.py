"""Reader keys: issue, authenticate, revoke; the bootstrap key file (0600, issued once)."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, text

from indexer.reader_keys import ReaderKeys, bootstrap_reader_key
from indexer.service import IndexerService
from indexer.store import make_engine, session_factory, upgrade
from indexer.store.models import ApiKeyRow
from medledger.errors import RecordNotFoundError, ValidationError
from servicekit.apikeys import new_token, stored_form
from tests.indexer.conftest import IndexerFactory
from tests.support.network import Network

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def keys() -> ReaderKeys:
    return ReaderKeys(FAST)


@pytest.fixture(scope="module")
def network(module_network: Network) -> Network:
    """One gateway for the module: its tests start indexers of their own, and index nothing."""
    return module_network


def test_issue_authenticate_revoke(index_url: str, keys: ReaderKeys) -> None:
    engine = make_engine(index_url)
    upgrade(engine)
    sessions = session_factory(engine)
    with sessions() as session:
        token = keys.issue(session, "ministry inspector", "auditor")
        assert token.startswith("ik_")
        found = keys.authenticate(session, token)
        assert found is not None and (found.role, found.name) == ("auditor", "ministry inspector")
        assert keys.authenticate(session, token) == found
        assert keys.authenticate(session, token + "x") is None
        assert keys.authenticate(session, "pk_" + token[3:]) is None
        assert keys.authenticate(session, "ik_nope_nope") is None
        assert keys.authenticate(session, "") is None
        keys.revoke(session, found.prefix)
        assert keys.authenticate(session, token) is None
        with pytest.raises(ValidationError, match="role must be one of .*, got 'manufacturer'"):
            keys.issue(session, "x", "manufacturer")
        with pytest.raises(RecordNotFoundError, match="api key '000000000000' not found"):
            keys.revoke(session, "000000000000")
        assert [k.revoked for k in keys.list(session)] == [True]
    engine.dispose()


def test_reader_keys_run_argon2_only_for_keys_issued_before_until_their_first_use(
    index_url: str,
) -> None:
    """Issue 14, finding 10: a wrong secret under a known prefix costs what an unknown prefix
    costs (no argon2); a key stored as argon2 verifies once, then as SHA-256."""
    calls: list[str] = []

    class Counting(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
            calls.append("verify")
            return super().verify(hash, password)

    keys = ReaderKeys(Counting(time_cost=1, memory_cost=1024, parallelism=1))
    engine = make_engine(index_url)
    upgrade(engine)
    with session_factory(engine)() as session:
        token = keys.issue(session, "inspector", "auditor")
        prefix = token.split("_")[1]
        assert keys.authenticate(session, f"ik_{prefix}_{'a' * 52}") is None
        assert keys.authenticate(session, f"ik_ffffffffffff_{'a' * 52}") is None
        assert calls == []
        row = session.scalars(select(ApiKeyRow).where(ApiKeyRow.prefix == prefix)).one()
        assert row and row.secret_hash.startswith("sha256$")
        row.secret_hash = FAST.hash(token)  # as the previous scheme stored it
        session.commit()
        assert keys.authenticate(session, token) is not None and calls == ["verify"]
        session.refresh(row)
        assert row.secret_hash.startswith("sha256$")
        assert keys.authenticate(session, token) is not None
        assert keys.authenticate(session, f"ik_{prefix}_{'a' * 52}") is None
        assert calls == ["verify"]
    engine.dispose()


def test_bootstrap_writes_one_regulator_key_readable_by_owner_only(
    index_url: str, keys: ReaderKeys, tmp_path: Path
) -> None:
    engine = make_engine(index_url)
    upgrade(engine)
    sessions = session_factory(engine)
    path = tmp_path / "secrets" / "reader.api-key"
    assert bootstrap_reader_key(sessions, keys, path) == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = path.read_text().strip()
    with sessions() as session:
        found = keys.authenticate(session, token)
    assert found is not None and found.role == "regulator"
    assert bootstrap_reader_key(sessions, keys, tmp_path / "again") is None
    engine.dispose()


def test_the_service_bootstraps_its_key_on_first_start_only(
    make_indexer: IndexerFactory,
) -> None:
    first: IndexerService = make_indexer()
    path = first.bootstrap_key_file
    assert path is not None and path == first.settings.resolved_bootstrap_api_key_file
    token = path.read_text().strip()
    first.stop()
    path.unlink()
    again = make_indexer()
    assert again.bootstrap_key_file is None and not path.exists()
    with again.sessions() as session:
        assert again.api_keys.authenticate(session, token) is not None


def test_keys_of_an_older_index_keep_working_and_revoked_ones_stay_revoked(
    index_url: str, keys: ReaderKeys
) -> None:
    """Migration 0008 rebuilds ix_api_keys with an id and the lifecycle columns: a ``revoked``
    key is revoked (now), the others live, with no expiry."""
    engine = make_engine(index_url)
    upgrade(engine, "0006")
    live_token, live_prefix = new_token("ik")
    dead_token, dead_prefix = new_token("ik")
    with engine.begin() as conn:
        for prefix, token, revoked in (
            (live_prefix, live_token, False),
            (dead_prefix, dead_token, True),
        ):
            conn.execute(
                text(
                    "INSERT INTO ix_api_keys (prefix, name, role, secret_hash, revoked) "
                    "VALUES (:p, 'old reader', 'auditor', :h, :r)"
                ),
                {"p": prefix, "h": stored_form(token), "r": revoked},
            )
    upgrade(engine)
    with session_factory(engine)() as session:
        found = keys.authenticate(session, live_token)
        assert found is not None and (found.name, found.role, found.region) == (
            "old reader",
            "auditor",
            None,
        )
        assert keys.authenticate(session, dead_token) is None
        listed = keys.listing(session)
        assert [(i.key.prefix, i.key.revoked_at is None, i.key.expires_at) for i in listed] == [
            (p, p == live_prefix, None) for p in sorted((live_prefix, dead_prefix))
        ]
        again = keys.issue(session, "new reader", "auditor")
        assert keys.authenticate(session, again) is not None
    engine.dispose()


def test_an_inspector_key_needs_a_canonical_region_and_other_roles_none(
    index_url: str, keys: ReaderKeys
) -> None:
    engine = make_engine(index_url)
    upgrade(engine)
    with session_factory(engine)() as session:
        token = keys.issue(session, "Chui inspector", "inspector", region="kg-c")
        found = keys.authenticate(session, token)
        assert found is not None and (found.role, found.region) == ("inspector", "KG-C")
        with pytest.raises(ValidationError, match="needs a region"):
            keys.issue(session, "x", "inspector")
        with pytest.raises(ValidationError, match="not an ISO 3166-2"):
            keys.issue(session, "x", "inspector", region="Chui")
        with pytest.raises(ValidationError, match="inspector keys only"):
            keys.issue(session, "x", "auditor", region="KG")
    engine.dispose()


def test_a_revoked_or_expired_reader_key_costs_no_argon2_check(index_url: str) -> None:
    """Issue 15: row, then live?, then the secret; a dead key stored as argon2 (as keys issued
    before the SHA-256 scheme are) is never handed to argon2."""
    calls: list[str] = []

    class Counting(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
            calls.append("verify")
            return super().verify(hash, password)

    keys = ReaderKeys(Counting(time_cost=1, memory_cost=1024, parallelism=1))
    engine = make_engine(index_url)
    upgrade(engine)
    with session_factory(engine)() as session:
        revoked = keys.issue(session, "old", "auditor")
        expired = keys.issue(session, "old", "auditor")
        for token in (revoked, expired):
            row = session.scalars(
                select(ApiKeyRow).where(ApiKeyRow.prefix == token.split("_")[1])
            ).one()
            row.secret_hash = FAST.hash(token)  # as the previous scheme stored it
            if token == expired:
                row.expires_at = datetime.now(UTC)
        session.commit()
        keys.revoke(session, revoked.split("_")[1])
        for token in (revoked, expired):
            assert keys.authenticate(session, token) is None
            assert keys.authenticate(session, token[:-1] + "x") is None
        assert calls == []
    engine.dispose()
