"""Trust nothing but the chain: recompute every event hash and the root of a batch.

A batch is indexed only if its source's participant is the submitter the chain recorded, it
holds as many events as were anchored, and the StandardMerkleTree over the *recomputed*
``(eventHash, salt)`` values has the anchored root. Anything else is an
:class:`IntegrityFailure` with the evidence a regulator needs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from indexer.sources import (
    KIND_DECLARATION,
    KIND_EVENT,
    KIND_MASTERDATA,
    BatchContents,
    BatchEntry,
)
from medledger.epcis.error_declaration import declaration_digest
from medledger.epcis.event_hash import stored_event_digest
from medledger.errors import MerkleError, ValidationError
from medledger.masterdata.record import masterdata_digest
from medledger.merkle import MerkleTree


@dataclass(frozen=True, slots=True)
class AnchorFacts:
    """What the chain says about a batch (from its ``Anchored`` log)."""

    root: bytes
    submitter: str
    event_count: int
    tx_hash: str
    block_number: int


@dataclass(frozen=True, slots=True)
class VerifiedEvent:
    event_hash: bytes  # recomputed
    salt: bytes
    event: dict[str, Any]
    position: int
    kind: str = KIND_EVENT  # or errorDeclaration: then event_hash is the declaration's digest


@dataclass(frozen=True)
class IntegrityFailure:
    """Why a batch was refused, and the evidence."""

    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)


def event_digest(event: dict[str, Any]) -> bytes:
    """The 32-byte SHA-256 of an event's canonical CBV 2.0 pre-hash (its own ``@context``), as
    the gateway checked it before storing it and as ``provenance verify`` computes it."""
    return stored_event_digest(event)


def _evidence(anchor: AnchorFacts, contents: BatchContents, **more: Any) -> dict[str, Any]:
    return {
        "root": "0x" + anchor.root.hex(),
        "txHash": anchor.tx_hash,
        "blockNumber": anchor.block_number,
        "submitter": anchor.submitter,
        "sourceParticipant": contents.participant,
        "anchoredEventCount": anchor.event_count,
        "sourceEventCount": len(contents.entries),
        **more,
    }


def refused_evidence(anchor: AnchorFacts, source: dict[str, Any]) -> dict[str, Any]:
    """The evidence of a batch its source refused as no longer verifying: the anchor's facts and
    what the source said (rule, events, the root it recorded and the one its events give)."""
    return {
        "root": "0x" + anchor.root.hex(),
        "txHash": anchor.tx_hash,
        "blockNumber": anchor.block_number,
        "submitter": anchor.submitter,
        "anchoredEventCount": anchor.event_count,
        **source,
    }


def _recompute(entry: BatchEntry) -> bytes | None:
    try:
        if entry.kind == KIND_DECLARATION:
            return declaration_digest(entry.event)
        if entry.kind == KIND_MASTERDATA:
            return masterdata_digest(entry.event)
        return event_digest(entry.event)
    except (ValidationError, ValueError, TypeError, KeyError, AttributeError):
        return None


def verify_batch(
    anchor: AnchorFacts, contents: BatchContents, timings: dict[str, float] | None = None
) -> list[VerifiedEvent] | IntegrityFailure:
    """The batch's events with recomputed hashes, or why they cannot be trusted.

    ``timings`` (if given) gets the seconds spent recomputing hashes and the root added."""
    if contents.participant.lower() != anchor.submitter.lower():
        return IntegrityFailure(
            "submitter-mismatch",
            _evidence(anchor, contents),
        )
    if len(contents.entries) != anchor.event_count:
        return IntegrityFailure("event-count-mismatch", _evidence(anchor, contents))
    started = time.perf_counter()
    verified: list[VerifiedEvent] = []
    changed: list[dict[str, Any]] = []
    for position, entry in enumerate(contents.entries):
        digest = _recompute(entry)
        if digest is None or digest != entry.declared_hash:
            changed.append(
                {
                    "position": position,
                    "eventID": entry.event_id,
                    "declaredHash": "0x" + entry.declared_hash.hex(),
                    "computedHash": None if digest is None else "0x" + digest.hex(),
                }
            )
            digest = digest or entry.declared_hash
        verified.append(VerifiedEvent(digest, entry.salt, entry.event, position, entry.kind))
    hashed = time.perf_counter()
    try:
        computed = MerkleTree.build([(v.event_hash, v.salt) for v in verified]).root
    except MerkleError as exc:
        return IntegrityFailure("root-mismatch", _evidence(anchor, contents, error=str(exc)))
    if timings is not None:
        timings["hash recompute"] = timings.get("hash recompute", 0.0) + hashed - started
        timings["root"] = timings.get("root", 0.0) + time.perf_counter() - hashed
    if computed != anchor.root:
        return IntegrityFailure(
            "root-mismatch",
            _evidence(anchor, contents, computedRoot="0x" + computed.hex(), changedEvents=changed),
        )
    # The root matched: any declared hash that differed was the source's mistake, not the
    # event's; the recomputed hashes are what is indexed.
    return verified
