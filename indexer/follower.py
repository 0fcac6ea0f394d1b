"""Following the chain: bounded ``eth_getLogs`` ranges from a checkpoint, reorg-safe.

One :meth:`Follower.step`:

1. If the checkpoint block's hash is no longer the chain's, a reorganisation happened: walk
   back over the stored block hashes to the newest block the chain still has (the common
   ancestor), undo everything derived from later blocks, and stop (the next step re-reads).
2. Otherwise read the logs of the next range, at most ``block_range`` blocks and no closer to
   the head than ``confirmations``. The header of the range's last block is read before and
   after the logs, and the checkpoint block's after them; if either changed, the chain moved
   under the read (a reorganisation after the check of step 1 would otherwise give another
   branch's blocks to apply on top of this one's) and the step is dropped.
3. Apply the logs in chain order: participants, recalls, and anchored batches (fetched,
   verified against the root, projected). Commit at block boundaries, each commit with the
   checkpoint, so a crash loses at most the uncommitted blocks, which are read again.

A batch whose contents cannot be had *for now* (gateway down) stops the step before its block;
the next step retries from there.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import groupby

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from indexer import detection
from indexer.chainlogs import BlockHeader, ChainLog, LogReader
from indexer.loader import BatchLoader, Prefetch, PreparedBatch
from indexer.store import pending, writes
from indexer.store.models import (
    BlockRow,
    ParticipantChangeRow,
    RecallChangeRow,
    first_sequence_of_block,
)
from medledger.errors import BatchUnavailableError, ChainMovedError, ChainUnavailableError
from servicekit.outage_log import OutageLog

log = logging.getLogger("provenance.indexer")

PARTICIPANT_KINDS = {
    "ParticipantRegistered": "registered",
    "RolesChanged": "roles",
    "ParticipantSuspended": "suspended",
    "ParticipantReinstated": "reinstated",
    "CompanyPrefixesSet": "prefixes",
}
RECALL_KINDS = {
    "BatchRegistered": "registered",
    "Recalled": "recalled",
    "Released": "released",
    "Suspended": "suspended",
    "SuspensionLifted": "lifted",
    "SuspensionEscalated": "escalated",  # a Recalled log follows in the same transaction
}


#: Events loaded (by this follower) after which the bulk tables are analysed (or as many as the
#: index held, if more), then every time that count doubles, up to every
#: :data:`ANALYSE_MAX_EVERY` events.
ANALYSE_FIRST = 20_000
ANALYSE_MAX_EVERY = 500_000
#: Blocks with logs in a range from which their headers are read ahead, all at once.
HEADERS_AHEAD_FROM = 8


@dataclass(frozen=True)
class FollowerPolicy:
    start_block: int = 0
    confirmations: int = 0
    block_range: int = 2000
    commit_every_events: int = 20_000


@dataclass
class StepReport:
    from_block: int | None = None
    to_block: int | None = None  # last block committed
    anchors: int = 0
    events: int = 0
    reorg_to: int | None = None
    waiting: str | None = None  # why the step stopped early
    committed_events: int = 0  # of ``events``, how many are committed

    @property
    def idle(self) -> bool:
        return self.to_block is None and self.reorg_to is None


class Follower:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        reader: LogReader,
        loader: BatchLoader,
        policy: FollowerPolicy,
    ) -> None:
        self.sessions = sessions
        self.reader = reader
        self.loader = loader
        self.policy = policy
        self._stop = threading.Event()
        # Planner statistics are refreshed as the index grows from what it was at start (an
        # index loaded faster than autovacuum analyses would otherwise be planned as empty).
        self._loaded = 0
        self._analyse_at: int | None = None  # set at the first commit, from the index's size
        self._analyser: ThreadPoolExecutor | None = None
        self._analysis: Future[None] | None = None

    # --- one step --------------------------------------------------------------------------

    def step(self) -> StepReport:
        report = StepReport()
        parent: bytes | None = None  # the checkpoint block's hash: the range must follow it
        with self.sessions() as session:
            checkpoint = writes.get_checkpoint(session)
            if checkpoint is not None:
                current = self.reader.header(checkpoint.block_number)
                if current is None or current.hash != checkpoint.block_hash:
                    report.reorg_to = self._roll_back(session)
                    return report
                next_block = checkpoint.block_number + 1
                parent = checkpoint.block_hash
            else:
                next_block = self.policy.start_block
        safe_head = self.reader.head() - self.policy.confirmations
        if next_block > safe_head:
            return report
        last = min(next_block + self.policy.block_range - 1, safe_head)
        try:
            self._read_range(next_block, last, report, parent)
        except ChainMovedError as exc:
            report.waiting = str(exc)
        return report

    def _read_range(
        self, first: int, last: int, report: StepReport, parent: bytes | None = None
    ) -> None:
        end = self._header(last)
        try:
            logs = self.reader.logs(first, last)
        except ChainUnavailableError:
            if self.reader.head() < last:  # a shorter branch now: the node refuses the range
                raise ChainMovedError(f"block {last} is gone") from None
            raise
        if self._header(last).hash != end.hash:
            raise ChainMovedError(f"block {last} changed while its logs were read")
        # The chain may have reorganised since the checkpoint was checked, before ``end`` was
        # read: the range would then be another branch's, never to be applied on this one.
        if parent is not None and self._header(first - 1).hash != parent:
            raise ChainMovedError(f"block {first - 1} changed while the blocks after it were read")
        report.from_block = first
        anchored = [e for e in logs if e.contract == "anchors" and e.name == "Anchored"]
        gas = self.reader.gas_used(anchored) if anchored else {}  # their receipts' gasUsed
        # The batches are fetched and verified ahead (in worker processes on a long range)
        # while earlier blocks are applied; they are still applied one by one, in chain order.
        prefetch = self.loader.prefetch(anchored)
        numbers = sorted({e.block_number for e in logs})
        headers = self.reader.headers(numbers) if len(numbers) >= HEADERS_AHEAD_FROM else {}
        session = self.sessions()
        try:
            pending_events = 0
            for number, block_logs in groupby(logs, key=lambda e: e.block_number):
                entries = list(block_logs)
                header = self._header(number, headers.pop(number, None))
                if any(e.block_hash != header.hash for e in entries):
                    raise ChainMovedError(f"block {number} changed while its logs were read")
                block = session.begin_nested()  # a savepoint: a block is applied whole
                try:
                    prepared = self._prepared(entries, prefetch)
                    try:
                        events = self._apply_block(session, header, entries, report, prepared, gas)
                    except IntegrityError:
                        # an event indexed before, anchored again: apply the block once more,
                        # leaving such events out (the loader checks every event this time)
                        block.rollback()
                        self.loader.forget()
                        block = session.begin_nested()
                        events = self._apply_block(
                            session, header, entries, report, prepared, gas, check_known=True
                        )
                    pending_events += events
                except BatchUnavailableError as exc:
                    block.rollback()
                    self.loader.forget()
                    report.waiting = str(exc)
                    if number > first:
                        self._commit(session, self._header(number - 1), report)
                    # run() logs it when it starts, every 30 s, and when it ends (not every pass)
                    log.debug("waiting for a batch at block %d: %s", number, exc)
                    return
                block.commit()
                if pending_events >= self.policy.commit_every_events:
                    self._commit(session, header, report)
                    pending_events = 0
            self._commit(session, end, report)
        except BaseException:
            # What the loader keeps between batches (participants, current state) holds only
            # what was committed as long as every step ends in a commit: after anything else,
            # it is read from the index again.
            self.loader.forget()
            raise
        finally:
            prefetch.close()
            session.close()

    def _apply_block(
        self,
        session: Session,
        header: BlockHeader,
        entries: list[ChainLog],
        report: StepReport,
        prepared: dict[int, PreparedBatch],
        gas: dict[str, int],
        *,
        check_known: bool = False,
    ) -> int:
        writes.remember_block(session, header)
        events = anchors = 0
        for entry in entries:
            if entry.contract == "participants" and entry.name in PARTICIPANT_KINDS:
                writes.apply_participant_change(session, _participant_change(entry))
                self.loader.forget()
            elif entry.contract == "recalls" and entry.name in RECALL_KINDS:
                writes.apply_recall_change(session, _recall_change(entry))
            elif entry.contract == "anchors" and entry.name == "Anchored":
                loaded = self.loader.apply(
                    session,
                    entry,
                    header.timestamp,
                    prepared[entry.log_index],
                    check_known=check_known,
                    gas_used=gas.get(entry.tx_hash),
                )
                events += loaded.events
                anchors += 1
        report.anchors += anchors
        report.events += events
        return events

    @staticmethod
    def _prepared(entries: list[ChainLog], prefetch: Prefetch) -> dict[int, PreparedBatch]:
        """The block's prepared batches, by log index."""
        return {
            e.log_index: prefetch.get(e)
            for e in entries
            if e.contract == "anchors" and e.name == "Anchored"
        }

    def _commit(self, session: Session, header: BlockHeader, report: StepReport) -> None:
        writes.set_checkpoint(session, header)
        session.commit()
        self._loaded += report.events - report.committed_events
        report.committed_events = report.events
        report.to_block = header.number
        if self._analyse_at is None:
            # an index that is already large is analysed by autovacuum as it grows: only a
            # follower that doubles it (a catch-up) analyses, never one in steady state
            self._analyse_at = max(ANALYSE_FIRST, writes.indexed_events_estimate(session))
        if self._loaded >= self._analyse_at and self._analysing_done():
            # on its own connection, beside the follower (it locks out no writer)
            self._analyser = self._analyser or ThreadPoolExecutor(1, "indexer-analyse")
            self._analysis = self._analyser.submit(self._analyse)
            self._analyse_at = self._loaded + min(self._loaded, ANALYSE_MAX_EVERY)

    def _analysing_done(self) -> bool:
        return self._analysis is None or self._analysis.done()

    def _analyse(self) -> None:
        try:
            with self.sessions() as session:
                writes.refresh_statistics(session)
                session.commit()
        except Exception:  # noqa: BLE001 - statistics are an optimisation: log, go on
            log.exception("refreshing the planner's statistics failed")

    def _header(self, number: int, ahead: BlockHeader | None = None) -> BlockHeader:
        """Block ``number``'s header: ``ahead`` (read with the range's others), or read now."""
        header = self.reader.header(number) if ahead is None else ahead
        if header is None:
            raise ChainMovedError(f"block {number} is gone")
        return header

    # --- reorganisations -------------------------------------------------------------------

    def _roll_back(self, session: Session) -> int:
        ancestor = self._common_ancestor(session)
        log.warning("chain reorganisation: rolling back to block %d", ancestor.number)
        self.loader.forget()
        writes.rollback_to(session, ancestor, first_sequence_of_block(ancestor.number + 1))
        session.commit()
        return ancestor.number

    def _common_ancestor(self, session: Session) -> BlockHeader:
        for row in _stored_blocks_newest_first(session):
            header = self.reader.header(row.number)
            if header is not None and header.hash == row.hash:
                return header
        start = max(self.policy.start_block - 1, 0)
        return self._header(start)

    # --- running ---------------------------------------------------------------------------

    def run(self, poll_interval: float = 0.5) -> None:
        """Step until :meth:`stop`; sleeps only when caught up or the chain is unreachable."""
        try:
            self.loader.start_workers()
            self._run(poll_interval)
        finally:
            self.close()

    def _run(self, poll_interval: float) -> None:
        # Failures are retried every pass and logged on change (servicekit/outage_log.py): when a
        # task starts failing, every 30 s while it fails, and when it recovers.
        following = OutageLog(log, "following the chain")
        settling = OutageLog(log, "settling held-back events")
        sweeping = OutageLog(log, "the expiry sweep")
        loading = OutageLog(log, "loading a batch")
        while not self._stop.is_set():
            try:
                report = self.step()
            except Exception as exc:  # noqa: BLE001 - the follower must not die: retried
                following.failure(exc)
                self._stop.wait(poll_interval)
                continue
            following.success()
            if report.waiting:
                loading.failure(report.waiting)
            else:
                loading.success()
            if report.idle or report.waiting:
                try:
                    self.settle()
                except Exception as exc:  # noqa: BLE001 - retried at the next idle pass
                    settling.failure(exc)
                else:
                    settling.success()
                try:
                    detection.maybe_sweep(
                        self.sessions, self.loader.detection_config
                    )  # expiry: by date, when caught up
                except Exception as exc:  # noqa: BLE001 - retried at the next idle pass
                    sweeping.failure(exc)
                else:
                    sweeping.success()
                self._stop.wait(poll_interval)

    def settle(self, now: float | None = None) -> int:
        """Judge held-back events whose settle window has passed by ``now`` (default: the
        clock, or the checkpoint block's time if the chain's clock runs ahead) while no batch
        arrives to do it; recorded at the checkpoint's block."""
        with self.sessions() as session:
            checkpoint = writes.get_checkpoint(session)
            if checkpoint is None or not pending.any_open(session):
                return 0
            if now is None:
                header = self.reader.header(checkpoint.block_number)
                now = max(time.time(), header.timestamp if header is not None else 0)
            when = int(now)
            settled = self.loader.settle(session, checkpoint.block_number, when)
            if settled:
                session.commit()
            return settled

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        """Stop the helper processes and threads (started again when needed)."""
        self.loader.close()
        if self._analyser is not None:
            self._analyser.shutdown(wait=True)
            self._analyser = None
            self._analysis = None

    def catch_up(self, max_steps: int = 10_000) -> StepReport:
        """Step until idle (tests, the demo): the sum of the steps."""
        try:
            return self._catch_up(max_steps)
        finally:
            self.close()

    def _catch_up(self, max_steps: int) -> StepReport:
        total = StepReport()
        for _ in range(max_steps):
            report = self.step()
            if report.waiting:
                raise BatchUnavailableError(report.waiting, retryable=True)
            if report.idle:
                self.settle()
                return total
            total.anchors += report.anchors
            total.events += report.events
            total.to_block = report.to_block or total.to_block
            total.reorg_to = report.reorg_to if report.reorg_to is not None else total.reorg_to
        return total


def _stored_blocks_newest_first(session: Session) -> Iterator[BlockRow]:
    yield from session.scalars(select(BlockRow).order_by(BlockRow.number.desc()))


def _participant_change(entry: ChainLog) -> ParticipantChangeRow:
    kind = PARTICIPANT_KINDS[entry.name]
    args = entry.args
    gln = args.get("gln")
    return ParticipantChangeRow(
        block_number=entry.block_number,
        log_index=entry.log_index,
        address=str(args["account"]),
        kind=kind,
        roles=int(args["roles"]) if "roles" in args else None,
        gln=f"{int(gln):013d}" if gln is not None else None,
        tx_hash=entry.tx_hash,
        prefixes=" ".join(str(p) for p in args["prefixes"]) if "prefixes" in args else None,
    )


def _recall_change(entry: ChainLog) -> RecallChangeRow:
    args = entry.args
    by = args.get("manufacturer") or args.get("by")
    return RecallChangeRow(
        block_number=entry.block_number,
        log_index=entry.log_index,
        kind=RECALL_KINDS[entry.name],
        gtin=f"{int(args['gtin']):014d}",
        lot=str(args["lot"]),
        reason_code=int(args["reasonCode"]) if "reasonCode" in args else None,
        by=str(by),
        tx_hash=entry.tx_hash,
        packs=int(args["packs"]) if "packs" in args else None,
        case_number=str(args["caseNumber"]) if "caseNumber" in args else None,
    )
