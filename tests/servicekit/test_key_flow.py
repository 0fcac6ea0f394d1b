"""The one API-key flow (servicekit/apikeys.py ``KeyFlow``) over any table, and 0600 secret files
(servicekit/secrets.py): what the gateway's and the indexer's keys both rely on (issue 23)."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import String, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from servicekit.apikeys import KeyFlow, KeyTable, stored_form
from servicekit.secrets import write_secret
from servicekit.sql.keys import KeyColumns

FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


class _Base(DeclarativeBase):
    pass


class _KeyRow(KeyColumns, _Base):
    __tablename__ = "keys"

    digest: Mapped[str] = mapped_column(String(255))
    owner: Mapped[str] = mapped_column(String(50))


TABLE = KeyTable(_KeyRow, stored="digest", row_id="id", label="test key")


@pytest.fixture
def engine() -> Iterator[Engine]:
    made = create_engine("sqlite://")
    _Base.metadata.create_all(made)
    yield made
    made.dispose()


def _flow(hasher: PasswordHasher = FAST) -> KeyFlow:
    return KeyFlow("tk", TABLE, log=logging.getLogger("test.keys"), hasher=hasher)


def _row(session: Session, token: str) -> _KeyRow | None:
    prefix = _flow().prefix(token)
    return session.query(_KeyRow).filter_by(prefix=prefix).one_or_none()


def test_an_issued_key_stores_only_its_sha256_with_the_callers_columns(engine: Engine) -> None:
    flow = _flow()
    with Session(engine) as session:
        token = flow.issue(session, owner="alice")
        row = _row(session, token)
        assert token.startswith("tk_") and flow.prefix(token) == token.split("_")[1]
        assert row is not None and row.owner == "alice" and row.digest == stored_form(token)
        assert flow.verified(session, row, token)
        assert not flow.verified(session, row, token[:-1] + "x")
        assert not flow.verified(session, None, token)
        assert flow.prefix("ik_" + token[3:]) is None and flow.prefix("") is None


def test_an_argon2_key_verifies_once_then_is_stored_as_sha256(engine: Engine) -> None:
    calls: list[str] = []

    class Counting(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # type: ignore[override]
            calls.append("verify")
            return bool(super().verify(hash, password))

    flow = _flow(Counting(time_cost=1, memory_cost=8, parallelism=1))
    with Session(engine) as session:
        token = flow.issue(session, owner="bob")
        row = _row(session, token)
        assert row is not None
        row.digest = FAST.hash(token)  # as the previous scheme stored it
        session.commit()
        assert not flow.verified(session, row, token + "x") and calls == ["verify"]
        assert flow.verified(session, row, token) and calls == ["verify", "verify"]
        session.refresh(row)
        assert row.digest == stored_form(token)
        assert flow.verified(session, row, token) and len(calls) == 2


def test_a_failed_upgrade_leaves_the_key_valid_and_says_so(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    flow = _flow()
    with Session(engine) as session:
        token = flow.issue(session, owner="carol")
        row = _row(session, token)
        assert row is not None
        row.digest = FAST.hash(token)
        session.commit()

        def refuse(conn: object, cursor: object, statement: str, *args: object) -> None:
            if statement.lstrip().upper().startswith("UPDATE"):
                raise OperationalError(statement, None, Exception("disk full"))

        event.listen(engine, "before_cursor_execute", refuse)
        try:
            with caplog.at_level(logging.WARNING, logger="test.keys"):
                assert flow.verified(session, row, token)
        finally:
            event.remove(engine, "before_cursor_execute", refuse)
        assert "test key" in caplog.text and "its argon2 hash was not replaced" in caplog.text
        session.refresh(row)
        assert row.digest.startswith("$argon2")
        assert flow.verified(session, row, token)
        session.refresh(row)
        assert row.digest == stored_form(token)


def test_a_secret_file_is_its_owners_alone_from_the_first_byte(tmp_path: Path) -> None:
    path = tmp_path / "made" / "reader.api-key"
    old = os.umask(0)
    try:
        write_secret(path, "ik_abc_def")
    finally:
        os.umask(old)
    assert path.read_text() == "ik_abc_def\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    path.chmod(0o644)
    write_secret(path, "second")
    assert path.read_text() == "second\n" and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_secret_replaces_a_symlink_left_at_its_path_and_never_writes_through_it(
    tmp_path: Path,
) -> None:
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("not yours\n")
    path = tmp_path / "keys" / "reader.api-key"
    path.parent.mkdir(mode=0o700)
    path.symlink_to(elsewhere)
    write_secret(path, "ik_abc_def")
    assert elsewhere.read_text() == "not yours\n"
    assert not path.is_symlink() and path.read_text() == "ik_abc_def\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["reader.api-key"]
