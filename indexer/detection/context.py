"""What every detector sees of one batch: its custody events, the state before each of them,
who the participants are, and how to write an alert with its evidence.

Detection runs after the projection has written its versions, in the same transaction, so
"the state before an event" is read from ``ix_item_versions``: the version of the item with
the largest ``valid_from`` below the event's sequence number.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from indexer.detection.config import DetectionConfig
from indexer.projection import EventContext, ItemState, Projection
from indexer.store import writes
from indexer.store.models import AnchorRow, EventRow, ItemVersionRow
from indexer.store.state import item_state, key_groups, keyed, read_registry
from medledger.custody.operations import Operation
from medledger.custody.transition import recorded_operation
from medledger.epcis.event_id import event_id_of
from medledger.epcis.normalise import NormalisedEvent
from medledger.roles import Role


def operation(ev: NormalisedEvent) -> Operation | None:
    """The operation the projection records ``ev`` as (an ObjectEvent ADD with another bizStep
    is a commissioning)."""
    return recorded_operation(ev)


_NOT_LOOKED_UP: Any = object()


@dataclass
class BatchView:
    """One indexed batch, for the detectors (see the module docstring)."""

    session: Session
    block_number: int
    custody: Sequence[tuple[NormalisedEvent, EventContext]]
    projection: Projection
    config: DetectionConfig
    _histories: dict[str, list[ItemState]] = field(default_factory=dict)
    participants: dict[str, tuple[int, str]] | None = None  # read when first needed
    _roles: dict[str, Role] = field(default_factory=dict)
    _hospitals: frozenset[str] | None = None
    _changed: dict[int, list[ItemState]] | None = None
    _held: set[tuple[bytes, str]] | None = None

    def held(self, event_hash: bytes, identifier: str) -> bool:
        """Whether the event's effect on the item was held back (not judged yet)."""
        if self._held is None:
            self._held = self.projection.held_keys
        return (event_hash, identifier) in self._held

    # --- state ---------------------------------------------------------------------------

    def load_histories(self, identifiers: Iterable[str]) -> None:
        """Every version of ``identifiers`` (one query per key group), for :meth:`before`."""
        wanted = sorted(set(identifiers) - set(self._histories))
        for identifier in wanted:
            self._histories[identifier] = []
        for part in key_groups(self.session, wanted):
            query = keyed(self.session, select(ItemVersionRow), ItemVersionRow.identifier, part)
            for row in self.session.scalars(query):
                self._histories[row.identifier].append(item_state(row))
        for identifier in wanted:
            self._histories[identifier].sort(key=lambda v: v.seq)

    def history(self, identifier: str) -> list[ItemState]:
        if identifier not in self._histories:
            self.load_histories([identifier])
        return self._histories[identifier]

    def before(self, identifier: str, seq: int) -> ItemState | None:
        """The item's state just before event ``seq`` (None: it did not exist).

        Without reading history when it can: the batch's own versions, else the state the
        projection found stored before the batch.
        """
        if identifier not in self._histories and identifier in self.projection.prior_items:
            found = self.projection.prior_items[identifier]
            for v in self.projection.item_versions.get(identifier, ()):
                if v.seq >= seq:
                    break
                found = v
            return found
        versions = self.history(identifier)
        i = bisect_left([v.seq for v in versions], seq)
        return versions[i - 1] if i > 0 else None

    def maybe_held_by_hospital(self, identifier: str) -> bool:
        """Whether the item was with a hospital before this batch or during it (only such
        items can be diverted from a hospital's channel; see ``diversion``)."""
        prior = self.projection.prior_items.get(identifier, _NOT_LOOKED_UP)
        if prior is _NOT_LOOKED_UP:
            return True  # not looked up by the projection: be safe, read its history
        hospitals = self._hospital_addresses()
        if not hospitals:
            return False
        if prior is not None and prior.holder in hospitals:
            return True
        return any(v.holder in hospitals for v in self.projection.item_versions.get(identifier, ()))

    def _hospital_addresses(self) -> frozenset[str]:
        if self._hospitals is None:
            self._hospitals = frozenset(
                a for a, (roles, _) in self._registry().items() if Role.HOSPITAL & roles
            )
        return self._hospitals

    def changed_at(self, seq: int) -> list[ItemState]:
        """The versions event ``seq`` made (named items and their contents)."""
        if self._changed is None:
            self._changed = {}
            for versions in self.projection.item_versions.values():
                for v in versions:
                    self._changed.setdefault(v.seq, []).append(v)
        return self._changed.get(seq, [])

    def roles(self, address: str | None) -> Role:
        """The participant's roles now (0 for an unknown address)."""
        if address is None:
            return Role(0)
        found = self._roles.get(address)
        if found is None:
            found = self._roles[address] = Role(self._registry().get(address, (0, ""))[0])
        return found

    def gln(self, address: str | None) -> str | None:
        return self._registry().get(address, (0, None))[1] if address else None

    def address_of(self, gln: str | None) -> str | None:
        """The participant registered with ``gln``."""
        if gln is None:
            return None
        for address, (_, g) in self._registry().items():
            if g == gln:
                return address
        return None

    def _registry(self) -> dict[str, tuple[int, str]]:
        if self.participants is None:
            self.participants = read_registry(self.session)
        return self.participants

    # --- evidence ------------------------------------------------------------------------

    def references(self, hashes: Iterable[bytes]) -> dict[bytes, dict[str, Any]]:
        """Each indexed event's id and anchor (root, transaction, block), by hash."""
        wanted = list(dict.fromkeys(hashes))
        out: dict[bytes, dict[str, Any]] = {}
        for part in key_groups(self.session, wanted):
            query = keyed(
                self.session,
                select(
                    EventRow.event_hash,
                    EventRow.root,
                    EventRow.block_number,
                    EventRow.submitter,
                    EventRow.event_time,
                    EventRow.biz_step,
                    AnchorRow.tx_hash,
                ).join(AnchorRow, AnchorRow.root == EventRow.root),
                EventRow.event_hash,
                part,
            )
            for h, root, block, submitter, when, step, tx in self.session.execute(query):
                out[h] = {
                    "eventID": event_id_of(h),
                    "eventHash": "0x" + h.hex(),
                    "bizStep": step,
                    "eventTime": _iso(when),
                    "submitter": submitter,
                    "root": "0x" + root.hex(),
                    "txHash": tx,
                    "blockNumber": block,
                }
        return out

    def alert(
        self,
        kind: str,
        severity: str,
        *,
        trigger: bytes,
        subject: str | None,
        message: str,
        events: Sequence[tuple[str, bytes]],
        key: str | None = None,
        **details: Any,
    ) -> None:
        """An alert raised by event ``trigger`` (evidence: its anchor); ``events``: (role, hash) of
        every event involved, each written with its anchor. The key is the kind, the trigger
        and the subject (or ``key``): deriving it again never duplicates it."""
        refs = self.references([trigger, *(h for _, h in events)])
        anchor = refs.get(trigger, {})
        evidence: dict[str, Any] = {
            "root": anchor.get("root"),
            "txHash": anchor.get("txHash"),
            "blockNumber": anchor.get("blockNumber"),
            "submitter": anchor.get("submitter"),
            "eventHash": "0x" + trigger.hex(),
            "eventID": event_id_of(trigger),
            "identifier": subject,
            "events": [
                {
                    "role": role,
                    **refs.get(h, {"eventID": event_id_of(h), "eventHash": "0x" + h.hex()}),
                }
                for role, h in events
            ],
            **details,
        }
        writes.add_alert(
            self.session,
            kind=kind,
            severity=severity,
            block_number=self.block_number,
            subject=subject,
            message=message,
            evidence=evidence,
            key_parts=(key if key is not None else f"{trigger.hex()}:{subject}",),
        )


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
