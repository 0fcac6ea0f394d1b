"""Which events a reader key sees on the EPCIS query interface, as one SQL condition on
``ix_events`` (so paging, counts, ``maxEventCount`` and ``nextPageToken`` count only what the
reader sees: nothing is fetched and then dropped).

- ``regulator``, ``auditor``: every event (no condition).
- ``participant`` (a key bound to one address): the events it captured (``submitter``), and
  every event naming an item it has held at any time: its **custody chain**. An item it has held
  is an instance (pack, case, pallet) one of whose custody versions (``ix_item_versions``) names
  it as ``holder``, or a lot quantity it held or shipped (``ix_holding_versions``). All events of
  such an item are visible, those before its holding (commissioning, packing by the maker) and
  after (the pharmacy's receipt and sale), so that a participant can follow what it handled
  from end to end; events on other items of the same lot are not (a lot's other packs went to
  other holders). Being shipped something (``in_transit_to``) is not holding it: the shipment
  becomes visible when it is received. Held once is held for good: a later shipment onward does
  not take the earlier events away.
- ``inspector`` (a key with a region): the events whose submitter's registered region lies in
  the key's (indexer/queries/scope.py), and those whose bizLocation or readPoint is the site of
  such a participant (the location's GLN is the participant's registered GLN). The index has no
  location master data yet: a location no participant is registered at lies in no region.

Nothing else: a participant key never sees another's events it had no part in, and an event it
may not see answers as if the index had none (404 on ``/events/{eventID}``, not 403).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.orm import Session, aliased

from indexer.queries.scope import Scope
from indexer.store.models import (
    EventItemRow,
    EventRow,
    HoldingVersionRow,
    ItemVersionRow,
    ParticipantRow,
)
from medledger.epcis.identifiers import ID_GS1


@dataclass(frozen=True, slots=True)
class Visibility:
    """What a reader sees: everything (``participant`` and ``region`` None), one participant's
    custody chain, or one region's events."""

    participant: str | None = None
    region: str | None = None

    @property
    def everything(self) -> bool:
        return self.participant is None and self.region is None

    @property
    def name(self) -> str:
        """Names the visibility in page tokens (a token made for one reader's view pages only
        that view)."""
        if self.participant is not None:
            return f"participant {self.participant}"
        if self.region is not None:
            return f"region {self.region}"
        return "all"

    def events(self, session: Session) -> ColumnElement[bool] | None:
        """The condition on ``ix_events`` (correlated on ``EventRow``) of the events this
        reader sees, or None for every event."""
        if self.participant is not None:
            return custody_chain(self.participant)
        if self.region is not None:
            return in_region(session, self.region)
        return None


EVERY_EVENT = Visibility()


def custody_chain(participant: str) -> ColumnElement[bool]:
    """Events ``participant`` captured, or naming an item or lot it has held (see the module
    docstring). Each half is an ``EXISTS`` on the event's items: per candidate event, its
    items by ``seq`` and their versions by identifier (both indexed), so a selective query
    stays selective; ``ix_item_versions_holder`` serves a planner that starts from the holder."""
    item = aliased(EventItemRow)
    version = aliased(ItemVersionRow)
    holding = aliased(HoldingVersionRow)
    held_item = (
        select(item.seq)
        .join(version, version.identifier == item.identifier)
        .where(item.seq == EventRow.seq, version.holder == participant)
        .correlate(EventRow)
        .exists()
    )
    held_lot = (
        select(item.seq)
        .join(holding, holding.class_id == item.identifier)
        .where(item.seq == EventRow.seq, holding.holder == participant)
        .correlate(EventRow)
        .exists()
    )
    return or_(EventRow.submitter == participant, held_item, held_lot)


def in_region(session: Session, region: str) -> ColumnElement[bool]:
    """Events submitted by a participant of ``region``, or read or located at the site of one
    (its registered GLN, with or without an extension); none if no participant is there."""
    addresses = Scope(region).participants(session) or []
    if not addresses:
        return false()
    glns = sorted(
        {
            gln
            for gln in session.scalars(
                select(ParticipantRow.gln).where(ParticipantRow.address.in_(addresses))
            )
            if gln
        }
    )
    conditions: list[ColumnElement[bool]] = [EventRow.submitter.in_(addresses)]
    sites = [f"{ID_GS1}/414/{gln}" for gln in glns]
    for column in (EventRow.biz_location, EventRow.read_point):
        if sites:
            conditions.append(column.in_(sites))
        conditions += [column.like(f"{site}/%") for site in sites]
    return or_(*conditions)
