"""API tokens: one scheme for the gateway's and the indexer's keys (issue 14, finding 10)."""

from __future__ import annotations

import threading
from typing import Literal

from argon2 import PasswordHasher

from servicekit.apikeys import TokenVerifier, new_token, split_token, stored_form

FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def test_a_token_is_kind_prefix_and_256_bit_secret_stored_as_its_sha256() -> None:
    token, prefix = new_token("pk")
    assert split_token(token, "pk") == (prefix, token.split("_", 2)[2])
    assert len(prefix) == 12 and len(token.split("_", 2)[2]) == 52  # 32 bytes in base32
    assert split_token(token, "ik") is None and split_token("pk__x", "pk") is None
    stored = stored_form(token)
    assert stored.startswith("sha256$") and len(stored) == 71 and prefix not in stored


def test_only_the_token_itself_matches_and_no_row_never_does() -> None:
    verifier = TokenVerifier(FAST)
    token, _ = new_token("ik")
    assert verifier.verify(stored_form(token), token).ok
    assert not verifier.verify(stored_form(token), token[:-1] + "x").ok
    assert not verifier.verify(None, token).ok


def test_an_argon2_hash_verifies_and_asks_to_be_replaced() -> None:
    verifier = TokenVerifier(FAST)
    token, _ = new_token("pk")
    verdict = verifier.verify(FAST.hash(token), token)
    assert verdict.ok and verdict.upgrade == stored_form(token)
    assert verifier.verify(FAST.hash(token), token + "x") == type(verdict)(False)


def test_argon2_checks_run_one_at_a_time_and_a_guess_that_waits_too_long_is_refused() -> None:
    entered, release = threading.Event(), threading.Event()

    class Slow(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
            entered.set()
            release.wait(5)
            return super().verify(hash, password)

    slow = Slow(time_cost=1, memory_cost=8, parallelism=1)
    verifier = TokenVerifier(slow, legacy_slots=1, legacy_wait_seconds=0.05)
    token, _ = new_token("pk")
    stored = slow.hash(token)
    first = threading.Thread(target=verifier.verify, args=(stored, token))
    first.start()
    assert entered.wait(5)
    assert not verifier.verify(stored, token).ok  # the slot is taken: refused, not queued
    release.set()
    first.join(5)
    assert verifier.verify(stored, token).ok
