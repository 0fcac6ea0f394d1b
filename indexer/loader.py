"""Loading one anchored batch: fetch, verify against the chain, project, write.

Only a batch whose recomputed root and submitter match its ``Anchored`` log is indexed; any
other gets an ``integrity`` alert with the evidence and nothing of it is indexed.

Loading is two halves. :func:`prepare_batch` needs no database: it fetches the contents,
recomputes every event hash and the root, normalises the events and builds their rows; it may
run ahead, in worker processes (:class:`Prefetch`). :meth:`BatchLoader.apply` then does, in
chain order on the follower's session, what depends on the index: events already indexed,
alerts, the custody projection over the stored state, and the writes.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import pickle
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from indexer import detection
from indexer.chainlogs import ChainLog
from indexer.detection import shortage
from indexer.event_rows import (
    Row,
    event_line,
    event_row,
    ilmd_lines,
    ilmd_rows,
    item_lines,
    item_rows,
)
from indexer.masterdata_authority import authorised
from indexer.projection import EventContext, Projector, SeqSlots, restricted
from indexer.sources import KIND_DECLARATION, KIND_MASTERDATA, BatchSource
from indexer.store import pending, supply, tallies, undo, writes
from indexer.store.models import AnchorRow, EventRow, sequence
from indexer.store.state import SqlStateReader, StateCache, key_groups, keyed, read_registry
from indexer.verification import (
    AnchorFacts,
    IntegrityFailure,
    VerifiedEvent,
    refused_evidence,
    verify_batch,
)
from medledger.custody.transition import recorded_operation
from medledger.epcis.error_declaration import read_declaration
from medledger.epcis.event_id import EventId
from medledger.epcis.normalise import NormalisedEvent, normalise_event
from medledger.epcis.terms import Vocabulary, default_vocabulary
from medledger.errors import BatchRefusedError, BatchUnavailableError, ValidationError
from medledger.masterdata.record import read_record
from medledger.masterdata.views import location, product
from medledger.masterdata.vocabulary import KIND_LOCATION
from servicekit import lifeline
from servicekit.sql.helpers import driver_connection

log = logging.getLogger("provenance.indexer")


@dataclass(frozen=True)
class LoadResult:
    status: str  # indexed, rejected, unavailable
    events: int


def anchor_facts(entry: ChainLog) -> AnchorFacts:
    return AnchorFacts(
        root=bytes(entry.args["root"]),
        submitter=str(entry.args["submitter"]),
        event_count=int(entry.args["eventCount"]),
        tx_hash=entry.tx_hash,
        block_number=entry.block_number,
    )


def changes_custody(ev: NormalisedEvent) -> bool:
    """Whether :meth:`indexer.projection.Projector.apply` can do anything with ``ev``
    (observations, the bulk of the traffic, cannot: they are history only)."""
    return recorded_operation(ev) is not None


@dataclass
class PreparedBatch:
    """One batch, fetched and verified, with everything that does not depend on the index.

    ``outcome``: ``verified``, ``rejected`` (``failure`` says why), ``unavailable`` (for good:
    ``reason``) or ``retry`` (for now: ``reason``). Per position of a verified batch: the
    recomputed hash; the event row and its item rows, as tuples or (``copy_lines``) as
    ``COPY`` text (:mod:`indexer.store.copy_text`), or why the event is unreadable; and (only
    for events that can change custody) the normalised event.
    """

    outcome: str
    reason: str = ""
    failure: IntegrityFailure | None = None
    hashes: list[bytes] = field(default_factory=list)
    rows: list[Row | None] = field(default_factory=list)
    items: list[list[Row]] = field(default_factory=list)
    lines: list[bytes] = field(default_factory=list)
    item_lines: list[bytes] = field(default_factory=list)
    unreadable: dict[int, str] = field(default_factory=dict)
    custody: dict[int, NormalisedEvent] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    #: the error declarations among the leaves, by position: their ``ix_error_declarations``
    #: rows (the placeholders at their positions above are empty)
    declarations: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: the master data records among the leaves, by position: their ``ix_masterdata`` rows
    masterdata: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: the ``ix_event_ilmd`` rows of the events with ILMD fields, by position
    ilmd: dict[int, list[Row]] = field(default_factory=dict)
    #: per position of a readable event: where it is counted (indexer/store/tallies.py)
    tally_keys: dict[int, tallies.EventKey] = field(default_factory=dict)


def _add(timings: dict[str, float], stage: str, since: float) -> float:
    now = time.perf_counter()
    timings[stage] = timings.get(stage, 0.0) + now - since
    return now


def prepare_batch(
    source: BatchSource,
    facts: AnchorFacts,
    log_index: int,
    vocabulary: Vocabulary | None = None,
    *,
    copy_lines: bool = False,
) -> PreparedBatch:
    """Fetch, verify and normalise the batch of one ``Anchored`` log (no database); rows as
    ``COPY`` text if ``copy_lines`` (for PostgreSQL)."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    try:
        contents = source.fetch(facts.root)
    except BatchRefusedError as exc:  # the gateway says it cannot prove it: an integrity alert
        failure = IntegrityFailure("refused-by-source", refused_evidence(facts, exc.evidence))
        return PreparedBatch("rejected", reason=str(exc), failure=failure)
    except BatchUnavailableError as exc:
        return PreparedBatch("retry" if exc.retryable else "unavailable", reason=str(exc))
    started = _add(timings, "fetch + parse", started)
    verified = verify_batch(facts, contents, timings)
    if isinstance(verified, IntegrityFailure):
        return PreparedBatch("rejected", failure=verified, timings=timings)
    started = time.perf_counter()
    vocabulary = vocabulary or _vocabulary()
    out = PreparedBatch("verified", timings=timings)
    for v in verified:
        seq = sequence(facts.block_number, log_index, v.position)
        out.hashes.append(v.event_hash)
        if v.kind in (KIND_DECLARATION, KIND_MASTERDATA):
            if copy_lines:
                out.lines.append(b"")
                out.item_lines.append(b"")
            else:
                out.rows.append(None)
                out.items.append([])
            try:
                if v.kind == KIND_DECLARATION:
                    out.declarations[v.position] = declaration_row(v, seq, facts)
                else:
                    out.masterdata[v.position] = masterdata_row(v, seq, facts)
            except (ValidationError, ValueError, TypeError, KeyError, AttributeError) as exc:
                out.unreadable[v.position] = str(exc)
            continue
        try:
            ev = normalise_event(v.event, v.position, vocabulary)
        except (ValidationError, ValueError, TypeError, KeyError, AttributeError) as exc:
            out.unreadable[v.position] = str(exc)
            if copy_lines:
                out.lines.append(b"")
                out.item_lines.append(b"")
            else:
                out.rows.append(None)
                out.items.append([])
            continue
        row = event_row(ev, v.event_hash, v.salt, v.event, seq, facts)
        items = item_rows(ev, v.event_hash, seq, facts.block_number)
        ilmd = ilmd_rows(v.event, seq, facts.block_number)
        if ilmd:
            out.ilmd[v.position] = ilmd
        out.tally_keys[v.position] = tallies.event_key(ev.event_time, ev.biz_step)
        if copy_lines:
            out.lines.append(event_line(row))
            out.item_lines.append(item_lines(items))
        else:
            out.rows.append(row)
            out.items.append(items)
        if changes_custody(ev):
            out.custody[v.position] = ev
    _add(timings, "normalise + rows", started)
    return out


def declaration_row(v: VerifiedEvent, seq: int, facts: AnchorFacts) -> dict[str, Any]:
    """The ``ix_error_declarations`` row of a verified declaration leaf."""
    declared = read_declaration(v.event)
    return {
        "declaration_hash": v.event_hash,
        "seq": seq,
        "block_number": facts.block_number,
        "root": facts.root,
        "declared_by": facts.submitter,
        "event_hash": EventId.parse_uri(declared.event_id).digest,
        "declaration_time": declared.declaration_time,
        "reason": declared.reason,
        "corrective_ids": list(declared.corrective_event_ids),
        "salt": v.salt,
        "raw": json.dumps(v.event, separators=(",", ":"), ensure_ascii=False),
    }


def masterdata_row(v: VerifiedEvent, seq: int, facts: AnchorFacts) -> dict[str, Any]:
    """The ``ix_masterdata`` row of a verified master data leaf."""
    record = read_record(v.event)
    name: str | None
    region: str | None = None
    if record.kind == KIND_LOCATION:
        place = location(record)
        name, region = place.name, place.region
    else:
        name = product(record).name
    return {
        "record_hash": v.event_hash,
        "seq": seq,
        "block_number": facts.block_number,
        "root": facts.root,
        "declared_by": facts.submitter,
        "kind": record.kind,
        "vocabulary_type": record.vocabulary_type,
        "element_id": record.element_id,
        "effective_time": record.effective_time,
        "name": name[:512] if name else None,
        "region": region,
        "salt": v.salt,
        "raw": json.dumps(v.event, separators=(",", ":"), ensure_ascii=False),
    }


_VOCABULARY: Vocabulary | None = None


def _vocabulary() -> Vocabulary:
    global _VOCABULARY
    if _VOCABULARY is None:
        _VOCABULARY = default_vocabulary()
    return _VOCABULARY


WORKER_NICENESS = 5


def _lower_priority() -> None:
    """Workers yield the CPU to the follower's ordered thread and the database, which are the
    catch-up's critical path; they are ahead (``ahead`` batches) and fill the gaps. They end
    with the indexer, however it ends (servicekit/lifeline.py)."""
    lifeline.follow_parent()
    try:
        os.nice(WORKER_NICENESS)
    except OSError:  # not permitted here: run at the same priority
        pass


def _ready() -> None:
    """Nothing: a worker that runs it has imported this module and what it needs."""


def _prepare_in_worker(
    source: BatchSource, facts: AnchorFacts, log_index: int, copy_lines: bool
) -> bytes:
    """The prepared batch, pickled: it waits for the follower as one byte string, which the
    cyclic garbage collector neither tracks nor promotes, and becomes objects only when the
    follower takes it (unpickled as the pool's result, a batch's thousands of objects waited
    in memory through many collections and were all promoted to the oldest generation: a
    full collection every two seconds, see :mod:`servicekit.gc_policy`)."""
    prepared = prepare_batch(source, facts, log_index, copy_lines=copy_lines)
    return pickle.dumps(prepared, protocol=pickle.HIGHEST_PROTOCOL)


@dataclass
class _Chosen:
    """What of a prepared batch is indexed: rows (or ``COPY`` lines) of the events not indexed
    before, and why the others are not."""

    events: list[Row] = field(default_factory=list)
    items: list[Row] = field(default_factory=list)
    event_lines: list[bytes] = field(default_factory=list)
    item_lines: list[bytes] = field(default_factory=list)
    custody: list[tuple[NormalisedEvent, EventContext]] = field(default_factory=list)
    repeated: list[bytes] = field(default_factory=list)
    unreadable: list[tuple[bytes, str]] = field(default_factory=list)
    declarations: list[dict[str, Any]] = field(default_factory=list)
    masterdata: list[dict[str, Any]] = field(default_factory=list)
    ilmd: list[Row] = field(default_factory=list)
    #: the chosen events, counted by day and business step (indexer/store/tallies.py)
    counts: Counter[tallies.EventKey] = field(default_factory=Counter)

    def insert(self, session: Session) -> None:
        if self.event_lines:
            lines, item_lines = b"".join(self.event_lines), b"".join(self.item_lines)
            writes.insert_event_lines(
                driver_connection(session), lines, item_lines, ilmd_lines(self.ilmd)
            )
        else:
            writes.insert_events(session, self.events, self.items, self.ilmd)


def _choose(
    prepared: PreparedBatch, facts: AnchorFacts, log_index: int, known: set[bytes]
) -> _Chosen:
    """The events of ``prepared`` to index: readable, not in ``known`` (indexed from another
    batch), each once (a batch may name an event twice)."""
    out = _Chosen()
    seen: set[bytes] = set()
    as_lines = bool(prepared.lines)
    for position, event_hash in enumerate(prepared.hashes):
        declaration = prepared.declarations.get(position)
        if declaration is not None:
            out.declarations.append(declaration)
            continue
        record = prepared.masterdata.get(position)
        if record is not None:
            out.masterdata.append(record)
            continue
        if event_hash in known or event_hash in seen:
            out.repeated.append(event_hash)
            continue
        reason = prepared.unreadable.get(position)
        if reason is not None:
            out.unreadable.append((event_hash, reason))
            continue
        seen.add(event_hash)
        out.counts[prepared.tally_keys[position]] += 1
        if as_lines:
            out.event_lines.append(prepared.lines[position])
            out.item_lines.append(prepared.item_lines[position])
        else:
            row = prepared.rows[position]
            assert row is not None
            out.events.append(row)
            out.items.extend(prepared.items[position])
        out.ilmd.extend(prepared.ilmd.get(position, ()))
        ev = prepared.custody.get(position)
        if ev is not None:
            seq = sequence(facts.block_number, log_index, position)
            out.custody.append((ev, EventContext(event_hash, seq, facts.submitter)))
    return out


class Prefetch:
    """Prepared batches of a run of ``Anchored`` logs, in their order.

    With a pool, up to ``ahead`` batches are prepared in worker processes while the caller
    applies earlier ones; without, each is prepared when asked for (as if loaded inline).
    """

    def __init__(
        self,
        loader: BatchLoader,
        entries: Sequence[ChainLog],
        pool: ProcessPoolExecutor | None,
        ahead: int,
    ) -> None:
        self.loader = loader
        self.pool = pool
        self.ahead = ahead
        self._waiting = deque(entries)
        self._running: dict[tuple[int, int], Future[bytes]] = {}
        self._fill()

    def _fill(self) -> None:
        while self.pool is not None and self._waiting and len(self._running) < self.ahead:
            entry = self._waiting.popleft()
            self._running[(entry.block_number, entry.log_index)] = self.pool.submit(
                _prepare_in_worker,
                self.loader.source,
                anchor_facts(entry),
                entry.log_index,
                self.loader.copy_lines,
            )

    def get(self, entry: ChainLog) -> PreparedBatch:
        future = self._running.pop((entry.block_number, entry.log_index), None)
        if future is None:
            if self._waiting and self._waiting[0] is entry:
                self._waiting.popleft()
            return prepare_batch(
                self.loader.source,
                anchor_facts(entry),
                entry.log_index,
                self.loader.vocabulary,
                copy_lines=self.loader.copy_lines,
            )
        started = time.perf_counter()
        pickled = future.result()
        started = _add(self.loader.timings, "waiting for workers", started)
        self._fill()
        prepared: PreparedBatch = pickle.loads(pickled)
        _add(self.loader.timings, "unpickling", started)
        return prepared

    def close(self) -> None:
        for future in self._running.values():
            future.cancel()
        self._running.clear()
        self._waiting.clear()


class BatchLoader:
    """Loads the batches of ``Anchored`` logs into the index.

    ``workers``: processes that prepare batches ahead of the follower when a step has at least
    ``parallel_from`` batches to load and the source can be sent to a process (it pickles);
    0 prepares every batch inline. ``copy_lines``: prepare rows as ``COPY`` text (the index is
    on PostgreSQL). ``timings`` adds up seconds per stage (for benchmarks).
    """

    def __init__(
        self,
        source: BatchSource,
        *,
        detection_config: detection.DetectionConfig | None = None,
        workers: int = 2,
        parallel_from: int = 4,
        ahead: int = 12,
        copy_lines: bool = False,
    ) -> None:
        self.source = source
        self.copy_lines = copy_lines
        self.detection_config = detection_config or detection.DetectionConfig()
        self.vocabulary = default_vocabulary()
        self.workers = workers
        self.parallel_from = parallel_from
        self.ahead = ahead
        self.timings: dict[str, float] = {}
        self._pool: ProcessPoolExecutor | None = None
        self._picklable: bool | None = None
        # What the loader knows of the index between batches (it is the only writer of both
        # while the follower runs); dropped by forget() whenever that may no longer hold.
        self._registry: dict[str, tuple[int, str]] | None = None
        self._any_pending: bool | None = None
        self._state = StateCache()
        self._inserter: ThreadPoolExecutor | None = None

    # --- preparing ---------------------------------------------------------------------------

    def prefetch(self, entries: Sequence[ChainLog]) -> Prefetch:
        """Start preparing the batches of ``entries`` (``Anchored`` logs in chain order)."""
        pool = self._worker_pool() if len(entries) >= self.parallel_from else None
        return Prefetch(self, entries, pool, self.ahead)

    def _worker_pool(self) -> ProcessPoolExecutor | None:
        if self.workers <= 0:
            return None
        if self._picklable is None:
            try:
                pickle.dumps(self.source)
                self._picklable = True
            except Exception:  # noqa: BLE001 - anything a source holds may refuse to pickle
                self._picklable = False
        if not self._picklable:
            return None
        if self._pool is None:
            # forkserver: workers never inherit the follower's threads, locks or connections
            context = multiprocessing.get_context("forkserver")
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=context, initializer=_lower_priority
            )
        return self._pool

    def start_workers(self) -> None:
        """Start the worker processes now, in the background, rather than at the first range
        long enough to need them: a worker imports the indexer (about a second of CPU) before it
        prepares anything, and a follower in steady state would otherwise wait for that, with
        every block mined meanwhile, the first time a few batches arrive at once."""
        pool = self._worker_pool()
        if pool is not None:
            for _ in range(self.workers):
                pool.submit(_ready)

    def close(self) -> None:
        """Stop the worker processes (they are started again when needed)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._inserter is not None:
            self._inserter.shutdown(wait=True)
            self._inserter = None

    # --- what is known between batches --------------------------------------------------------

    def forget(self) -> None:
        """Read participants, held-back events and current state from the index again (the
        follower calls this when a step fails, a block is rolled back, the chain reorganised
        or a participant changes)."""
        self._registry = None
        self._any_pending = None
        self._state.clear()

    def _participants(self, session: Session) -> dict[str, tuple[int, str]]:
        if self._registry is None:
            self._registry = read_registry(session)
        return self._registry

    def _pending_open(self, session: Session) -> bool:
        if self._any_pending is None:
            self._any_pending = pending.any_open(session)
        return self._any_pending

    def _insert(self, session: Session, chosen: _Chosen) -> Callable[[], None]:
        """Start inserting the chosen event and item rows; the returned call waits for the
        insert (raising what it raised).

        ``COPY`` text (PostgreSQL) goes in on another thread, on the session's own driver
        connection (so in its transaction): nothing else may use the session until the
        returned call has returned. Rows (SQLite) go in at once."""
        if not chosen.event_lines:
            chosen.insert(session)
            return lambda: None
        connection = driver_connection(session)
        if self._inserter is None:
            self._inserter = ThreadPoolExecutor(1, thread_name_prefix="indexer-insert")
        future = self._inserter.submit(
            writes.insert_event_lines,
            connection,
            b"".join(chosen.event_lines),
            b"".join(chosen.item_lines),
            ilmd_lines(chosen.ilmd),
        )
        return future.result

    # --- loading -----------------------------------------------------------------------------

    def apply(
        self,
        session: Session,
        entry: ChainLog,
        block_timestamp: int,
        prepared: PreparedBatch,
        *,
        check_known: bool = False,
        gas_used: int | None = None,
    ) -> LoadResult:
        """Index a prepared batch (raises retryable unavailability); ``gas_used``: its
        anchoring transaction's, from the receipt (None: not read).

        Its events are inserted as they are: one indexed before (from another batch) makes
        the insert raise :class:`~sqlalchemy.exc.IntegrityError`; the caller rolls back and
        applies again with ``check_known``, which leaves such events out (an event anchored
        twice is rare, and the primary key finds it anyway)."""
        if prepared.outcome == "retry":
            raise BatchUnavailableError(prepared.reason, retryable=True)
        for stage, seconds in prepared.timings.items():
            self.timings[stage] = self.timings.get(stage, 0.0) + seconds
        facts = anchor_facts(entry)
        anchor = AnchorRow(
            root=facts.root,
            submitter=facts.submitter,
            relayer=str(entry.args["relayer"]),
            event_count=facts.event_count,
            metadata_hash=bytes(entry.args["metadataHash"]),
            tx_hash=facts.tx_hash,
            block_number=facts.block_number,
            log_index=entry.log_index,
            block_timestamp=block_timestamp,
            status="indexed",
            gas_used=gas_used,
        )
        if prepared.outcome == "unavailable":
            anchor.status = "unavailable"
            writes.add_anchor(session, anchor)
            self._alert(session, facts, "batch-unavailable", "warning", prepared.reason, {})
            return LoadResult("unavailable", 0)
        if prepared.failure is not None:
            failure = prepared.failure
            anchor.status = "rejected"
            writes.add_anchor(session, anchor)
            self._alert(
                session,
                facts,
                "integrity",
                "critical",
                prepared.reason
                or f"batch 0x{facts.root.hex()} does not match its anchor: {failure.reason}",
                failure.evidence,
            )
            log.warning("integrity alert for batch 0x%s: %s", facts.root.hex(), failure.reason)
            return LoadResult("rejected", 0)
        writes.add_anchor(session, anchor)
        indexed = self._index(
            session, facts, entry.log_index, block_timestamp, prepared, check_known
        )
        return LoadResult("indexed", indexed)

    def _index(
        self,
        session: Session,
        facts: AnchorFacts,
        log_index: int,
        block_timestamp: int,
        prepared: PreparedBatch,
        check_known: bool,
    ) -> int:
        started = time.perf_counter()
        known = self._known(session, prepared.hashes) if check_known else set()
        chosen = _choose(prepared, facts, log_index, known)
        for event_hash in chosen.repeated:
            self._alert(
                session,
                facts,
                "anchored-twice",
                "info",
                f"event 0x{event_hash.hex()} was already indexed from another batch",
                {"eventHash": "0x" + event_hash.hex()},
                key=event_hash.hex(),
            )
        for event_hash, reason in chosen.unreadable:
            self._alert(
                session,
                facts,
                "unreadable-event",
                "warning",
                f"event 0x{event_hash.hex()} is anchored but not readable: {reason}",
                {"eventHash": "0x" + event_hash.hex()},
                key=event_hash.hex(),
            )
        custody = chosen.custody
        started = _add(self.timings, "choosing events", started)
        # The state the batch's custody events touch does not depend on its event rows: read
        # it first, then insert the rows while the projection runs.
        waiting = self._pending_open(session)
        due = pending.due(session, block_timestamp) if waiting else []
        reader = SqlStateReader(session, self._participants(session), self._state)
        projector = Projector(
            reader,
            [ev for ev, _ in custody] + [restricted(p.event, p.held.identifier) for p in due],
            with_pending=waiting,
            behind=self._behind,
        )
        custody = projector.bound_times(custody, self._not_after(block_timestamp))
        started = _add(self.timings, "SQL: stored state", started)
        inserted = self._insert(session, chosen)
        reader.before_read = inserted  # a read the projection needs waits for the insert
        try:
            for ev, ctx in custody:
                projector.apply(ev, ctx)
            if waiting:
                # after the batch's own events, in the positions after them (SeqSlots)
                slots = SeqSlots(
                    sequence(facts.block_number, log_index, len(prepared.hashes)),
                    sequence(facts.block_number, log_index + 1, 0),
                )
                projector.retry(slots)
                projector.settle(due, slots)
                projector.retry(slots)
            started = _add(self.timings, "custody projection", started)
        finally:
            reader.before_read = None
            inserted()  # raises what the insert raised (an event indexed before)
        tallies.add_events(session, facts.block_number, chosen.counts)
        declared = writes.insert_declarations(session, chosen.declarations)
        writes.insert_masterdata(session, authorised(session, chosen.masterdata))
        started = _add(self.timings, "SQL: events and items (waited for)", started)
        self._write(session, projector, facts.block_number, block_timestamp, custody)
        self._state.absorb(projector)
        undone: set[tuple[str, str]] = set()
        if declared and undo.undo_declared(session, declared, undone):
            self._state.clear()  # items went back to earlier states behind the cache
            shortage.evaluate(session, facts.block_number, undone, self.detection_config)
        return len(prepared.hashes) - len(chosen.repeated) - len(chosen.unreadable)

    def settle(self, session: Session, block_number: int, now: int) -> int:
        """Judge the held-back events whose settle window has passed by ``now`` (unix time)
        while no batch arrives (the follower, idle at ``block_number``); how many."""
        self.forget()  # another transaction than the last step's
        if not pending.any_open(session):
            return 0
        due = pending.due(session, now)
        if not due:
            return 0
        events = [restricted(p.event, p.held.identifier) for p in due]
        projector = Projector(
            SqlStateReader(session, self._participants(session)), events, behind=self._behind
        )
        end = sequence(block_number + 1, 0, 0)
        slots = SeqSlots(writes.last_sequence(session, block_number, end) + 1, end)
        projector.settle(due, slots)
        projector.retry(slots)
        self._write(session, projector, block_number, now, [])
        return len(projector.out.resolved)

    @property
    def _behind(self) -> timedelta:
        return timedelta(seconds=self.detection_config.event_time_behind_seconds)

    def _not_after(self, block_timestamp: int) -> datetime:
        """The latest eventTime a block at ``block_timestamp`` can anchor as a fact."""
        ahead = self.detection_config.event_time_ahead_seconds
        return datetime.fromtimestamp(block_timestamp + ahead, UTC)

    def _write(
        self,
        session: Session,
        projector: Projector,
        block_number: int,
        block_timestamp: int,
        custody: list[tuple[NormalisedEvent, EventContext]],
    ) -> None:
        started = time.perf_counter()
        out = projector.out
        writes.write_projection(session, out, block_number)
        window = self.detection_config.settle_seconds
        pending.write(session, out, block_number, block_timestamp + window)
        if out.held:
            self._any_pending = True
        elif out.resolved:
            self._any_pending = None  # perhaps none left: ask again
        started = _add(self.timings, "SQL: versions and lots", started)
        judged = custody + out.replayed
        detection.detect(
            session,
            block_number,
            judged,
            out,
            self.detection_config,
            registry=self._participants(session),
        )
        started = _add(self.timings, "alerts", started)
        changed = supply.account(
            session, block_number, supply.steps_of(out), self._participants(session)
        )
        shortage.evaluate(session, block_number, changed, self.detection_config)
        _add(self.timings, "supply", started)

    @staticmethod
    def _known(session: Session, hashes: list[bytes]) -> set[bytes]:
        out: set[bytes] = set()
        for part in key_groups(session, hashes):
            query = select(EventRow.event_hash)
            out.update(session.scalars(keyed(session, query, EventRow.event_hash, part)))
        return out

    @staticmethod
    def _alert(
        session: Session,
        facts: AnchorFacts,
        kind: str,
        severity: str,
        message: str,
        evidence: dict[str, Any],
        *,
        subject: str | None = None,
        key: str = "",
    ) -> None:
        writes.add_alert(
            session,
            kind=kind,
            severity=severity,
            block_number=facts.block_number,
            subject=subject,
            message=message,
            evidence={
                "root": "0x" + facts.root.hex(),
                "txHash": facts.tx_hash,
                "blockNumber": facts.block_number,
                "submitter": facts.submitter,
                **evidence,
            },
            key_parts=(facts.root.hex(), key),
        )
