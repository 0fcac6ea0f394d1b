"""The batcher: seals batches, anchors their roots signed as their participant, records the result.

Each batch moves ``sealed → sent → anchored`` in SQL, one commit per step, so a restart at any
point resumes without losing or double-anchoring a batch:

- **sealed**: the tree is rebuilt from the stored ``(event_hash, salt)`` values (deterministic),
  and the chain is asked first whether the root is already anchored (the process may have
  stopped after sending but before recording ``sent``): if so, the batch is marked anchored;
  otherwise the anchor transaction is sent and the batch marked ``sent`` with its hash and nonce.
  A root found anchored is recorded with the transaction its ``Anchored`` log names (a successful
  one), never a guess; anchored batches stored without it are healed on the first pass.
- **sent**: the transaction's receipt decides; a root found anchored by its participant also
  settles it. A transaction still unmined after ``resend_after_seconds`` is re-sent with the same
  nonce (never fee-bumped: permissioned chains run at zero gas price); one the node no longer
  knows at all (neither mined nor pending: its block vanished in a reorganisation and the node
  did not return it to its pool) is re-sent after ``lost_after_seconds`` already, since every
  later anchor of the account waits behind its nonce.
- A root can be anchored only once on-chain, so even a duplicate transaction cannot
  double-anchor a batch; it reverts with ``RootAlreadyAnchored`` (or its gas estimate does) and
  the batch settles as above, from the chain's log: a root on chain never parks a batch in
  ``failed``.
- ``anchored`` is recorded with the transaction hash, block number and block hash, and only once
  the block has ``confirmations`` blocks on top of it (receipts are offered from then on).
- The :class:`~gateway.reconciler.Reconciler` re-checks recent anchors against the chain at a
  bounded rate and sends a batch whose anchor vanished in a reorganisation back to ``sealed``.
- ``failed`` is the contract's answer only (a revert: the participant suspended, a role missing;
  or no key to sign): an estimate or call the node could not give leaves the batch as it was.
  A failed batch is sent again ``retry_failed_after_seconds`` later, so it is anchored once the
  cause has gone, except one whose root another participant anchored first.
- One batch's error never holds up the others: its work is rolled back, the pass goes on, and
  ends by raising the first such error (the run loop logs it); an unreachable node or database
  ends the pass at once.

**One batcher per account**: a batcher works only on the accounts whose anchoring lease it holds
(gateway/leases.py), taken or renewed at every pass; a second batcher on the same database (a
gateway restarted while its old batcher lives on, or several gateway processes) leaves those
accounts alone until the lease is released or expires. Nonces are reserved per account, by the
lease's holder only.

The batcher is given write sessions (``BEGIN IMMEDIATE`` on SQLite, so its read-then-write steps
never fail "database is locked" beside captures). Such a transaction holds SQLite's write lock
from its first statement, so :func:`_end_reads` ends it before every call to the node.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3
from web3.exceptions import TransactionNotFound
from web3.types import TxReceipt

from chain.ledger import ZERO_BYTES32, Ledger
from chain.sender import is_nonce_error
from gateway.leases import AccountLeases
from gateway.reconciler import Reconciler, ReconcileReport, hex_hash
from gateway.signing_keys import KeyRing
from gateway.store.batches import (
    BatchInfo,
    anchored_without_transaction,
    batch_values,
    batches_in_state,
    get_batch,
    mark_anchored,
    mark_failed,
    mark_sent,
    next_nonce,
    record_anchor_transaction,
    reopen,
    reserve_nonce,
    seal_batches,
    set_next_nonce,
    set_root,
)
from gateway.store.leases import accounts_with_unbatched_leaves, accounts_with_unsettled_batches
from gateway.store.participants import get_participant
from medledger.errors import ContractRevertError, KeystoreError, TransactionError
from medledger.merkle import MerkleTree
from servicekit.outage_log import OutageLog

log = logging.getLogger("provenance.gateway.batcher")

#: How a batch whose root another participant anchored first is failed (for good: never retried).
ANCHORED_BY_ANOTHER = "root already anchored by"


def _unreachable(exc: BaseException) -> bool:
    """Whether an error says a service could not be reached at all (refused, timed out)."""
    return isinstance(exc, OSError) or isinstance(exc.__cause__, OSError)


def _end_reads(session: Session) -> None:
    """End the session's transaction before waiting on the node or a keystore.

    Every store write commits on its own, so a transaction still open here has only read; on
    SQLite a write session's transaction would otherwise keep every other writer waiting.
    """
    if session.in_transaction():
        session.commit()


#: How often a batcher holding no lease looks again while another anchors for every account.
WAITING_INTERVAL_SECONDS = 1.0
#: Failed batches are read at most this often (or every ``retry_failed_after_seconds``).
FAILED_LOOK_SECONDS = 5.0


@dataclass(frozen=True)
class BatcherPolicy:
    max_events: int = 1000
    max_age_seconds: float = 2.0
    #: more than ``max_events`` of an account waiting are sealed in batches of up to this many
    #: (gateway/store/batches.py ``seal_batches``); None: ``max_events``
    backlog_max_events: int | None = None
    confirmations: int = 0
    resend_after_seconds: float = 60.0
    #: a sent transaction the node no longer knows is re-sent this long after it was sent
    lost_after_seconds: float = 5.0
    #: a failed batch (its anchor reverted: the participant suspended, a role missing; no key)
    #: is sent again once it has been failed this long, as seen by this batcher; None: never
    retry_failed_after_seconds: float | None = 60.0
    #: How long an account's anchoring lease lasts unless renewed (gateway/leases.py).
    lease_seconds: float = 15.0
    #: the reconciler re-checks batches anchored in the last this many blocks...
    reconcile_window_blocks: int = 128
    #: ...at most this often (gateway/reconciler.py)
    reconcile_interval_seconds: float = 5.0


@dataclass
class StepReport:
    sealed: int = 0
    sent: int = 0
    anchored: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    #: Accounts with work whose anchoring lease another batcher holds (left to it).
    waiting: list[str] = field(default_factory=list)
    reconciled: ReconcileReport | None = None


class Batcher:
    """Drives every batch to ``anchored``; call :meth:`step` repeatedly (or :meth:`run`)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        ledger: Ledger,
        keys: KeyRing,
        policy: BatcherPolicy | None = None,
        *,
        leases: AccountLeases | None = None,
    ) -> None:
        self._sessions = sessions
        self._ledger = ledger
        self._keys = keys
        self.policy = policy or BatcherPolicy()
        #: The accounts this batcher anchors for: only those whose lease it holds.
        self.leases = leases or AccountLeases(self.policy.lease_seconds)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._healed = False  # anchored batches lacking their transaction: looked up once
        #: failed batches, by id: when this batcher first saw each failed (monotonic seconds)
        self._failed_since: dict[int, float] = {}
        self._failed_looked_at = -math.inf  # when failed batches were last read (monotonic)
        self.reconciler = Reconciler(
            ledger,
            window_blocks=self.policy.reconcile_window_blocks,
            interval_seconds=self.policy.reconcile_interval_seconds,
            confirmations=self.policy.confirmations,
        )

    # --- the loop -------------------------------------------------------------------------

    def step(
        self, now: datetime | None = None, *, flush: bool = False, reconcile: bool | None = None
    ) -> StepReport:
        """One pass: settle sent batches, seal due batches, anchor sealed ones, of the accounts
        whose anchoring lease this batcher holds (taken or renewed first; gateway/leases.py);
        then re-check recent anchors against the chain when the reconciler is due
        (``reconcile`` True or False: now, or not this pass; gateway/reconciler.py).

        ``flush`` seals whatever is waiting regardless of age (used on shutdown and in tests).
        """
        report = StepReport()
        with self._sessions() as session:
            if not self._healed:
                self.heal(session)
                self._healed = True
            retry = self._failed_to_retry(session)
            unbatched = accounts_with_unbatched_leaves(session)
            wanted = sorted(
                unbatched
                | accounts_with_unsettled_batches(session)
                | {b.participant for b in retry}
            )
            held = self.leases.claim(session, wanted)
            report.waiting = [account for account in wanted if account not in held]
            first_error: Exception | None = None
            for batch in retry:
                if self._mine(session, batch, held):
                    again = partial(self._retry, session, batch)
                    error = self._isolated(session, batch, report, again)
                    first_error = first_error or error
            for batch in batches_in_state(session, "sent"):
                if self._mine(session, batch, held):
                    settle = partial(self._settle, session, batch, report, now)
                    error = self._isolated(session, batch, report, settle)
                    first_error = first_error or error
            age = 0.0 if flush else self.policy.max_age_seconds
            sealed = seal_batches(
                session,
                max_events=self.policy.max_events,
                backlog_max_events=self.policy.backlog_max_events,
                max_age_seconds=age,
                now=now,
                participants=held & unbatched,
            )
            report.sealed = len(sealed)
            for batch in batches_in_state(session, "sealed"):
                if self._mine(session, batch, held):
                    anchor = partial(self._anchor, session, batch, report)
                    error = self._isolated(session, batch, report, anchor)
                    first_error = first_error or error
            if self.reconciler.due() if reconcile is None else reconcile:
                # last, so a restart's first anchors do not wait for it; a batch whose anchor
                # vanished is back in sealed and sent on the next pass
                report.reconciled = self.reconciler.run(session)
        if first_error is not None:
            raise first_error  # after every other batch had its turn: the run loop logs it
        return report

    def _failed_to_retry(self, session: Session) -> list[BatchInfo]:
        """The failed batches due to be sent again: failed for ``retry_failed_after_seconds`` as
        this batcher saw them, and not anchored by another participant (that never changes)."""
        after = self.policy.retry_failed_after_seconds
        now = time.monotonic()
        if after is None or now - self._failed_looked_at < min(after, FAILED_LOOK_SECONDS):
            return []  # looked lately (a pass every 0.1 s need not ask each time)
        self._failed_looked_at = now
        failed = batches_in_state(session, "failed")
        self._failed_since = {b.id: self._failed_since.get(b.id, now) for b in failed}
        return [
            b
            for b in failed
            if now - self._failed_since[b.id] >= after
            and not (b.last_error or "").startswith(ANCHORED_BY_ANOTHER)
        ]

    def _fail(self, session: Session, batch_id: int, reason: str) -> None:
        """Mark a batch failed, and note when (its retry is due that long after, whether or not
        the failed batches are read again before)."""
        mark_failed(session, batch_id, reason)
        self._failed_since[batch_id] = time.monotonic()

    def _retry(self, session: Session, batch: BatchInfo) -> None:
        """Back to ``sealed``: anchored on this pass if what failed it has gone (the participant
        reinstated, its role or key restored); failed again, and retried later, if not."""
        reopen(session, batch.id)
        self._failed_since[batch.id] = time.monotonic()  # if it fails again, from now on
        log.info("batch %s is sent again after it failed: %s", batch.id, batch.last_error)

    @staticmethod
    def _isolated(
        session: Session, batch: BatchInfo, report: StepReport, work: Callable[[], None]
    ) -> Exception | None:
        """Do one batch's work; an error is the error of this batch only (a node that timed out
        on its transaction, a refusal the batcher does not know): it is noted, the session is
        rolled back and the other batches go on. It is returned so the pass still fails with it,
        and this batch is tried again on the next pass."""
        try:
            work()
        except Exception as exc:  # noqa: BLE001 - one batch must not hold up the others
            session.rollback()
            if _unreachable(exc):
                raise  # the node or the database is not there: no other batch would fare better
            report.errors.append(f"batch {batch.id}: {exc}")
            return exc
        return None

    def _mine(self, session: Session, batch: BatchInfo, held: set[str]) -> bool:
        """Whether to work on ``batch`` now: its account's lease is ours (renewed if due)."""
        if batch.participant not in held:
            return False
        if self.leases.keep(session, batch.participant):
            return True
        held.discard(batch.participant)  # lost meanwhile: another batcher anchors for it
        return False

    def run(self, interval: float = 0.25) -> None:
        """Step until :meth:`stop`, then release the leases; errors are retried on the next pass
        and logged when the batcher starts failing, every so often, and when it recovers."""
        health = OutageLog(log, "the batcher")
        try:
            while not self._stop.is_set():
                pause = interval
                try:
                    report = self.step()
                except Exception as exc:  # noqa: BLE001 - a worker thread must not die silently
                    health.failure(exc)
                else:
                    health.success()
                    if report.waiting and not self.leases.held:
                        # Every account with work is another batcher's: look again less often
                        # (its passes would take the cores the holder and capture need); a
                        # holder that is gone is still taken over within the second.
                        pause = max(interval, WAITING_INTERVAL_SECONDS)
                self._wake.wait(pause)
                self._wake.clear()
        finally:
            self.release_leases()

    def release_leases(self) -> None:
        """Give up this batcher's anchoring leases (a clean stop): another takes over at once."""
        try:
            with self._sessions() as session:
                self.leases.release(session)
        except Exception as exc:  # noqa: BLE001 - the database is gone: the leases expire
            log.warning("could not release the anchoring leases (they expire): %s", exc)

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    # --- one batch ------------------------------------------------------------------------

    def _anchor(self, session: Session, batch: BatchInfo, report: StepReport) -> None:
        values = batch_values(session, batch.id)
        tree = MerkleTree.build(values)
        if batch.root is None:
            # Freshly sealed: never sent, and its leaves' salts make its root new, so the chain
            # is not asked first; were the root anchored all the same, the gas estimate reverts
            # with RootAlreadyAnchored and the chain is asked then (below).
            batch = set_root(session, batch.id, tree.root)
        elif self._settled_on_chain(session, batch, tree.root, report):
            return  # sealed again (a restart before its send was recorded, a retry): ask first
        participant = get_participant(session, batch.participant)
        _end_reads(session)
        try:
            account = self._keys.signer(
                batch.participant, participant.keystore_path if participant else None
            )
            nonce = self._take_nonce(session, account.address)
            _end_reads(session)
            submitted = self._ledger.chain.submit(
                account,
                self._ledger.anchors,
                "anchor",
                tree.root,
                len(values),
                ZERO_BYTES32,
                nonce=nonce,
            )
        except ContractRevertError as exc:
            if exc.error_name == "RootAlreadyAnchored":
                # Anchored meanwhile (another batcher; a transaction of before a restart, mined
                # since): the chain decides, and a root on chain never parks a batch in failed.
                if not self._settled_on_chain(session, batch, tree.root, report):
                    report.errors.append(f"batch {batch.id}: {exc}; the chain is asked again")
                return
            self._fail(session, batch.id, str(exc))
            report.failed += 1
            report.errors.append(f"batch {batch.id}: {exc}")
            return
        except KeystoreError as exc:
            self._fail(session, batch.id, str(exc))
            report.failed += 1
            report.errors.append(f"batch {batch.id}: {exc}")
            return
        except TransactionError as exc:
            # Still sealed, so sent again on the next pass. The nonce it had reserved is not
            # lost: the node never saw it, no batch holds it, so _take_nonce hands it out again.
            if is_nonce_error(exc):
                set_next_nonce(session, account.address, self._pending_count(account.address))
            report.errors.append(f"batch {batch.id}: {exc}")
            return
        mark_sent(session, batch.id, tx_hash=submitted.tx_hash, nonce=submitted.nonce)
        report.sent += 1
        sent = get_batch(session, batch.id)
        if sent is not None:
            self._settle(session, sent, report, None, just_sent=True)

    def _settle(
        self,
        session: Session,
        batch: BatchInfo,
        report: StepReport,
        now: datetime | None,
        *,
        just_sent: bool = False,
    ) -> None:
        assert batch.root is not None and batch.tx_hash is not None
        _end_reads(session)
        w3 = self._ledger.chain.w3
        try:
            receipt = w3.eth.get_transaction_receipt(batch.tx_hash)  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - nodes differ: TransactionNotFound, None, RPC error
            receipt = None
        if receipt is None and just_sent:
            return  # not mined yet (automining nodes mine at once); the next pass looks again
        sent_at = batch.sent_at
        moment = now or datetime.now(UTC)
        if sent_at is not None and sent_at.tzinfo is None:
            sent_at = sent_at.replace(tzinfo=UTC)
        if (
            receipt is None
            and sent_at is not None
            and moment - sent_at < timedelta(seconds=self.policy.lost_after_seconds)
        ):
            # Pending, and not long enough to be lost: whether another transaction anchored
            # the root is asked once it may be (not on every pass while a block is awaited).
            return
        if receipt is not None:
            if not self._deep_enough(int(receipt["blockNumber"])):
                return  # mined, not yet deep enough: no receipt is offered before
            if self.policy.confirmations and not self._canonical(receipt):
                return  # its block was reorganised away since the receipt was read: look again
            if receipt["status"] == 1:
                mark_anchored(
                    session,
                    batch.id,
                    block_number=int(receipt["blockNumber"]),
                    tx_hash=batch.tx_hash,
                    block_hash=hex_hash(receipt["blockHash"]),
                )
                report.anchored += 1
                return
        if self._settled_on_chain(session, batch, batch.root, report):
            return
        if receipt is not None:  # reverted, and the root is not anchored: retry from sealed
            mark_failed(session, batch.id, f"anchor transaction {batch.tx_hash} reverted")
            reopen(session, batch.id)
            report.failed += 1
            return
        if sent_at is None or batch.nonce is None:
            return
        waited = moment - sent_at
        if waited > timedelta(seconds=self.policy.resend_after_seconds) or (
            waited > timedelta(seconds=self.policy.lost_after_seconds)
            and self._unknown_to_node(batch.tx_hash)
        ):
            self._resend(session, batch, report)

    def _unknown_to_node(self, tx_hash: str) -> bool:
        """True when the node has the transaction neither mined nor pending (not when it fails)."""
        try:
            self._ledger.chain.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return True
        except Exception:  # noqa: BLE001 - the node is down or odd: decide on a later pass
            return False
        return False

    def _canonical(self, receipt: TxReceipt) -> bool:
        """Whether the receipt's block is still the chain's block at its height (read after the
        head, so a reorganisation between reading the receipt and the head is noticed)."""
        try:
            block = self._ledger.chain.w3.eth.get_block(int(receipt["blockNumber"]))
        except Exception:  # noqa: BLE001 - the node lost the height, or is down: look again
            return False
        return bytes(block["hash"]) == bytes(receipt["blockHash"])

    def _deep_enough(self, block_number: int) -> bool:
        """Whether a block has the confirmations the policy asks for (always, with 0)."""
        if not self.policy.confirmations:
            return True
        return self._ledger.chain.block_number >= block_number + self.policy.confirmations

    def _resend(self, session: Session, batch: BatchInfo, report: StepReport) -> None:
        assert batch.root is not None and batch.nonce is not None
        participant = get_participant(session, batch.participant)
        _end_reads(session)
        account = self._keys.signer(
            batch.participant, participant.keystore_path if participant else None
        )
        try:
            submitted = self._ledger.chain.submit(
                account,
                self._ledger.anchors,
                "anchor",
                batch.root,
                batch.event_count,
                ZERO_BYTES32,
                nonce=batch.nonce,
            )
        except ContractRevertError as exc:
            if exc.error_name != "RootAlreadyAnchored":
                raise
            self._settled_on_chain(session, batch, batch.root, report)  # mined meanwhile
            return
        except TransactionError as exc:
            if not is_nonce_error(exc):
                raise
            # Another transaction took this nonce and the root is not anchored (checked just
            # before): send the batch again from sealed, with a new nonce.
            mark_failed(session, batch.id, f"nonce {batch.nonce} was used elsewhere: {exc}")
            reopen(session, batch.id)
            return
        mark_sent(session, batch.id, tx_hash=submitted.tx_hash, nonce=submitted.nonce)
        log.info(
            "re-sent the anchor of batch %s with the same nonce %s as %s",
            batch.id,
            batch.nonce,
            submitted.tx_hash,
        )

    # --- nonces -----------------------------------------------------------------------------

    def _pending_count(self, address: str) -> int:
        w3 = self._ledger.chain.w3
        return int(w3.eth.get_transaction_count(address, "pending"))  # type: ignore[arg-type]

    def _take_nonce(self, session: Session, address: str) -> int:
        """The nonce for a new anchor of ``address``, reserved durably in the store.

        ``reserve_nonce`` gives ``max(stored counter, node's pending count)`` and commits
        the counter past it before anything is sent, so a restart never hands out a nonce that
        went out just before it. A nonce below the counter that the node has not seen and that
        no ``sent`` batch holds (the process stopped, or the node refused the transaction,
        between reserving and recording it) would leave a gap that stalls every later
        transaction of the account: it is handed out again first. Nonces held by ``sent``
        batches are left to them (re-sent with the same nonce). Only the holder of the
        account's anchoring lease reserves its nonces (gateway/leases.py).
        """
        _end_reads(session)
        pending = self._pending_count(address)
        stored = next_nonce(session, address)
        if stored is not None and stored > pending:
            held = {
                b.nonce
                for b in batches_in_state(session, "sent", participant=address)
                if b.nonce is not None
            }
            for nonce in range(pending, stored):
                if nonce not in held:
                    return nonce
        return reserve_nonce(session, address, pending)

    def _settled_on_chain(
        self, session: Session, batch: BatchInfo, root: bytes, report: StepReport
    ) -> bool:
        _end_reads(session)
        anchored = self._ledger.get_anchor(root)
        if anchored is None:
            return False
        if Web3.to_checksum_address(anchored.submitter) != Web3.to_checksum_address(
            batch.participant
        ):
            mark_failed(session, batch.id, f"{ANCHORED_BY_ANOTHER} {anchored.submitter}")
            report.failed += 1
            return True
        if not self._deep_enough(anchored.block_number):
            return True  # on chain, not yet deep enough: settled on a later pass
        found = self._ledger.find_anchor_transaction(root, anchored.block_number)
        mark_anchored(
            session,
            batch.id,
            block_number=anchored.block_number,
            root=root,
            tx_hash=found.tx_hash if found else None,
            block_hash=found.block_hash if found else None,
        )
        if found is None and batch.tx_hash is not None:  # the stored hash did not anchor it
            record_anchor_transaction(
                session, batch.id, tx_hash=None, block_number=anchored.block_number
            )
        report.anchored += 1
        return True

    def heal(self, session: Session) -> int:
        """Look up the anchoring transaction of every anchored batch that lacks it; how many."""
        healed = 0
        for batch in anchored_without_transaction(session):
            if recover_anchor_transaction(session, self._ledger, batch) is not None:
                healed += 1
        return healed


def recover_anchor_transaction(
    session: Session, ledger: Ledger, batch: BatchInfo
) -> BatchInfo | None:
    """Record what the chain's ``Anchored`` log says anchored ``batch``'s root; None if nothing.

    For a batch stored as anchored without its transaction (a crash between sending the anchor
    and recording it, before recovery looked the transaction up): its receipt needs the hash.
    """
    if batch.root is None:
        return None
    _end_reads(session)
    found = ledger.find_anchor_transaction(batch.root)
    if found is None:
        return None
    return record_anchor_transaction(
        session,
        batch.id,
        tx_hash=found.tx_hash,
        block_number=found.block_number,
        block_hash=found.block_hash,
    )
