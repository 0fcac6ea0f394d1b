"""Concurrent writers through the HTTP API: captures, the batcher and webhook updates at once.

On SQLite these used to fail as HTTP 500 "database is locked" (a deferred transaction cannot
upgrade to the write lock while another connection writes); write sessions begin IMMEDIATE.
"""

from __future__ import annotations

import threading

from medledger.epcis.builders import as_document
from provenance.journey import ACTORS, API_MAKER, build_journey
from tests.gateway.conftest import Gateway

THREADS = 8
ROUNDS = 4


def test_concurrent_captures_batcher_and_webhooks_all_succeed(gateway: Gateway) -> None:
    document = as_document(build_journey().steps[0].events)
    start = threading.Barrier(THREADS + 1)
    statuses: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def capture() -> None:
        start.wait()
        for _ in range(ROUNDS):  # the first stores the event, the others count duplicates
            response = gateway.capture(API_MAKER, document)
            with lock:
                statuses.append(response.status_code)

    def webhooks(i: int) -> None:
        start.wait()
        actor = ACTORS[i % len(ACTORS)]
        for n in range(ROUNDS):
            response = gateway.http.put(
                "/participants/me/webhook",
                json={"url": f"https://hooks.example/{actor.gln}/{n}"},  # no spaces in a URL
                headers=gateway.headers(actor),
            )
            with lock:
                statuses.append(response.status_code)

    def batcher() -> None:
        start.wait()
        for _ in range(ROUNDS):
            gateway.service.batcher.step(flush=True)

    def guarded(work: object, *args: object) -> threading.Thread:
        def run() -> None:
            try:
                work(*args)  # type: ignore[operator]
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                with lock:
                    errors.append(exc)

        return threading.Thread(target=run)

    threads = [guarded(capture) for _ in range(THREADS // 2)]
    threads += [guarded(webhooks, i) for i in range(THREADS // 2 - 1)]
    threads.append(guarded(batcher))
    threads.append(guarded(start.wait))  # the barrier's last party
    assert len(threads) == THREADS + 1
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a writer hung"
    assert errors == []
    assert set(statuses) == {200, 202}, statuses  # webhooks 200, captures 202; no 500, no 503
    assert len(statuses) == (THREADS // 2 + THREADS // 2 - 1) * ROUNDS
    gateway.anchor_all()
