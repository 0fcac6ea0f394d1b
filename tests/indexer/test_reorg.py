"""A reorganisation while indexing leaves the index identical to a fresh index of the final chain.

Real nodes (ganache, anvil): the chain is snapshotted, more batches are anchored and indexed,
then the chain is reverted to the snapshot and a different, longer history is mined. The
indexer notices the checkpoint's hash changed, rolls back to the common ancestor and re-reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from chain.client import Chain
from devkit.nodes import available, running_node
from indexer.service import IndexerService
from indexer.settings import IndexerSettings
from indexer.sources import FolderBatchSource
from indexer.store import pending
from indexer.store.models import AlertRow, TransitObservationRow
from provenance.journey import build_journey
from tests.support.anchoring import Publisher, start_publisher
from tests.support.index_compare import assert_same_index, index_snapshot
from tests.support.tallies import assert_tallies_recount
from tests.support.tripwire import Tripwire

pytestmark = [pytest.mark.node, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@pytest.fixture(params=["anvil", "ganache"])
def node_url(request: pytest.FixtureRequest) -> Iterator[str]:
    kind = str(request.param)
    if not available(kind):
        pytest.skip(f"{kind} is not installed in node_modules (run `make deps`)")
    with running_node(kind) as node:
        yield node.url


def indexer(publisher: Publisher, url: str, database_url: str, data: Path) -> IndexerService:
    service = IndexerService(
        IndexerSettings(data_dir=data, database_url=database_url, chain_url=url),
        deployment=publisher.deployment,
        source=FolderBatchSource(publisher.folder),
    )
    service.follower.loader.workers = 0  # a dozen small batches: no worker processes
    return service


def rpc(chain: Chain, method: str, *params: object) -> object:
    return chain.w3.provider.make_request(method, list(params))["result"]  # type: ignore[arg-type]


def test_a_reorganisation_is_rolled_back_and_the_new_history_indexed(
    node_url: str, index_url: str, tmp_path: Path
) -> None:
    chain = Chain.from_url(node_url, poll_interval=0.05)
    publisher = start_publisher(chain, tmp_path / "batches")
    steps = build_journey(20, packs_per_case=10).steps
    for step in steps[:3]:  # the API lot is made, shipped and received
        publisher.publish(step.actor, step.events)
    snapshot = rpc(chain, "evm_snapshot")
    for step in steps[3:6]:  # transformation, packing, ... on the branch that will vanish
        publisher.publish(step.actor, step.events)

    service = indexer(publisher, node_url, index_url, tmp_path / "ix")
    service.catch_up()
    orphaned_head = chain.block_number

    assert rpc(chain, "evm_revert", snapshot) is True
    new_chain = Chain.from_url(node_url, poll_interval=0.05)  # fresh nonces
    publisher.rebind(new_chain)
    for step in steps[3:]:  # the same steps again: new salts, new roots, new blocks
        publisher.publish(step.actor, step.events)
    while new_chain.block_number <= orphaned_head:
        rpc(new_chain, "evm_mine")

    report = service.catch_up()
    assert report.reorg_to is not None and report.reorg_to < orphaned_head

    fresh = indexer(publisher, node_url, f"sqlite:///{tmp_path}/fresh.db", tmp_path / "fresh")
    fresh.catch_up()
    assert index_snapshot(fresh.engine)["ix_event_ilmd"], "the batch's ILMD rows are compared"
    assert_same_index(service.engine, fresh.engine)
    assert_tallies_recount(service.engine)  # the overview's counts, rolled back with the rest
    service.stop()
    fresh.stop()


def test_held_back_events_roll_back_with_their_blocks(
    node_url: str, index_url: str, tmp_path: Path
) -> None:
    """A dispensing anchored before the pack reached the pharmacy waits (held back); the
    branch that explained it vanishes; the new branch explains it again: the index equals a
    fresh one, and nothing is left waiting."""
    chain = Chain.from_url(node_url, poll_interval=0.05)
    publisher = start_publisher(chain, tmp_path / "batches")
    steps = build_journey(20, packs_per_case=10).steps
    dispensing = steps[-1]
    for step in [*steps[:5], dispensing]:  # made and packed; dispensed before it moved
        publisher.publish(step.actor, step.events)
    service = indexer(publisher, node_url, index_url, tmp_path / "ix")
    service.catch_up()
    with service.sessions() as session:
        assert len(pending.waiting(session)) == 1
    snapshot = rpc(chain, "evm_snapshot")
    for step in steps[5:-1]:  # the custody chain that explains it, on a branch that will vanish
        publisher.publish(step.actor, step.events)
    service.catch_up()
    with service.sessions() as session:
        assert pending.waiting(session) == []
    orphaned_head = chain.block_number

    assert rpc(chain, "evm_revert", snapshot) is True
    new_chain = Chain.from_url(node_url, poll_interval=0.05)
    publisher.rebind(new_chain)
    for step in steps[5:-1]:  # the same steps again: new salts, new roots, new blocks
        publisher.publish(step.actor, step.events)
    while new_chain.block_number <= orphaned_head:
        rpc(new_chain, "evm_mine")
    report = service.catch_up()
    assert report.reorg_to is not None and report.reorg_to < orphaned_head

    fresh = indexer(publisher, node_url, f"sqlite:///{tmp_path}/fresh.db", tmp_path / "fresh")
    fresh.catch_up()
    assert_same_index(service.engine, fresh.engine)
    assert_tallies_recount(service.engine)  # the overview's counts, rolled back with the rest
    with service.sessions() as session:
        assert pending.waiting(session) == []
        assert session.scalars(select(AlertRow.kind)).all() == []
    service.stop()
    fresh.stop()


@pytest.fixture
def anvil_url() -> Iterator[str]:
    if not available("anvil"):
        pytest.skip("anvil is not installed in node_modules (run `make deps`)")
    with running_node("anvil") as node:
        yield node.url


def test_a_held_back_receipt_applied_in_a_vanished_block_is_observed_again(
    anvil_url: str, index_url: str, tmp_path: Path
) -> None:
    """Issue 21, finding 4: the importer's receipt of cases never commissioned is held back;
    the packing and shipment on a branch that will vanish explain it, and its transit
    observation is written in their block. The reorganisation keeps the receipt's own block
    and removes theirs: the observation goes with them, and the new branch observes the
    receipt again (the index equals a fresh one, transit observations included)."""
    chain = Chain.from_url(anvil_url, poll_interval=0.05)
    publisher = start_publisher(chain, tmp_path / "batches")
    steps = build_journey(20, packs_per_case=10).steps
    packed_and_shipped = [*steps[4].events, *steps[5].events]  # one manufacturer batch
    for step in [*steps[:4], steps[6]]:  # packs made; the importer receives cases not made
        publisher.publish(step.actor, step.events)
    service = indexer(publisher, anvil_url, index_url, tmp_path / "ix")
    service.catch_up()
    with service.sessions() as session:
        assert pending.waiting(session) != []
        assert session.scalars(select(TransitObservationRow)).all() == []
    snapshot, kept = rpc(chain, "evm_snapshot"), chain.block_number
    publisher.publish(steps[5].actor, packed_and_shipped)  # on a branch that will vanish
    service.catch_up()
    with service.sessions() as session:
        assert pending.waiting(session) == []
        observed = session.scalars(select(TransitObservationRow.block_number)).all()
        assert observed and all(b > kept for b in observed)  # the receipt's, in a later block
    orphaned_head = chain.block_number

    assert rpc(chain, "evm_revert", snapshot) is True
    new_chain = Chain.from_url(anvil_url, poll_interval=0.05)
    publisher.rebind(new_chain)
    for _ in range(3):  # the new branch explains it in other blocks
        rpc(new_chain, "evm_mine")
    publisher.publish(steps[5].actor, packed_and_shipped)
    report = service.catch_up()
    assert report.reorg_to is not None and report.reorg_to < orphaned_head

    fresh = indexer(publisher, anvil_url, f"sqlite:///{tmp_path}/fresh.db", tmp_path / "fresh")
    fresh.catch_up()
    rebuilt = index_snapshot(fresh.engine)
    assert rebuilt["ix_transit_observations"] != []
    assert_same_index(service.engine, rebuilt)
    service.stop()
    fresh.stop()


@pytest.mark.parametrize(
    ("read", "longer", "says"),
    [
        (2, True, "changed while the blocks after it were read"),  # before the range's header
        (4, False, "is gone"),  # between the range's header and its logs: a shorter chain
    ],
    ids=["before-the-range", "before-its-logs"],
)
def test_a_reorganisation_while_a_step_reads_is_never_applied_on_the_abandoned_branch(
    read: int, longer: bool, says: str, anvil_url: str, tmp_path: Path
) -> None:
    """The chain is replaced after the follower checked its checkpoint, while it reads the
    next range: what it reads is the new branch's and must not be applied on top of the old
    branch's blocks (the step is dropped, the next one rolls back)."""
    chain = Chain.from_url(anvil_url, poll_interval=0.05)
    publisher = start_publisher(chain, tmp_path / "batches")
    steps = build_journey(4, packs_per_case=2).steps
    for step in steps[:3]:
        publisher.publish(step.actor, step.events)
    snapshot = rpc(chain, "evm_snapshot")
    for step in steps[3:5]:  # on the branch that will vanish
        publisher.publish(step.actor, step.events)
    service = indexer(publisher, anvil_url, f"sqlite:///{tmp_path}/live.db", tmp_path / "ix")
    service.catch_up()
    publisher.publish(steps[5].actor, steps[5].events)  # the next step has a range to read
    orphaned_head = chain.block_number

    def replace_the_branch() -> None:
        assert rpc(chain, "evm_revert", snapshot) is True
        new_chain = Chain.from_url(anvil_url, poll_interval=0.05)
        publisher.rebind(new_chain)
        if not longer:
            return
        rpc(new_chain, "evm_mine")
        for step in steps[3:7]:  # the same steps again: new salts, new roots, new blocks
            publisher.publish(step.actor, step.events)
        while new_chain.block_number <= orphaned_head:
            rpc(new_chain, "evm_mine")

    tripwire = Tripwire(service.follower.reader)
    service.follower.reader = tripwire  # type: ignore[assignment]
    tripwire.arm(read, replace_the_branch)  # the checkpoint's header was the 1st read
    moved = service.follower.step()
    assert moved.waiting is not None and says in moved.waiting
    assert service.catch_up().reorg_to is not None

    fresh = indexer(publisher, anvil_url, f"sqlite:///{tmp_path}/fresh.db", tmp_path / "fresh")
    fresh.catch_up()
    assert_same_index(service.engine, fresh.engine)
    service.stop()
    fresh.stop()
