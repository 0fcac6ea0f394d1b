"""Following the chain: a verified, restartable mirror of what was anchored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from chain.client import Chain
from indexer.service import IndexerService
from indexer.settings import IndexerSettings
from indexer.sources import BatchContents, FolderBatchSource, InProcessBatchSource
from indexer.store.models import AlertRow, AnchorRow, EventRow, ItemVersionRow, ParticipantRow
from medledger.errors import BatchUnavailableError
from provenance.journey import ACTORS, PHARMACY, Journey, build_journey
from tests.indexer.conftest import IndexerFactory
from tests.support.anchoring import start_publisher
from tests.support.index_compare import assert_same_index
from tests.support.network import Network, start_network

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def network(module_network: Network) -> Network:
    """One gateway for the module: its tests read the one journey with indexers of their own."""
    return module_network


@pytest.fixture(scope="module")
def journey(network: Network) -> Journey:
    """The journey, anchored once for the module (the tests that add to or edit what the
    gateway holds take a gateway of their own: :func:`own_network`)."""
    return network.run_journey()


@pytest.fixture
def own_network(tmp_path: Path) -> Iterator[Network]:
    own = start_network(tmp_path / "own-gateway")
    yield own
    own.gateway.stop()


@pytest.fixture
def make_own_indexer(
    own_network: Network, index_url: str, tmp_path: Path
) -> Iterator[IndexerFactory]:
    """``make_indexer`` on :func:`own_network`."""
    made: list[IndexerService] = []

    def make(**overrides: Any) -> IndexerService:
        made.append(own_network.indexer(index_url, tmp_path / "indexer", **overrides))
        return made[-1]

    yield make
    for service in made:
        service.stop()


def canonical(urn: str) -> str:
    from medledger.epcis.identifiers import canonical_identifier

    return canonical_identifier(urn)


def count(service: IndexerService, model: Any) -> int:
    with service.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def fresh_index(network: Network, tmp_path: Path) -> IndexerService:
    """An index of the final chain built from nothing, to compare against."""
    service = network.indexer(f"sqlite:///{tmp_path}/fresh.db", tmp_path / "fresh")
    service.catch_up()
    return service


def test_it_mirrors_every_anchored_event_and_the_state_they_lead_to(
    indexed: IndexerService, journey: Journey, network: Network
) -> None:
    assert count(indexed, EventRow) == sum(len(s.events) for s in journey.steps)
    assert count(indexed, AnchorRow) == len(journey.steps)
    with indexed.sessions() as session:
        assert set(session.scalars(select(AnchorRow.status))) == {"indexed"}
        assert session.scalar(select(func.count()).select_from(ParticipantRow)) == len(ACTORS) + 1
        pack = session.scalars(
            select(ItemVersionRow).where(
                ItemVersionRow.identifier == canonical(journey.dispensed_pack),
                ItemVersionRow.valid_to.is_(None),
            )
        ).one()
        assert pack.status == "dispensed"
        assert pack.holder == network.addresses[PHARMACY.name]
        others = session.scalars(
            select(ItemVersionRow.status).where(
                ItemVersionRow.identifier.in_([canonical(p) for p in journey.packs[1:]]),
                ItemVersionRow.valid_to.is_(None),
            )
        ).all()
        assert set(others) == {"active"} and len(others) == len(journey.packs) - 1
        assert session.scalars(select(AlertRow)).all() == []
    assert indexed.lag() == 0


def test_a_restarted_indexer_resumes_where_it_was_without_duplicates(
    own_network: Network, make_own_indexer: IndexerFactory, tmp_path: Path
) -> None:
    network, make_indexer = own_network, make_own_indexer
    journey = build_journey(40, packs_per_case=10)
    half = len(journey.steps) // 2
    for step in journey.steps[:half]:
        network.capture(step.actor, step.events)
        network.anchor()
    first = make_indexer()
    first.catch_up()
    first.stop()
    for step in journey.steps[half:]:
        network.capture(step.actor, step.events)
        network.anchor()
    second = make_indexer()
    second.catch_up()
    second.catch_up()  # nothing new: nothing changes
    assert_same_index(second.engine, fresh_index(network, tmp_path).engine)


class CrashingSource:
    """Fails like a killed process on the n-th batch (not a ProvenanceError: nothing handles it)."""

    def __init__(self, inner: InProcessBatchSource, crash_on: int) -> None:
        self.inner = inner
        self.calls = 0
        self.crash_on = crash_on

    def fetch(self, root: bytes) -> BatchContents:
        self.calls += 1
        if self.calls == self.crash_on:
            raise KeyboardInterrupt("killed mid-batch")
        return self.inner.fetch(root)


def test_killed_mid_batch_and_restarted_it_indexes_everything_exactly_once(
    network: Network, journey: Journey, make_indexer: IndexerFactory, tmp_path: Path
) -> None:
    source = CrashingSource(InProcessBatchSource(network.batch_json), crash_on=5)
    crashing = make_indexer(source=source)
    with pytest.raises(KeyboardInterrupt, match="killed mid-batch"):
        crashing.catch_up()
    crashing.stop()
    restarted = make_indexer()
    restarted.catch_up()
    assert_same_index(restarted.engine, fresh_index(network, tmp_path).engine)


class TroubledSource:
    """The network's batches, with troubles: at the ``down``-th fetch the gateway is down for
    now; at the ``failing``-th an error nothing handles (a lost database connection); and from
    then on the ``losing``-th batch fetched is gone for good."""

    def __init__(
        self, inner: InProcessBatchSource, *, down: int = 0, failing: int = 0, losing: int = 0
    ) -> None:
        self.inner = inner
        self.calls = 0
        self.down, self.failing, self.losing = down, failing, losing
        self.roots: list[bytes] = []
        self.lost: bytes | None = None

    def fetch(self, root: bytes) -> BatchContents:
        self.calls += 1
        if root not in self.roots:
            self.roots.append(root)
        if self.calls == self.down:
            raise BatchUnavailableError("gateway down", retryable=True)
        if self.calls == self.failing:
            self.lost = self.roots[self.losing - 1]
            raise RuntimeError("the database connection was lost")
        if root == self.lost:
            raise BatchUnavailableError("no such batch", retryable=False)
        return self.inner.fetch(root)


def test_after_a_step_that_failed_the_same_indexer_goes_on_from_what_was_committed(
    network: Network, journey: Journey, make_indexer: IndexerFactory, tmp_path: Path
) -> None:
    # The participants are committed first (the gateway is down at the first batch). Then a
    # step applies five batches, which leave state the loader keeps between batches and
    # steps, and fails before its commit. Then the fifth batch is gone: the state it left
    # (cases made, packs packed into them) must not be trusted.
    source = TroubledSource(InProcessBatchSource(network.batch_json), down=1, failing=7, losing=5)
    indexer = make_indexer(source=source)
    with pytest.raises(BatchUnavailableError, match="gateway down"):
        indexer.catch_up()
    assert count(indexer, ParticipantRow) == len(ACTORS) + 1
    with pytest.raises(RuntimeError, match="the database connection was lost"):
        indexer.catch_up()
    assert count(indexer, EventRow) == 0  # the step was one range: nothing was committed
    indexer.catch_up()
    fresh_source = TroubledSource(InProcessBatchSource(network.batch_json))
    fresh_source.lost = source.lost
    fresh = network.indexer(
        f"sqlite:///{tmp_path}/fresh.db", tmp_path / "fresh", source=fresh_source
    )
    fresh.catch_up()
    with fresh.sessions() as session:
        assert session.scalar(select(func.count()).where(AlertRow.kind == "batch-unavailable"))
    assert_same_index(indexer.engine, fresh.engine)


class AlteringSource:
    """A gateway that serves its batches altered (one that skips its own integrity checks):
    the dispensing event's location changed."""

    def __init__(self, inner: InProcessBatchSource) -> None:
        self.inner = inner

    def fetch(self, root: bytes) -> BatchContents:
        contents = self.inner.fetch(root)
        entries = []
        for entry in contents.entries:
            if "dispensing" in str(entry.event.get("bizStep")):
                event = {**entry.event, "bizLocation": {"id": "urn:epc:id:sgln:4700789.00000.9"}}
                entry = replace(entry, event=event)
            entries.append(entry)
        return replace(contents, entries=tuple(entries))


def test_a_tampered_batch_raises_an_integrity_alert_and_nothing_of_it_is_indexed(
    network: Network, journey: Journey, make_indexer: IndexerFactory
) -> None:
    service = make_indexer(source=AlteringSource(InProcessBatchSource(network.batch_json)))
    service.catch_up()
    with service.sessions() as session:
        rejected = session.scalars(select(AnchorRow).where(AnchorRow.status == "rejected")).one()
        alert = session.scalars(select(AlertRow).where(AlertRow.kind == "integrity")).one()
        assert alert.severity == "critical"
        assert alert.evidence["root"] == "0x" + rejected.root.hex()
        assert alert.evidence["computedRoot"] != alert.evidence["root"]
        assert alert.evidence["txHash"] == rejected.tx_hash
        assert alert.evidence["submitter"] == network.addresses[PHARMACY.name]
        assert alert.evidence["changedEvents"][0]["computedHash"] is not None
        assert (
            session.scalar(
                select(func.count()).select_from(EventRow).where(EventRow.root == rejected.root)
            )
            == 0
        )
        dispensed = session.scalar(
            select(func.count())
            .select_from(ItemVersionRow)
            .where(ItemVersionRow.status == "dispensed")
        )
        assert dispensed == 0
    other_anchors = count(service, AnchorRow) - 1
    assert other_anchors == len(journey.steps) - 1


def test_a_batch_the_gateway_refuses_as_altered_raises_an_integrity_alert(
    own_network: Network, make_own_indexer: IndexerFactory
) -> None:
    """Edited in the gateway's database: the gateway answers 409 integrity (issue 21) and the
    indexer records the anchor rejected with the gateway's evidence, and goes on."""
    network, make_indexer = own_network, make_own_indexer
    journey = network.run_journey()
    with network.gateway.engine.begin() as conn:
        seq, event_id, raw = conn.execute(
            text("SELECT seq, event_id, raw FROM events WHERE biz_step LIKE '%dispensing%'")
        ).one()
        event = json.loads(raw)
        event["bizLocation"] = {"id": "urn:epc:id:sgln:4700789.00000.9"}  # somewhere else
        conn.execute(
            text("UPDATE events SET raw = :raw WHERE seq = :seq"),
            {"raw": json.dumps(event), "seq": seq},
        )
    service = make_indexer()
    service.catch_up()
    with service.sessions() as session:
        rejected = session.scalars(select(AnchorRow).where(AnchorRow.status == "rejected")).one()
        alert = session.scalars(select(AlertRow).where(AlertRow.kind == "integrity")).one()
        assert alert.severity == "critical"
        assert alert.evidence["root"] == alert.evidence["sourceRoot"] == "0x" + rejected.root.hex()
        assert alert.evidence["rule"] == "integrity.event-altered"
        assert alert.evidence["eventIDs"] == [event_id]
        assert alert.evidence["submitter"] == network.addresses[PHARMACY.name]
        assert (
            session.scalar(
                select(func.count()).select_from(EventRow).where(EventRow.root == rejected.root)
            )
            == 0
        )
    assert count(service, AnchorRow) - 1 == len(journey.steps) - 1


class FlakySource:
    """The gateway is down for the first ``down`` calls."""

    def __init__(self, inner: InProcessBatchSource, down: int) -> None:
        self.inner = inner
        self.down = down

    def fetch(self, root: bytes) -> BatchContents:
        if self.down > 0:
            self.down -= 1
            raise BatchUnavailableError("gateway unreachable", retryable=True)
        return self.inner.fetch(root)


def test_while_the_gateway_is_down_it_waits_before_the_batch_and_then_goes_on(
    network: Network, journey: Journey, make_indexer: IndexerFactory, tmp_path: Path
) -> None:
    service = make_indexer(source=FlakySource(InProcessBatchSource(network.batch_json), down=2))
    first = service.follower.step()
    assert first.waiting is not None
    assert count(service, EventRow) == 0
    service.follower.step()  # still down
    service.catch_up()
    assert_same_index(service.engine, fresh_index(network, tmp_path).engine)


def test_a_batch_nobody_has_is_marked_unavailable_and_indexing_goes_on(
    network: Network, journey: Journey, make_indexer: IndexerFactory
) -> None:
    missing: set[bytes] = set()

    def fetch(root: bytes) -> dict[str, Any] | None:
        if not missing:
            missing.add(root)
        return None if root in missing else network.batch_json(root)

    service = make_indexer(source=InProcessBatchSource(fetch))
    service.catch_up()
    with service.sessions() as session:
        statuses = list(session.scalars(select(AnchorRow.status).order_by(AnchorRow.block_number)))
        kinds = set(session.scalars(select(AlertRow.kind)))
    assert statuses[0] == "unavailable" and set(statuses[1:]) == {"indexed"}
    assert "batch-unavailable" in kinds


def test_batches_prepared_in_worker_processes_index_the_same_as_loaded_inline(
    chain: Chain, index_url: str, tmp_path: Path
) -> None:
    publisher = start_publisher(chain, tmp_path / "batches")
    roots = [
        publisher.publish(s.actor, s.events) for s in build_journey(20, packs_per_case=10).steps
    ]
    tampered = publisher.folder / f"0x{roots[-1].hex()}.json"  # not what was anchored
    document = json.loads(tampered.read_text())
    document["events"][0]["event"]["eventTime"] = "2020-01-01T00:00:00.000Z"
    tampered.write_text(json.dumps(document))

    def indexer(url: str, data: Path, workers: int) -> IndexerService:
        service = IndexerService(
            IndexerSettings(data_dir=data, database_url=url),
            chain=chain,
            deployment=publisher.deployment,
            source=FolderBatchSource(publisher.folder),
        )
        service.follower.loader.workers = workers
        service.follower.loader.parallel_from = 2
        return service

    parallel = indexer(index_url, tmp_path / "parallel", workers=2)
    inline = indexer(f"sqlite:///{tmp_path}/inline.db", tmp_path / "inline", workers=0)
    try:
        assert parallel.catch_up().events == inline.catch_up().events > 0
        assert parallel.follower.loader.timings["hash recompute"] > 0  # prepared by workers
        assert_same_index(parallel.engine, inline.engine)
        assert count(parallel, AlertRow) == 1
    finally:
        parallel.stop()
        inline.stop()
