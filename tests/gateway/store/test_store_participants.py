from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

import pytest
from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from gateway.store.participants import (
    ApiKeys,
    get_participant,
    list_participants,
    participant_by_gln,
    set_participant_status,
)
from medledger.custody.state import Participant
from medledger.errors import RecordNotFoundError, StoreConflictError
from tests.gateway.store.store_support import ParticipantMaker


def test_participant_round_trip(session: Session, make_participant: ParticipantMaker) -> None:
    made = make_participant(name="Acme API", roles=1, rule_set="epcis", keystore_path="/k/a.json")
    assert get_participant(session, made.address) == made
    assert participant_by_gln(session, made.gln) == made
    assert made.active and made.rule_set == "epcis" and made.created_at.tzinfo is not None
    assert made.to_custody() == Participant(made.address, 1, made.gln, True)


def test_participant_twice_is_a_conflict(
    session: Session, make_participant: ParticipantMaker
) -> None:
    made = make_participant()
    with pytest.raises(StoreConflictError, match="already exists"):
        make_participant(address=made.address, gln="4799999999999")


def test_unknown_rule_set_is_refused(make_participant: ParticipantMaker) -> None:
    with pytest.raises(ValueError, match="unknown rule set 'gs1'"):
        make_participant(rule_set="gs1")


def test_issue_and_authenticate(
    session: Session, make_participant: ParticipantMaker, api_keys: ApiKeys
) -> None:
    alice, bob = make_participant(), make_participant()
    token_a = api_keys.issue(session, alice.address)
    token_b = api_keys.issue(session, bob.address)
    assert token_a.startswith("pk_") and len(token_a.split("_", 2)[2]) >= 40
    assert api_keys.authenticate(session, token_a) == alice
    assert api_keys.authenticate(session, token_b) == bob


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda t: t[:-1] + ("a" if t[-1] != "a" else "b"), id="wrong-secret"),
        pytest.param(lambda t: "pk_000000000000_" + t.split("_", 2)[2], id="unknown-prefix"),
        pytest.param(lambda t: t.replace("pk_", "sk_", 1), id="wrong-scheme"),
        pytest.param(lambda t: "pk_", id="truncated"),
        pytest.param(lambda t: "", id="empty"),
    ],
)
def test_bad_tokens_are_refused(
    session: Session, make_participant: ParticipantMaker, api_keys: ApiKeys, mangle: object
) -> None:
    token = api_keys.issue(session, make_participant().address)
    assert callable(mangle)
    assert api_keys.authenticate(session, mangle(token)) is None


def test_the_hash_not_the_token_is_stored(
    session: Session, make_participant: ParticipantMaker, api_keys: ApiKeys
) -> None:
    from gateway.store.models import ApiKeyRow

    token = api_keys.issue(session, make_participant().address)
    (row,) = session.query(ApiKeyRow).all()
    assert row.hash.startswith("sha256$") and token.split("_", 2)[2] not in row.hash
    assert row.prefix == token.split("_")[1]


def test_revoked_key_is_refused(
    session: Session, make_participant: ParticipantMaker, api_keys: ApiKeys
) -> None:
    alice = make_participant()
    token = api_keys.issue(session, alice.address)
    other = api_keys.issue(session, alice.address)
    assert api_keys.authenticate(session, token) == alice
    api_keys.revoke(session, token)
    assert api_keys.authenticate(session, token) is None
    assert api_keys.authenticate(session, other) == alice
    api_keys.revoke(session, token.split("_")[1])  # by prefix, again: no error
    with pytest.raises(RecordNotFoundError, match="api key 'ffffffffffff' not found"):
        api_keys.revoke(session, "ffffffffffff")


def test_suspended_participant_is_refused(
    session: Session, make_participant: ParticipantMaker, api_keys: ApiKeys
) -> None:
    alice = make_participant()
    token = api_keys.issue(session, alice.address)
    assert api_keys.authenticate(session, token) == alice
    set_participant_status(session, alice.address, "suspended")
    assert api_keys.authenticate(session, token) is None
    suspended = api_keys.authenticate(session, token, allow_suspended=True)
    assert suspended is not None and not suspended.active
    set_participant_status(session, alice.address, "active")
    back = api_keys.authenticate(session, token)  # the same participant, its updatedAt moved on
    assert back is not None and back.active and back.address == alice.address


class CountingHasher(PasswordHasher):
    """The cheapest argon2id parameters, counting the verifications."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.calls = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.calls += 1
        return super().verify(hash, password)


def test_a_wrong_secret_costs_what_an_unknown_prefix_costs(
    session: Session, make_participant: ParticipantMaker
) -> None:
    """Issue 14, finding 10: a known prefix with a wrong secret forced an argon2 check (tens of
    milliseconds and 64 MiB); now neither a wrong secret nor an unknown prefix runs argon2."""
    hasher = CountingHasher()
    keys = ApiKeys(hasher)
    token = keys.issue(session, make_participant().address)
    prefix, secret = token.split("_")[1:]
    wrong_secret = f"pk_{prefix}_{'a' * len(secret)}"
    unknown_prefix = f"pk_{'f' * len(prefix)}_{secret}"
    assert keys.authenticate(session, wrong_secret) is None
    assert keys.authenticate(session, unknown_prefix) is None
    assert keys.authenticate(session, token) is not None
    assert hasher.calls == 0


def test_keys_hashed_with_argon2_stay_valid_and_are_rehashed_on_first_use(
    session: Session, make_participant: ParticipantMaker
) -> None:
    """Keys issued before the SHA-256 scheme verify once with argon2, then never again."""
    from gateway.store.models import ApiKeyRow

    hasher = CountingHasher()
    keys = ApiKeys(hasher)
    alice = make_participant()
    token = keys.issue(session, alice.address)
    (row,) = session.query(ApiKeyRow).all()
    row.hash = hasher.hash(token)  # as the previous scheme stored it
    session.commit()
    assert keys.authenticate(session, token[:-1] + "0") is None
    assert hasher.calls == 1  # a wrong secret against an old hash: one argon2 check
    assert keys.authenticate(session, token) == alice
    assert hasher.calls == 2
    session.refresh(row)
    assert row.hash.startswith("sha256$")
    assert keys.authenticate(session, token) == alice
    assert keys.authenticate(session, token[:-1] + "0") is None
    assert hasher.calls == 2


def test_keys_for_unknown_participants_are_refused(session: Session, api_keys: ApiKeys) -> None:
    with pytest.raises(RecordNotFoundError, match="participant '0x0+9' not found"):
        api_keys.issue(session, "0x" + "0" * 39 + "9")


def test_participants_are_listed_oldest_first(
    session: Session, make_participant: ParticipantMaker
) -> None:
    made = [make_participant() for _ in range(3)]
    assert list_participants(session) == made


def test_a_revoked_or_expired_key_costs_no_argon2_check(
    session: Session, make_participant: ParticipantMaker
) -> None:
    """Issue 15: the key's row is read, then whether it is live, and only then the secret; a
    dead key stored as argon2 is never handed to argon2."""
    from gateway.store.models import ApiKeyRow

    hasher = CountingHasher()
    keys = ApiKeys(hasher)
    alice = make_participant()
    revoked = keys.issue(session, alice.address, label="old ERP")
    expired = keys.issue(session, alice.address, label="scanner")
    for row in session.query(ApiKeyRow).all():
        token = revoked if row.label == "old ERP" else expired
        row.hash = hasher.hash(token)
    session.commit()
    keys.revoke(session, revoked)
    (expiring,) = session.query(ApiKeyRow).filter_by(label="scanner").all()
    expiring.expires_at = datetime.now(UTC)  # expired by the time it is used
    session.commit()
    for token in (revoked, expired):
        assert keys.authenticate(session, token) is None
        assert keys.authenticate(session, token[:-1] + "0") is None
    assert hasher.calls == 0


def test_each_key_is_listed_audited_and_known_by_its_scope(
    session: Session, make_participant: ParticipantMaker, api_keys: ApiKeys
) -> None:
    alice = make_participant()
    token = api_keys.issue(session, alice.address, label="ERP", actor="0xRegulator")
    reader = api_keys.issue(session, alice.address, scope="batch-reader")
    caller = api_keys.caller(session, reader)
    assert caller is not None and (caller.participant, caller.scope) == (alice, "batch-reader")
    listed = api_keys.listing(session, alice.address)
    assert [(i.key.label, i.scope) for i in listed] == [
        ("ERP", "participant"),
        ("", "batch-reader"),
    ]
    api_keys.revoke_id(session, alice.address, listed[0].key.id, actor="0xRegulator")
    assert api_keys.authenticate(session, token) is None
    with pytest.raises(RecordNotFoundError):
        api_keys.revoke_id(session, "0x" + "0" * 40, listed[1].key.id, actor="0xRegulator")
    audit = api_keys.audit(session, participant=alice.address)
    assert [(e.action, e.actor, e.key_id) for e in audit] == [
        ("issue", "0xRegulator", listed[0].key.id),
        ("issue", "system", listed[1].key.id),
        ("revoke", "0xRegulator", listed[0].key.id),
    ]
