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
  the key's (indexer/queries/scope.py), those whose bizLocation or readPoint is the site of
  such a participant (the location's GLN is the participant's registered GLN), and those whose
  bizLocation or readPoint master data places in the key's region (indexer/queries/regions.py:
  the location's own record, else its GLN's, else its parent site's). Master data only ever
  adds to what the registry places there: a location without master data, or whose master data
  says nothing of its region, is judged by the registry alone (no participant registered at it:
  in no region). Who may say where a location is: the regulator, or the participant whose GLN
  it is or lies under its company prefix (docs/masterdata.md#authority); so a participant can
  show an inspector the events at its own sites, and never hide one (the registry's rules
  still apply).

Nothing else: a participant key never sees another's events it had no part in, and an event it
may not see answers as if the index had none (404 on ``/events/{eventID}``, not 403).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, CompoundSelect, false, func, or_, select
from sqlalchemy.orm import Session, aliased

from indexer.queries.regions import sites_in
from indexer.queries.scope import Scope
from indexer.store.models import (
    AnchorRow,
    EventItemRow,
    EventRow,
    HoldingVersionRow,
    ItemVersionRow,
    ParticipantRow,
    sequence,
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
            own = small_chain(session, self.participant)
            if own is not None:
                return EventRow.seq.in_(held_events(self.participant, own))
            return custody_chain(self.participant)
        if self.region is not None:
            return in_region(session, self.region)
        return None


EVERY_EVENT = Visibility()

#: A participant whose custody chain is at most this big (item versions it held, lot holdings,
#: events it anchored, each) has its events found from its side (:func:`held_events`); a bigger
#: one has each candidate event tested (:func:`custody_chain`).
SMALL_CHAIN = 2000


def small_chain(session: Session, participant: str, limit: int = SMALL_CHAIN) -> list[int] | None:
    """If ``participant`` has held at most ``limit`` item versions and ``limit`` lot holdings
    and anchored at most ``limit`` events, the ``seq`` numbers its batches span (an anchor's
    leaves are the positions of its block and log index); else None. Index reads that stop
    past ``limit``.

    The two plans answer alike; they differ in cost. Testing each event (``EXISTS``) in chain
    order stops once a page is full: cheap when the reader sees much, but a reader that sees
    little makes it read the whole index for one page (the API maker of the 1,000,000-event
    bench index sees 40 events: 1.6 s). From the reader's side, the events of what it held
    and of its own batches are found by index, however far apart in the chain."""
    held = (
        select(ItemVersionRow.identifier).where(ItemVersionRow.holder == participant),
        select(HoldingVersionRow.class_id).where(HoldingVersionRow.holder == participant),
    )
    for statement in held:
        found = session.scalar(
            select(func.count()).select_from(statement.limit(limit + 1).subquery())
        )
        if (found or 0) > limit:
            return None
    anchors = session.execute(
        select(AnchorRow.block_number, AnchorRow.log_index, AnchorRow.event_count)
        .where(AnchorRow.submitter == participant)
        .limit(limit + 1)
    ).all()
    if sum(int(count) for _b, _l, count in anchors) > limit:
        return None
    return [
        sequence(int(block), int(log), position)
        for block, log, count in anchors
        for position in range(int(count))
    ]


def held_events(participant: str, own: list[int]) -> CompoundSelect[int]:
    """The ``seq`` of every event in ``participant``'s custody chain (as :func:`custody_chain`
    says), found from its side: the events naming an item or lot it has held (the holder
    indexes, then ``ix_event_items`` by identifier), and its own among ``own`` (the ``seq``
    numbers of its batches, :func:`small_chain`)."""
    item = aliased(EventItemRow)
    version = aliased(ItemVersionRow)
    holding = aliased(HoldingVersionRow)
    event = aliased(EventRow)
    return (
        select(item.seq)
        .join(version, version.identifier == item.identifier)
        .where(version.holder == participant)
        .union(
            select(item.seq)
            .join(holding, holding.class_id == item.identifier)
            .where(holding.holder == participant),
            select(event.seq).where(event.seq.in_(own)),
        )
    )


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
    """Events submitted by a participant of ``region`` (its registered region), or read or
    located at the site of one (its registered GLN, with or without an extension), or at a
    location master data puts in ``region`` (indexer/queries/regions.py: its own record, else
    its GLN's, else its parent site's region); none if nothing lies there."""
    addresses = Scope(region).participants(session) or []
    glns = sorted(
        {
            gln
            for gln in session.scalars(
                select(ParticipantRow.gln).where(ParticipantRow.address.in_(addresses))
            )
            if gln
        }
    )
    conditions: list[ColumnElement[bool]] = []
    if addresses:
        conditions.append(EventRow.submitter.in_(addresses))
    sites = [f"{ID_GS1}/414/{gln}" for gln in glns]
    for column in (EventRow.biz_location, EventRow.read_point):
        if sites:
            conditions.append(column.in_(sites))
        conditions += [column.like(f"{site}/%") for site in sites]
    described = sites_in(session, region)
    if described.inside:
        conditions += [described.condition(EventRow.biz_location)]
        conditions += [described.condition(EventRow.read_point)]
    return or_(*conditions) if conditions else false()
