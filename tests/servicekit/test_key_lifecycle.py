"""The keys' lifecycle (servicekit/apikeys.py ``KeyFlow`` over servicekit/sql/keys.py columns):
several keys per owner, labels, expiry, last use at most once a minute, rotation with a grace
period, revocation, listing without secrets, the audit; and a dead key costs no argon2 check
(issue 15)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Literal

import pytest
from argon2 import PasswordHasher
from sqlalchemy import String, create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from medledger.errors import StoreConflictError, ValidationError
from servicekit.apikeys import MAX_GRACE, KeyFlow, KeyTable
from servicekit.sql.keys import KeyAuditColumns, KeyColumns


class _Base(DeclarativeBase):
    pass


class _KeyRow(KeyColumns, _Base):
    __tablename__ = "keys"

    digest: Mapped[str] = mapped_column(String(255))
    owner: Mapped[str] = mapped_column(String(50))
    scope: Mapped[str] = mapped_column(String(16), default="all")


class _AuditRow(KeyAuditColumns, _Base):
    __tablename__ = "key_audit"


TABLE = KeyTable(
    _KeyRow,
    stored="digest",
    row_id="id",
    label="test key",
    owner="owner",
    inherited=("scope",),
    audit=_AuditRow,
)


class Counting(PasswordHasher):
    """Cheapest argon2id, counting its verifications."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.calls = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.calls += 1
        return super().verify(hash, password)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2027, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def engine() -> Iterator[Engine]:
    made = create_engine("sqlite://")
    _Base.metadata.create_all(made)
    yield made
    made.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hasher() -> Counting:
    return Counting()


@pytest.fixture
def flow(clock: Clock, hasher: Counting) -> KeyFlow:
    return KeyFlow("tk", TABLE, log=logging.getLogger("test.keys"), hasher=hasher, clock=clock)


def test_an_owner_holds_several_keys_listed_with_their_times_but_never_a_secret(
    engine: Engine, flow: KeyFlow, clock: Clock
) -> None:
    with Session(engine) as session:
        first = flow.issue_key(session, actor="admin", label="ERP", owner="alice")
        ends = clock.now + timedelta(days=90)
        second = flow.issue_key(
            session, actor="admin", label="scanner", expires_at=ends, owner="alice"
        )
        flow.issue_key(session, actor="admin", owner="bob")
        listed = flow.keys(session, _KeyRow.owner == "alice")
    assert [k.id for k in listed] == [first.key.id, second.key.id]
    assert [(k.label, k.expires_at, k.created_at) for k in listed] == [
        ("ERP", None, clock.now),
        ("scanner", ends, clock.now),
    ]
    assert all(k.last_used_at is None and k.revoked_at is None for k in listed)
    assert first.token.split("_")[1] == listed[0].prefix
    assert first.token not in repr(listed) and second.token not in repr(listed)


def test_bad_labels_and_expiries_are_refused_before_anything_is_written(
    engine: Engine, flow: KeyFlow, clock: Clock
) -> None:
    with Session(engine) as session:
        with pytest.raises(ValidationError, match="at most 100 characters") as caught:
            flow.issue_key(session, label="x" * 101, owner="alice")
        assert caught.value.rule == "apikey.label"
        with pytest.raises(ValidationError, match="not in the future") as caught:
            flow.issue_key(session, expires_at=clock.now, owner="alice")
        assert (caught.value.rule, caught.value.pointer) == ("apikey.expires-at", "/expiresAt")
        with pytest.raises(ValidationError, match="time zone"):
            flow.issue_key(session, expires_at=datetime(2030, 1, 1), owner="alice")
        session.rollback()
        assert flow.keys(session) == [] and flow.audit(session) == []


def test_last_use_is_written_at_most_once_a_minute(
    engine: Engine, flow: KeyFlow, clock: Clock
) -> None:
    with Session(engine) as session:
        token = flow.issue(session, owner="alice")
        start = clock.now
        assert flow.authenticate(session, token) is not None
        assert flow.keys(session)[0].last_used_at == start
        clock.now = start + timedelta(seconds=59)
        assert flow.authenticate(session, token) is not None
        assert flow.keys(session)[0].last_used_at == start
        clock.now = start + timedelta(seconds=60)
        assert flow.authenticate(session, token) is not None
        assert flow.keys(session)[0].last_used_at == clock.now


def test_an_expired_key_is_refused_from_its_expiry_on(
    engine: Engine, flow: KeyFlow, clock: Clock
) -> None:
    with Session(engine) as session:
        ends = clock.now + timedelta(hours=1)
        token = flow.issue(session, owner="alice", expires_at=ends)
        clock.now = ends - timedelta(microseconds=1)
        assert flow.authenticate(session, token) is not None
        clock.now = ends
        assert flow.authenticate(session, token) is None


def test_rotation_gives_a_new_key_and_the_old_one_a_grace_period(
    engine: Engine, flow: KeyFlow, clock: Clock
) -> None:
    with Session(engine) as session:
        old_token = flow.issue(session, actor="admin", owner="alice", label="ERP", scope="read")
        old = flow.authenticate(session, old_token)
        assert old is not None
        start = clock.now
        rotated = flow.rotate(session, old, actor="alice", grace=timedelta(hours=2))
        assert rotated.old.expires_at == start + timedelta(hours=2)
        assert (rotated.key.label, rotated.key.owner, rotated.row.scope) == ("ERP", "alice", "read")
        assert rotated.key.expires_at is None and rotated.token != old_token
        clock.now = start + timedelta(hours=1)
        assert flow.authenticate(session, old_token) is not None
        assert flow.authenticate(session, rotated.token) is not None
        clock.now = start + timedelta(hours=2)
        assert flow.authenticate(session, old_token) is None
        assert flow.authenticate(session, rotated.token) is not None
        with pytest.raises(StoreConflictError, match="is expired: issue a new key"):
            flow.rotate(session, old, actor="alice")


def test_rotation_never_lengthens_an_old_keys_life_and_grace_0_ends_it_at_once(
    engine: Engine, flow: KeyFlow, clock: Clock
) -> None:
    with Session(engine) as session:
        soon = clock.now + timedelta(minutes=5)
        token = flow.issue(session, owner="alice", expires_at=soon)
        row = flow.find(session, token)
        rotated = flow.rotate(session, row, actor="alice")  # default grace: 24 hours
        assert rotated.old.expires_at == soon
        now_token = flow.issue(session, owner="alice")
        rotated = flow.rotate(session, flow.find(session, now_token), actor="a", grace=timedelta(0))
        assert flow.authenticate(session, now_token) is None
        assert flow.authenticate(session, rotated.token) is not None


@pytest.mark.parametrize("grace", [timedelta(seconds=-1), MAX_GRACE + timedelta(seconds=1)])
def test_a_grace_period_beyond_0_to_30_days_is_refused(
    engine: Engine, flow: KeyFlow, grace: timedelta
) -> None:
    with Session(engine) as session:
        token = flow.issue(session, owner="alice")
        with pytest.raises(ValidationError, match="between 0 and 30 days") as caught:
            flow.rotate(session, flow.find(session, token), actor="alice", grace=grace)
        assert caught.value.rule == "apikey.grace"
        session.rollback()
        assert len(flow.keys(session)) == 1 and flow.authenticate(session, token) is not None


def test_revocation_is_at_once_and_a_revoked_key_cannot_be_rotated(
    engine: Engine, flow: KeyFlow, clock: Clock
) -> None:
    with Session(engine) as session:
        token = flow.issue(session, owner="alice")
        row = flow.find(session, token)
        info = flow.revoke(session, row, actor="admin")
        assert info.revoked_at == clock.now and not info.live(clock.now)
        assert flow.authenticate(session, token) is None
        assert flow.revoke(session, row, actor="admin").revoked_at == info.revoked_at  # no-op
        with pytest.raises(StoreConflictError, match="is revoked"):
            flow.rotate(session, row, actor="admin")


def test_a_revoked_or_expired_key_costs_no_argon2_check(
    engine: Engine, flow: KeyFlow, clock: Clock, hasher: Counting
) -> None:
    """Row, then live?, then the secret: a dead key stored as argon2 (as keys issued before
    the SHA-256 scheme are) is never handed to argon2, right or wrong secret alike."""
    with Session(engine) as session:
        revoked = flow.issue(session, owner="alice")
        expiring = flow.issue(session, owner="alice", expires_at=clock.now + timedelta(hours=1))
        for token in (revoked, expiring):
            row = flow.find(session, token)
            assert row is not None
            row.digest = hasher.hash(token)  # as the previous scheme stored it
        session.commit()
        flow.revoke(session, flow.find(session, revoked), actor="admin")
        clock.now += timedelta(hours=1)
        for token in (revoked, expiring):
            assert flow.authenticate(session, token) is None
            assert flow.authenticate(session, token[:-1] + "x") is None
        assert hasher.calls == 0


def test_every_operation_is_audited_with_actor_key_and_owner(
    engine: Engine, flow: KeyFlow, clock: Clock
) -> None:
    with Session(engine) as session:
        issued = flow.issue_key(session, actor="admin", owner="alice", detail="registration")
        clock.now += timedelta(minutes=1)
        rotated = flow.rotate(session, issued.row, actor="alice", grace=timedelta(seconds=30))
        clock.now += timedelta(minutes=1)
        flow.revoke(session, rotated.row, actor="admin")
        flow.issue(session, actor="admin", owner="bob")
        entries = flow.audit(session, owners=["alice"])
        later = flow.audit(session, since=clock.now)
    assert [(e.action, e.actor, e.key_id, e.owner) for e in entries] == [
        ("issue", "admin", issued.key.id, "alice"),
        ("issue", "alice", rotated.key.id, "alice"),
        ("rotate", "alice", issued.key.id, "alice"),
        ("revoke", "admin", rotated.key.id, "alice"),
    ]
    assert entries[0].detail == "registration"
    assert entries[1].detail == f"replaces key {issued.key.id}"
    assert (
        entries[2].detail is not None and f"replaced by key {rotated.key.id}" in entries[2].detail
    )
    assert [(e.action, e.owner) for e in later] == [("revoke", "alice"), ("issue", "bob")]
