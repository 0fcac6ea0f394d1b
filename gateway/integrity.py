"""Serving only what verifies: the checks a receipt, a batch and an event pass before they leave.

Each check re-derives from what is stored what a verifier will derive from what is served, and
raises :class:`~medledger.errors.IntegrityViolationError` (409,
see servicekit/http/problems.py) when they
differ, naming the rule, the events and the batch's anchored root:

- :func:`check_event` (``integrity.event-altered``): the stored JSON re-hashes, with
  :func:`~medledger.epcis.event_hash.stored_event_digest` (the function ``provenance verify`` and
  the indexer use), to the stored event hash, and that is the hash the event id names;
- :func:`proven_leaf` (``integrity.proof-mismatch``): the leaf of the stored
  ``(event hash, salt)`` and its proof lead to the batch's anchored root;
- :func:`check_batch` (``integrity.event-altered``, ``integrity.root-mismatch``): every event of a
  batch re-hashes, and the tree of the re-hashed events and their salts has the anchored root.

"Anchored root" is the root the gateway recorded when it anchored the batch; that it is on chain
is the batcher's and the reconciler's business (and ``provenance verify --rpc``'s).

:class:`IntegrityAlarm` is what a refusal raises for operators: a count by rule (the
``provenance_gateway_integrity_failures_total`` metric), one error log line per affected event
or batch (not per request), and the set of events that failed their last check, which
``/readyz`` reports (degraded) until they pass again. See docs/security.md and
docs/operations.md.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from gateway.store.batches import BatchEvent
from gateway.store.capture import event_hash_bytes
from medledger.epcis.error_declaration import (
    KIND_DECLARATION,
    declaration_digest,
    declaration_id,
)
from medledger.epcis.event_hash import stored_event_digest
from medledger.errors import IntegrityViolationError, MerkleError
from medledger.masterdata.record import KIND_MASTERDATA, masterdata_digest, masterdata_id
from medledger.merkle import MerkleTree, Value, leaf_hash, verify_proof
from servicekit.http.operations import CheckResult

log = logging.getLogger("provenance.gateway.integrity")

EVENT_ALTERED = "integrity.event-altered"
PROOF_MISMATCH = "integrity.proof-mismatch"
ROOT_MISMATCH = "integrity.root-mismatch"
RULES = (EVENT_ALTERED, PROOF_MISMATCH, ROOT_MISMATCH)

#: Events (and batch roots) the alarm remembers by name; past this it counts only.
MAX_REMEMBERED = 10_000
#: Event ids an error names in its message (all of them are in ``event_ids``).
NAMED_IN_MESSAGE = 5


def _hex(value: bytes | None) -> str:
    return "0x" + (value or b"").hex()


def rehash(raw: str) -> bytes | None:
    """The digest a verifier computes from the event as served, or None if it cannot."""
    try:
        return stored_event_digest(json.loads(raw))
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None  # ValidationError and JSONDecodeError are ValueErrors


def redigest(raw: str) -> bytes | None:
    """The digest a verifier computes from an error declaration as served, or None."""
    try:
        return declaration_digest(json.loads(raw))
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None


def _redigest_record(raw: str) -> bytes | None:
    """The digest a verifier computes from a master data record as served, or None."""
    try:
        return masterdata_digest(json.loads(raw))
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None


def declaration_altered(
    declaration: str, raw: str, digest: bytes, kind: str = KIND_DECLARATION
) -> str | None:
    """Why a stored error declaration (or master data record, by ``kind``) would not verify
    (as :func:`altered` for events)."""
    named = masterdata_id if kind == KIND_MASTERDATA else declaration_id
    if len(digest) != 32 or named(digest) != declaration:
        return f"its id is not that of its stored digest {_hex(digest)}"
    computed = redigest(raw) if kind == KIND_DECLARATION else _redigest_record(raw)
    if computed is None:
        return "its stored JSON cannot be re-digested"
    if computed != digest:
        return f"its stored JSON re-digests to {_hex(computed)}, not to {_hex(digest)}"
    return None


def altered(event_id: str, raw: str, event_hash: bytes, kind: str = "event") -> str | None:
    """Why the stored event would not verify, or None if it re-hashes to its stored hash and
    its id names that hash (``kind`` ``errorDeclaration``: the same of a declaration)."""
    if kind in (KIND_DECLARATION, KIND_MASTERDATA):
        return declaration_altered(event_id, raw, event_hash, kind)
    try:
        named = event_hash_bytes(event_id)
    except ValueError:
        named = None
    if named != event_hash:
        return f"its id names 0x{(named or b'').hex()}, its stored hash is {_hex(event_hash)}"
    digest = rehash(raw)
    if digest is None:
        return "its stored JSON cannot be re-hashed"
    if digest != event_hash:
        return f"its stored JSON re-hashes to {_hex(digest)}, not to {_hex(event_hash)}"
    return None


def check_event(
    event_id: str,
    raw: str,
    event_hash: bytes,
    *,
    root: bytes | None = None,
    kind: str = "event",
) -> None:
    """Raise ``integrity.event-altered`` unless the stored event (or error declaration, by
    ``kind``) re-hashes to its stored hash."""
    reason = altered(event_id, raw, event_hash, kind)
    if reason is not None:
        raise IntegrityViolationError(
            f"event {event_id} no longer verifies: {reason}",
            rule=EVENT_ALTERED,
            event_ids=(event_id,),
            root=root,
        )


def proven_leaf(
    tree: MerkleTree, event_id: str, value: Value, root: bytes
) -> tuple[bytes, tuple[bytes, ...]]:
    """The leaf of ``value`` (``(event hash, salt)``) and its proof in ``tree``, checked to lead
    to the anchored ``root``; else ``integrity.proof-mismatch``."""
    try:
        leaf = leaf_hash(*value)
        proof = tuple(tree.proof_for(value))  # MerkleError: not a value of the batch's tree
        proven = verify_proof(root, leaf, proof)
    except MerkleError:
        leaf, proof, proven = b"", (), False
    if not proven:
        raise IntegrityViolationError(
            f"event {event_id}: its stored event hash and salt are not proven under the "
            f"anchored root {_hex(root)}",
            rule=PROOF_MISMATCH,
            event_ids=(event_id,),
            root=root,
        )
    return leaf, proof


def check_tree(tree: MerkleTree, root: bytes, event_ids: Sequence[str] = ()) -> None:
    """Raise ``integrity.root-mismatch`` unless ``tree`` (of a batch's stored values) has the
    anchored ``root``; ``event_ids``: the events asked for."""
    if tree.root != root:
        raise IntegrityViolationError(
            f"batch {_hex(root)}: its stored event hashes and salts give the root "
            f"{_hex(tree.root)}, not the anchored one: none of its proofs can be trusted",
            rule=ROOT_MISMATCH,
            event_ids=tuple(event_ids),
            root=root,
            computed_root=tree.root,
        )


def check_batch(root: bytes, events: Sequence[BatchEvent]) -> None:
    """Every event of the batch re-hashes to its stored hash (else ``integrity.event-altered``
    naming each one that does not), and the tree of the re-hashed events with their salts has
    the anchored ``root`` (else ``integrity.root-mismatch``)."""
    changed: list[str] = []
    values: list[Value] = []
    for event in events:
        if altered(event.event_id, event.raw, event.event_hash, event.kind) is not None:
            changed.append(event.event_id)
        values.append((event.event_hash, event.salt))
    if changed:
        named = ", ".join(changed[:NAMED_IN_MESSAGE])
        more = f" and {len(changed) - NAMED_IN_MESSAGE} more" if len(changed) > 5 else ""
        raise IntegrityViolationError(
            f"batch {_hex(root)}: {len(changed)} of its {len(events)} events no longer re-hash "
            f"to their stored hashes: {named}{more}",
            rule=EVENT_ALTERED,
            event_ids=tuple(changed),
            root=root,
        )
    try:
        tree = MerkleTree.build(values)
    except MerkleError as exc:  # no events, or a stored hash or salt not 32 bytes
        raise IntegrityViolationError(
            f"batch {_hex(root)}: its stored events make no tree: {exc}",
            rule=ROOT_MISMATCH,
            root=root,
        ) from exc
    check_tree(tree, root)


@dataclass(frozen=True)
class AlarmState:
    """What the alarm knows: refusals by rule since start, and what failed its last check."""

    failures: dict[str, int]
    events: tuple[str, ...]  # failing, oldest first (at most MAX_REMEMBERED)
    roots: tuple[str, ...]  # batches that failed as a whole (root-mismatch), 0x hex

    @property
    def raised(self) -> bool:
        return bool(self.events or self.roots)


class IntegrityAlarm:
    """Counts refusals, logs each affected event once, and knows which events fail now.

    One per gateway process (thread-safe). An event leaves the alarm when a later check of it
    passes (it was restored), and is logged again if it fails again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: Counter[str] = Counter()
        self._events: dict[str, str] = {}  # event id -> rule (insertion-ordered)
        self._roots: dict[str, str] = {}  # 0x root -> rule
        self._saturated = False

    @contextmanager
    def watch(self) -> Iterator[None]:
        """Raise the alarm for an :class:`IntegrityViolationError` raised inside (re-raised)."""
        try:
            yield
        except IntegrityViolationError as exc:
            self.record(exc)
            raise

    def record(self, exc: IntegrityViolationError) -> None:
        new: list[str] = []
        with self._lock:
            self._failures[exc.rule] += 1
            keys = list(exc.event_ids)
            if exc.rule == ROOT_MISMATCH and exc.root is not None:
                root = _hex(exc.root)
                if root not in self._roots:
                    self._roots[root] = exc.rule
                    new.append(f"batch {root}")
            for event_id in keys:
                if event_id in self._events:
                    continue
                if len(self._events) >= MAX_REMEMBERED:
                    if not self._saturated:
                        self._saturated = True
                        log.error(
                            "integrity alarm: more than %s events fail verification; only "
                            "the count goes on (see provenance_gateway_integrity_failures_total)",
                            MAX_REMEMBERED,
                        )
                    break
                self._events[event_id] = exc.rule
                new.append(f"event {event_id}")
        for what in new:
            log.error(
                "integrity alarm (%s): %s is not served: %s",
                exc.rule,
                what,
                exc,
                extra={"rule": exc.rule, "root": _hex(exc.root) if exc.root else None},
            )

    def passed(self, event_ids: Sequence[str] = (), root: bytes | None = None) -> None:
        """These events (and this batch) verified again: they leave the alarm."""
        if not self._events and not self._roots:
            return  # the usual case: nothing to clear, no lock taken
        cleared: list[str] = []
        with self._lock:
            for event_id in event_ids:
                if self._events.pop(event_id, None) is not None:
                    cleared.append(f"event {event_id}")
            if root is not None and self._roots.pop(_hex(root), None) is not None:
                cleared.append(f"batch {_hex(root)}")
            if cleared and len(self._events) < MAX_REMEMBERED:
                self._saturated = False
        for what in cleared:
            log.warning("integrity alarm: %s verifies again", what)

    def state(self) -> AlarmState:
        with self._lock:
            return AlarmState(
                failures={rule: self._failures.get(rule, 0) for rule in RULES},
                events=tuple(self._events),
                roots=tuple(self._roots),
            )


#: Failing events the integrity check lists by id (it counts them all).
READINESS_EVENT_IDS = 100


def integrity_check(alarm: AlarmState) -> CheckResult:
    """The integrity alarm as a degrading check: failing while any event (or batch) failed its
    last verification, with their ids; the service stays ready (see docs/operations.md)."""
    evidence = {
        "events": list(alarm.events[:READINESS_EVENT_IDS]),
        "event_count": len(alarm.events),
        "roots": list(alarm.roots[:READINESS_EVENT_IDS]),
        "failures": alarm.failures,
    }
    if not alarm.raised:
        return CheckResult("integrity", True, "every event served verified", evidence=evidence)
    what = [f"{len(alarm.events)} events"] + ([f"{len(alarm.roots)} batches"] * bool(alarm.roots))
    named = ", ".join([*alarm.events[:3], *alarm.roots[:3]])
    return CheckResult(
        "integrity",
        False,
        f"{' and '.join(what)} no longer verify and are refused (409): {named}",
        degrading=True,
        evidence=evidence,
    )
