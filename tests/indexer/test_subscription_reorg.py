"""Subscriptions across a reorganisation (real nodes, anvil and ganache; see test_reorg.py for
how a reorganisation is made): events of blocks a reorganisation orphans are never delivered
while it is no deeper than ``subscription_depth``; a deeper one moves the subscription's cursor
back to the common ancestor, so the new branch's events are all delivered (the orphaned ones
already delivered cannot be taken back: the binding has no retraction)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from chain.client import Chain
from devkit.nodes import available, running_node
from indexer.api.app import create_app
from indexer.service import IndexerService
from indexer.settings import IndexerSettings
from indexer.sources import FolderBatchSource
from indexer.verification import event_digest
from medledger.epcis import builders as b
from medledger.epcis.event_id import EventId
from provenance.journey import MANUFACTURER, build_journey
from tests.indexer.test_subscriptions import Receiver, receiver
from tests.support.anchoring import Publisher, start_publisher

__all__ = ["receiver"]  # the fixture, from test_subscriptions.py

pytestmark = [pytest.mark.node, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@pytest.fixture(params=["anvil", "ganache"])
def node_url(request: pytest.FixtureRequest) -> Iterator[str]:
    kind = str(request.param)
    if not available(kind):
        pytest.skip(f"{kind} is not installed in node_modules (run `make deps`)")
    with running_node(kind) as node:
        yield node.url


def rpc(chain: Chain, method: str, *params: object) -> object:
    return chain.w3.provider.make_request(method, list(params))["result"]  # type: ignore[arg-type]


def indexer(
    publisher: Publisher, url: str, database_url: str, data: Path, depth: int
) -> IndexerService:
    service = IndexerService(
        IndexerSettings(
            data_dir=data,
            database_url=database_url,
            chain_url=url,
            subscription_allowlist="127.0.0.1/32",
            subscription_depth=depth,
        ),
        deployment=publisher.deployment,
        source=FolderBatchSource(publisher.folder),
    )
    service.follower.loader.workers = 0
    return service


def subscribe(service: IndexerService, dest: str) -> None:
    with service.sessions() as session:
        token = service.api_keys.issue(session, "regulator", "regulator")
    key = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(service, follow=False)) as http:
        made = http.post("/queries", json={"name": "all", "query": {}}, headers=key)
        assert made.status_code == 201, made.text
        subscribed = http.post(
            "/queries/all/subscriptions", json={"dest": dest, "stream": True}, headers=key
        )
        assert subscribed.status_code == 201, subscribed.text


def ids(events: list[dict[str, object]]) -> list[str]:
    return [EventId(event_digest(e)).uri for e in events]


#: anchored on the branch that vanishes: a pack no other branch has
ORPHAN = b.commission(
    MANUFACTURER, datetime(2026, 11, 2, tzinfo=UTC), epcs=["urn:epc:id:sgtin:4700123.012345.X1"]
)


def fork(
    node_url: str, index_url: str, tmp_path: Path, receiver: Receiver, depth: int
) -> tuple[list[str], list[str]]:
    """Index a journey's first steps, subscribe, anchor ORPHAN on a branch and deliver, then
    replace the branch by the journey's next steps (and ``depth`` blocks more) and deliver.
    Returns the event ids the new branch anchored, and those received (deduplicated by
    Idempotency-Key)."""
    chain = Chain.from_url(node_url, poll_interval=0.05)
    publisher = start_publisher(chain, tmp_path / "batches")
    steps = build_journey(20, packs_per_case=10).steps
    for step in steps[:3]:
        publisher.publish(step.actor, step.events)
    service = indexer(publisher, node_url, index_url, tmp_path / "ix", depth)
    try:
        service.catch_up()
        subscribe(service, receiver.url)
        snapshot = rpc(chain, "evm_snapshot")
        publisher.publish(MANUFACTURER, [ORPHAN])
        service.catch_up()
        service.deliver_subscriptions()
        orphaned_head = chain.block_number

        assert rpc(chain, "evm_revert", snapshot) is True
        new_chain = Chain.from_url(node_url, poll_interval=0.05)
        publisher.rebind(new_chain)
        anchored: list[str] = []
        for step in steps[3:6]:
            publisher.publish(step.actor, step.events)
            anchored += ids(step.events)
        last = new_chain.block_number  # the new branch's last event's block, then depth more
        while new_chain.block_number < max(last + depth, orphaned_head + 1):
            rpc(new_chain, "evm_mine")
        report = service.catch_up()
        assert report.reorg_to is not None and report.reorg_to < orphaned_head
        service.catch_up()
        service.deliver_subscriptions()
        return anchored, receiver.event_ids()
    finally:
        service.stop()


def test_events_of_orphaned_blocks_within_the_depth_are_never_delivered(
    node_url: str, index_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    anchored, received = fork(node_url, index_url, tmp_path, receiver, depth=3)
    assert ids([ORPHAN])[0] not in received
    assert received == anchored  # the new branch's, each once, in chain order


def test_a_deeper_reorganisation_moves_the_cursor_back_and_misses_nothing(
    node_url: str, index_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    anchored, received = fork(node_url, index_url, tmp_path, receiver, depth=0)
    orphan = ids([ORPHAN])[0]
    assert received[0] == orphan  # delivered before the reorganisation (no retraction)
    assert received[1:] == anchored  # and the new branch's, although at the same heights
