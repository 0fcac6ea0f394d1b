"""What the lot and recall pages read from the index: a lot's facts and holders, its recall as
the registry logged it, the recall's scope by holder and region, and its progress day by day.

Regions come from :func:`regions_of`: the region location master data gives the places where a
holder keeps the lot's packs (a site's ISO 3166-2 subdivision, ``docs/masterdata.md``), else
the participant's registered region (the profile the gateway gives, ``ix_participant_profiles``).
The product's name and facts are its master data's.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from indexer.queries.common import lot_class_id, participants
from indexer.queries.masterdata import location_facts, product_facts, region_of
from indexer.queries.origin import origin_bundle
from indexer.queries.recalls import holder_status_summary
from indexer.store.models import (
    BlockRow,
    EventRow,
    ItemVersionRow,
    LotRow,
    ParticipantProfileRow,
    RecallChangeRow,
    RecallRow,
)
from medledger.custody.operations import RETURN_DISPOSITIONS
from medledger.errors import ProvenanceError

#: Statuses a pack is still in circulation with (on a shelf, or on its way somewhere).
LIVE: Final = ("active", "in_transit")
#: Progress categories, in the order the page shows them.
PROGRESS: Final = ("on_shelves", "returned", "destroyed", "dispensed")
#: Past this many versions of a lot the page shows today's counts only, not a day-by-day table.
MAX_VERSIONS: Final = 200_000
MAX_DAYS: Final = 60


def regions_of(
    session: Session,
    addresses: Iterable[str],
    places: dict[str, set[str]] | None = None,
) -> dict[str, str | None]:
    """Each participant's region (ISO 3166-2), or None where none is known: the master data
    region of one of its ``places`` (location URIs, the first in order that has one), else its
    registered region."""
    wanted = sorted(set(addresses))
    places = places or {}
    facts = location_facts(session, (p for a in wanted for p in places.get(a, ())))
    located: dict[str, str] = {}
    for address in wanted:
        for place in sorted(places.get(address, ())):
            region = region_of(facts, place)
            if region is not None:
                located[address] = region
                break
    found = {
        row.address: row.region
        for row in session.execute(
            select(ParticipantProfileRow.address, ParticipantProfileRow.region).where(
                ParticipantProfileRow.address.in_(wanted)
            )
        )
    }
    return {a: located.get(a) or found.get(a) for a in wanted}


@dataclass
class Lot:
    gtin: str
    lot: str
    expiry: date | None
    commissioned_by: str
    recall: RecallRow | None
    #: (holder, status, count) now
    summary: list[dict[str, Any]]
    known: dict[str, dict[str, Any]] = field(default_factory=dict)
    regions: dict[str, str | None] = field(default_factory=dict)
    #: master data of the product (name, dosageForm, strength, ...), None where none is known
    product: dict[str, Any] | None = None

    @property
    def identifier(self) -> str:
        return lot_class_id(self.gtin, self.lot)

    @property
    def recalled(self) -> bool:
        return self.recall is not None and self.recall.recalled

    @property
    def suspended(self) -> bool:
        """Suspended pending investigation, as far as the index has read (docs/suspensions.md)."""
        return self.recall is not None and bool(self.recall.suspended)

    def by_status(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for row in self.summary:
            counts[row["status"]] += row["count"]
        return dict(sorted(counts.items()))

    def holders(self) -> list[dict[str, Any]]:
        """One row per holder: its name's address, region, and counts by status."""
        rows: dict[str, dict[str, Any]] = {}
        for row in self.summary:
            holder = row["holder"] or ""
            entry = rows.setdefault(
                holder, {"holder": holder, "region": self.regions.get(holder), "counts": {}}
            )
            entry["counts"][row["status"]] = row["count"]
        return sorted(rows.values(), key=lambda r: -sum(r["counts"].values()))


def read_lot(session: Session, gtin: str, lot: str) -> Lot | None:
    """The lot now, or None where the index never saw it."""
    row = session.get(LotRow, (gtin, lot))
    if row is None:
        return None
    summary = holder_status_summary(session, gtin, lot)
    holders = [s["holder"] for s in summary if s["holder"]]
    v = ItemVersionRow
    places: dict[str, set[str]] = defaultdict(set)
    for holder, place in session.execute(
        select(v.holder, v.location)
        .where(v.valid_to.is_(None), v.gtin == gtin, v.lot == lot, v.location.is_not(None))
        .distinct()
    ):
        if holder and place:
            places[holder].add(place)
    return Lot(
        gtin=gtin,
        lot=lot,
        expiry=row.expiry,
        commissioned_by=row.commissioned_by,
        recall=session.get(RecallRow, (gtin, lot)),
        summary=summary,
        known=participants(session, [*holders, row.commissioned_by]),
        regions=regions_of(session, holders, places),
        product=product_facts(session, [gtin]).get(gtin),
    )


def origin_of(session: Session, found: Lot, deployment: Any) -> tuple[dict[str, Any] | None, str]:
    """The lot's origin bundle (API lots, their makers, the mass balance), or why there is none."""
    try:
        return origin_bundle(session, found.identifier, deployment), ""
    except ProvenanceError as exc:
        return None, str(exc)


@dataclass(frozen=True)
class RecallOnChain:
    """The recall in force as the registry logged it: its block, time and transaction."""

    block: int
    at: datetime
    tx_hash: str
    reason_code: int | None


def recall_on_chain(session: Session, gtin: str, lot: str) -> RecallOnChain | None:
    """The registry's latest ``recalled`` log of the lot while it is recalled (None: not
    recalled, as far as the index has read)."""
    state = session.get(RecallRow, (gtin, lot))
    if state is None or not state.recalled:
        return None
    change = session.scalar(
        select(RecallChangeRow)
        .where(
            RecallChangeRow.gtin == gtin,
            RecallChangeRow.lot == lot,
            RecallChangeRow.kind == "recalled",
        )
        .order_by(RecallChangeRow.block_number.desc(), RecallChangeRow.log_index.desc())
        .limit(1)
    )
    if change is None:
        return None
    block = session.get(BlockRow, change.block_number)
    at = datetime.fromtimestamp(block.timestamp, UTC) if block is not None else None
    return RecallOnChain(change.block_number, at or datetime.now(UTC), change.tx_hash, None)


def category(
    status: str,
    holder: str | None,
    maker: str,
    block: int,
    recalled_at: int,
    *,
    back: bool = False,
) -> str:
    """Where a pack stands in a recall: still on a shelf (or in transit), returned (``back``:
    received back by a return since the recall, and not ended; or back with the lot's maker
    after the recall), destroyed (or decommissioned) or dispensed."""
    if status == "dispensed":
        return "dispensed"
    if status in ("destroyed", "decommissioned"):
        return "destroyed"
    if back and status in LIVE:
        return "returned"
    if holder == maker and block > recalled_at and status == "active":
        return "returned"
    return "on_shelves"


def is_return_shipment(biz_step: str | None, disposition: str | None) -> bool:
    """Whether an event sends what it names back up the chain: a shipping with disposition
    ``returned`` or ``recalled`` (the ``pharma`` rules' ``return``)."""
    return biz_step == "shipping" and disposition in RETURN_DISPOSITIONS


@dataclass
class Progress:
    """Packs of the recalled lot by category: at the recall, now, and at the end of each day
    with a change since (empty past :data:`MAX_VERSIONS`)."""

    at_recall: dict[str, int]
    now: dict[str, int]
    days: list[tuple[date, dict[str, int]]]


def progress(session: Session, found: Lot, recall: RecallOnChain) -> Progress:
    """How the recall went: every pack that was in circulation when the lot was recalled,
    followed version by version (packs ended before the recall are outside it)."""
    v, e = ItemVersionRow, EventRow
    rows = session.execute(
        select(v.identifier, v.block_number, v.status, v.holder, e.biz_step, e.disposition)
        .join(e, e.event_hash == v.event_hash, isouter=True)
        .where(v.gtin == found.gtin, v.lot == found.lot, v.identifier.like("%/21/%"))
        .order_by(v.identifier, v.valid_from)
        .limit(MAX_VERSIONS + 1)
    ).all()
    timeline: dict[str, list[tuple[int, str]]] = defaultdict(list)
    sent: set[str] = set()  # sent back by a return since the recall
    back: set[str] = set()  # and received back
    for identifier, block, status, holder, step, disposition in rows:
        if block > recall.block:
            if is_return_shipment(step, disposition):
                sent.add(identifier)
            elif identifier in sent and status == "active":
                back.add(identifier)
        cat = category(
            status, holder, found.commissioned_by, block, recall.block, back=identifier in back
        )
        timeline[identifier].append((block, cat))
    in_scope: dict[str, list[tuple[int, str]]] = {}
    for identifier, versions in timeline.items():
        before = [c for b, c in versions if b <= recall.block]
        if before and before[-1] != "on_shelves":
            continue  # ended before the recall: not part of it
        in_scope[identifier] = versions
    blocks = sorted({b for vs in in_scope.values() for b, _ in vs if b > recall.block})
    times = _block_days(session, blocks)

    def at(limit: int) -> dict[str, int]:
        counts = dict.fromkeys(PROGRESS, 0)
        for versions in in_scope.values():
            state = "on_shelves"
            for block, cat in versions:
                if block > limit:
                    break
                state = cat
            counts[state] += 1
        return counts

    days: list[tuple[date, dict[str, int]]] = []
    if len(rows) <= MAX_VERSIONS:
        last_of_day: dict[date, int] = {}
        for block in blocks:
            last_of_day[times[block]] = block
        for day, block in sorted(last_of_day.items())[-MAX_DAYS:]:
            days.append((day, at(block)))
    return Progress(at_recall=at(recall.block), now=at(2**62), days=days)


def _block_days(session: Session, blocks: list[int]) -> dict[int, date]:
    """The UTC day of each block (blocks the index did not keep: the next kept block's day)."""
    if not blocks:
        return {}
    known = {
        row.number: row.timestamp
        for row in session.execute(
            select(BlockRow.number, BlockRow.timestamp).where(
                BlockRow.number >= blocks[0], BlockRow.number <= blocks[-1]
            )
        )
    }
    out: dict[int, date] = {}
    fallback = datetime.now(UTC).date()
    for block in reversed(blocks):
        stamp = known.get(block)
        if stamp is not None:
            fallback = datetime.fromtimestamp(stamp, UTC).date()
        out[block] = fallback
    return out
