"""One batcher per account (issue 21): two batchers on one database never race.

Before, a second batcher (a restarted gateway whose old batcher lived on) anchored the same
batches: the duplicates reverted, and the reverted transaction's hash was recorded as the anchor.
Now a batcher works only on the accounts whose anchoring lease it holds; the other waits, and
takes over when the lease is released or expires. Every batch is anchored by exactly one
transaction, and no participant account sends one that reverts.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.batcher import WAITING_INTERVAL_SECONDS, Batcher, BatcherPolicy, StepReport
from gateway.leases import RENEW_FRACTION, AccountLeases
from gateway.store.batches import batches_in_state, unanchored_event_count
from gateway.store.leases import get_lease
from medledger.epcis.builders import as_document
from provenance.journey import ACTORS, Journey, build_journey
from tests.gateway.conftest import Gateway

ACTOR = {actor.name: actor for actor in ACTORS}


def another_batcher(gateway: Gateway, policy: BatcherPolicy | None = None) -> Batcher:
    """A second batcher on the same database and chain (another process, in production)."""
    service = gateway.service
    return Batcher(
        service.write_sessions, service.ledger, service.keys, policy or service.batcher.policy
    )


def capture(gateway: Gateway, journey: Journey, index: int) -> str:
    """Capture the journey's step ``index``; the address of the participant that sent it."""
    step = journey.steps[index]
    response = gateway.capture(ACTOR[step.actor.name], as_document(step.events))
    assert response.status_code == 202, response.text
    return gateway.addresses[step.actor.name]


def assert_anchored_exactly_once(gateway: Gateway) -> None:
    """Every event anchored; each batch by one successful transaction, and no participant sent
    any other (no duplicate, reverted or not)."""
    service = gateway.service
    w3 = service.chain.w3
    with service.sessions() as session:
        assert unanchored_event_count(session) == 0
        for address in gateway.addresses.values():
            batches = batches_in_state(session, "anchored", participant=address)
            assert w3.eth.get_transaction_count(address) == len(batches)  # type: ignore[arg-type]
            for batch in batches:
                assert batch.tx_hash is not None
                assert w3.eth.get_transaction_receipt(batch.tx_hash)["status"] == 1  # type: ignore[arg-type]
            assert batches_in_state(session, "failed", participant=address) == []


def test_a_second_batcher_waits_while_the_first_holds_the_leases_then_takes_over(
    gateway: Gateway,
) -> None:
    """Interleaved steps: the second batcher anchors nothing while the first holds the leases;
    it takes over when the first releases them (a clean stop), and a third takes over from it
    when its lease expires (it stopped stepping without releasing: hung, or killed elsewhere)."""
    first, second = gateway.service.batcher, another_batcher(gateway)
    with gateway.service.write_sessions() as session:
        assert first.leases.claim(session, gateway.addresses.values()) == set(
            gateway.addresses.values()
        )
    journey = build_journey(pack_count=4, packs_per_case=2)
    for index in range(6):
        sender = capture(gateway, journey, index)
        waiting = second.step(flush=True)
        assert (waiting.sealed, waiting.sent, waiting.anchored) == (0, 0, 0)
        assert waiting.waiting == [sender]
        assert first.step(flush=True).anchored == 1

    first.release_leases()  # a clean stop: the first batcher steps no more
    for index in range(6, 9):
        capture(gateway, journey, index)
        assert second.step(flush=True).anchored == 1

    later = datetime.now(UTC) + timedelta(seconds=second.policy.lease_seconds + 1)
    third = Batcher(
        gateway.service.write_sessions,
        gateway.service.ledger,
        gateway.service.keys,
        second.policy,
        leases=AccountLeases(second.policy.lease_seconds, clock=lambda: later),
    )
    for index in range(9, len(journey.steps)):  # the second batcher steps no more either
        capture(gateway, journey, index)
        assert third.step(flush=True).anchored == 1
    assert_anchored_exactly_once(gateway)


def test_two_batchers_running_at_once_anchor_every_batch_exactly_once(gateway: Gateway) -> None:
    """Both loops run concurrently while several participants capture."""
    batchers = [another_batcher(gateway, BatcherPolicy(max_age_seconds=0.05)) for _ in range(2)]
    threads = [
        threading.Thread(target=batcher.run, kwargs={"interval": 0.02}) for batcher in batchers
    ]
    for thread in threads:
        thread.start()
    try:
        journey = build_journey(pack_count=4, packs_per_case=2)
        for index in range(len(journey.steps)):
            capture(gateway, journey, index)
        deadline = time.monotonic() + 30
        while True:
            with gateway.service.sessions() as session:
                if unanchored_event_count(session) == 0:
                    break
            assert time.monotonic() < deadline, "the batchers did not anchor everything"
            time.sleep(0.05)
    finally:
        for batcher in batchers:
            batcher.stop()
        for thread in threads:
            thread.join(timeout=30)
    assert_anchored_exactly_once(gateway)
    holders = {batcher.leases.holder for batcher in batchers}
    with gateway.service.sessions() as session:
        assert all(  # released on stop
            get_lease(session, address) is None for address in gateway.addresses.values()
        )
    assert len(holders) == 2


def test_a_held_lease_is_written_again_only_once_a_third_of_its_time_has_passed(
    gateway: Gateway,
) -> None:
    """A busy batcher passes ten times a second: its leases are not rewritten on every pass
    (a commit each), only when a third of their time to live has passed since the last
    renewal; until then the lease in the store still runs for two thirds of it."""
    batcher = gateway.service.batcher
    accounts = set(gateway.addresses.values())
    with gateway.service.write_sessions() as session:
        assert batcher.leases.claim(session, accounts) == accounts
        account = sorted(accounts)[0]
        taken = get_lease(session, account)
        assert taken is not None
        assert batcher.leases.claim(session, accounts) == accounts  # a pass right after
        unchanged = get_lease(session, account)
        assert unchanged is not None and unchanged.expires_at == taken.expires_at
        third = batcher.leases.ttl_seconds * RENEW_FRACTION
        batcher.leases._renewed[account] -= third  # renewed a third of its time to live ago
        assert batcher.leases.claim(session, accounts) == accounts
        renewed = get_lease(session, account)
        assert renewed is not None and renewed.expires_at > taken.expires_at


def test_a_batcher_holding_no_lease_looks_again_once_a_second(gateway: Gateway) -> None:
    """While another batcher anchors for every account with work, a waiting batcher's passes
    (each a few statements) would take the cores the holder and capture need: it looks again
    every WAITING_INTERVAL_SECONDS, not every 0.1 s, and still anchors once the lease is free."""
    holder, waiting = gateway.service.batcher, another_batcher(gateway)
    with gateway.service.write_sessions() as session:
        holder.leases.claim(session, gateway.addresses.values())
    journey = build_journey(pack_count=4, packs_per_case=2)
    capture(gateway, journey, 0)
    passes: list[float] = []
    step = waiting.step

    def counted(*args: Any, **kwargs: Any) -> StepReport:
        passes.append(time.monotonic())
        return step(*args, **kwargs)

    waiting.step = counted  # type: ignore[method-assign]
    thread = threading.Thread(target=waiting.run, kwargs={"interval": 0.1})
    thread.start()
    try:
        time.sleep(2.5)
        most = 2.5 / WAITING_INTERVAL_SECONDS + 2
        assert 2 <= len(passes) <= most, passes  # at 0.1 s it would be about 25
        holder.release_leases()
        deadline = time.monotonic() + 30
        while True:
            with gateway.service.sessions() as session:
                if unanchored_event_count(session) == 0:
                    break
            assert time.monotonic() < deadline, "the waiting batcher never took over"
            time.sleep(0.1)
    finally:
        waiting.stop()
        thread.join(timeout=30)
