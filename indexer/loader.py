"""Loading one anchored batch: fetch, verify against the chain, project, write.

Only a batch whose recomputed root and submitter match its ``Anchored`` log is indexed; any
other gets an ``integrity`` alert with the evidence and nothing of it is indexed.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chain.errors import BatchUnavailableError, ValidationError
from gateway.epcis.normalise import NormalisedEvent, normalise_event
from gateway.epcis.terms import default_vocabulary
from indexer.chainlogs import ChainLog
from indexer.projection import EventContext, Projector, event_party
from indexer.sources import BatchSource
from indexer.store import writes
from indexer.store.models import AnchorRow, EventRow, sequence
from indexer.store.state import SqlStateReader, chunks
from indexer.verification import AnchorFacts, IntegrityFailure, VerifiedEvent, verify_batch

log = logging.getLogger("provenance.indexer")

ITEM_ROLES = (
    ("epcs", "epc"),
    ("child_epcs", "child"),
    ("input_epcs", "input"),
    ("output_epcs", "output"),
)
QUANTITY_ROLES = (
    ("quantities", "quantity"),
    ("input_quantities", "input_quantity"),
    ("output_quantities", "output_quantity"),
)


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


def _item_rows(
    ev: NormalisedEvent, event_hash: bytes, seq: int, block: int
) -> list[dict[str, Any]]:
    rows: dict[tuple[str, str], dict[str, Any]] = {}

    def add(identifier: str, role: str, quantity: Any = None, uom: str | None = None) -> None:
        rows.setdefault(
            (identifier, role),
            {
                "identifier": identifier,
                "seq": seq,
                "role": role,
                "event_hash": event_hash,
                "block_number": block,
                "quantity": quantity,
                "uom": uom,
            },
        )

    for field, role in ITEM_ROLES:
        for identifier in getattr(ev, field):
            add(identifier, role)
    if ev.parent_id is not None:
        add(ev.parent_id, "parent")
    for field, role in QUANTITY_ROLES:
        for q in getattr(ev, field):
            add(
                q.class_id,
                "child_quantity" if ev.type == "AggregationEvent" else role,
                q.quantity,
                q.uom,
            )
    return list(rows.values())


def _event_row(
    ev: NormalisedEvent, v: VerifiedEvent, seq: int, facts: AnchorFacts
) -> dict[str, Any]:
    return {
        "event_hash": v.event_hash,
        "seq": seq,
        "block_number": facts.block_number,
        "root": facts.root,
        "submitter": facts.submitter,
        "salt": v.salt,
        "type": ev.type,
        "action": ev.action,
        "biz_step": ev.biz_step,
        "disposition": ev.disposition,
        "event_time": ev.event_time,
        "read_point": ev.read_point,
        "biz_location": ev.biz_location,
        "source": event_party(ev.sources),
        "destination": event_party(ev.destinations),
        "raw": json.dumps(v.event, separators=(",", ":"), sort_keys=True),
    }


class BatchLoader:
    """Loads the batches of ``Anchored`` logs into the index."""

    def __init__(self, source: BatchSource) -> None:
        self.source = source
        self.vocabulary = default_vocabulary()

    def load(self, session: Session, entry: ChainLog, block_timestamp: int) -> LoadResult:
        """Index the batch of one ``Anchored`` log (raises retryable unavailability)."""
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
        )
        try:
            contents = self.source.fetch(facts.root)
        except BatchUnavailableError as exc:
            if exc.retryable:
                raise
            anchor.status = "unavailable"
            writes.add_anchor(session, anchor)
            self._alert(session, facts, "batch-unavailable", "warning", str(exc), {})
            return LoadResult("unavailable", 0)
        verified = verify_batch(facts, contents)
        if isinstance(verified, IntegrityFailure):
            anchor.status = "rejected"
            writes.add_anchor(session, anchor)
            self._alert(
                session,
                facts,
                "integrity",
                "critical",
                f"batch 0x{facts.root.hex()} does not match its anchor: {verified.reason}",
                verified.evidence,
            )
            log.warning("integrity alert for batch 0x%s: %s", facts.root.hex(), verified.reason)
            return LoadResult("rejected", 0)
        writes.add_anchor(session, anchor)
        return LoadResult("indexed", self._index(session, facts, entry.log_index, verified))

    def _index(
        self, session: Session, facts: AnchorFacts, log_index: int, verified: list[VerifiedEvent]
    ) -> int:
        known = self._known(session, [v.event_hash for v in verified])
        normalised: list[tuple[NormalisedEvent, VerifiedEvent, int]] = []
        for v in verified:
            seq = sequence(facts.block_number, log_index, v.position)
            if v.event_hash in known:
                self._alert(
                    session,
                    facts,
                    "anchored-twice",
                    "info",
                    f"event 0x{v.event_hash.hex()} was already indexed from another batch",
                    {"eventHash": "0x" + v.event_hash.hex()},
                    key=v.event_hash.hex(),
                )
                continue
            try:
                ev = normalise_event(v.event, v.position, self.vocabulary)
            except (ValidationError, ValueError, TypeError, KeyError, AttributeError) as exc:
                self._alert(
                    session,
                    facts,
                    "unreadable-event",
                    "warning",
                    f"event 0x{v.event_hash.hex()} is anchored but not readable: {exc}",
                    {"eventHash": "0x" + v.event_hash.hex()},
                    key=v.event_hash.hex(),
                )
                continue
            known.add(v.event_hash)
            normalised.append((ev, v, seq))
        events = [_event_row(ev, v, seq, facts) for ev, v, seq in normalised]
        items = [
            row
            for ev, v, seq in normalised
            for row in _item_rows(ev, v.event_hash, seq, facts.block_number)
        ]
        writes.insert_events(session, events, items)
        projector = Projector(SqlStateReader(session), [ev for ev, _, _ in normalised])
        for ev, v, seq in normalised:
            projector.apply(ev, EventContext(v.event_hash, seq, facts.submitter))
        writes.write_projection(session, projector.out, facts.block_number)
        for anomaly in projector.out.anomalies:
            self._alert(
                session,
                facts,
                anomaly.kind,
                "warning",
                anomaly.message,
                {"eventHash": "0x" + anomaly.event_hash.hex(), "identifier": anomaly.subject},
                subject=anomaly.subject,
                key=f"{anomaly.event_hash.hex()}:{anomaly.subject}",
            )
        return len(events)

    @staticmethod
    def _known(session: Session, hashes: list[bytes]) -> set[bytes]:
        out: set[bytes] = set()
        for part in chunks(hashes):
            out.update(
                session.scalars(select(EventRow.event_hash).where(EventRow.event_hash.in_(part)))
            )
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
