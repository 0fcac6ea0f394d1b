"""A regulator's report for a period, a region and a product (docs/indexer.md, "Reports").

Every figure is read from the index in a few grouped queries; nothing is estimated:

- ``movements``: events dated (eventTime, UTC) in the period, by region and business step;
  an event's region is its business location's (master data), else its submitter's
  registered region. With a product: the events that changed the state of one of its packs
  (a case's shipment moves the packs inside it).
- ``dispensing``: packs dispensed in the period (their ``dispensed`` version's eventTime), by
  region and GTIN; a pack's region is its location's, else its holder's registered region.
- ``stock``: packs active or in transit **now** (at the report's chain height), by region
  and GTIN: the index keeps current state, and the height says when "now" was.
- ``recalls``: the recall registry's changes (recalled, released; suspended pending
  investigation, lifted, escalated to a recall, with the case number) in blocks of the period
  (a block is in the period when the blocks the index knows the times of bracket it there),
  each with its transaction and its **reach** now: the lot's packs by status, and how many
  holders and regions hold them.
- ``alerts``: alerts raised in blocks of the period, by kind and triage outcome (``open``,
  ``acknowledged``, ``assigned``, ``resolved``).
- ``complaints``: price complaints received in the period (by their receipt time), by GTIN
  and status (not chain-derived; a region's report has none: a complaint names its pharmacy
  in words).
- ``anchors``: every anchored batch whose events the movements count (root, transaction,
  block, events counted), and ``chain``: the checkpoint block (number, hash) the index stood
  at. An auditor re-reads those batches from the chain and the gateway (``provenance
  verify``) and recomputes the counts.

A region filter keeps the lines of that region (a country: its subdivisions'); a product
filter keeps that GTIN's (alerts are not product-specific: they are kept whole).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from indexer.alert_kinds import ALERT_KINDS
from indexer.queries.alerts import PARTY_FIELDS
from indexer.queries.masterdata import location_facts, region_of
from indexer.queries.scope import Scope
from indexer.store.models import (
    AlertRow,
    AlertTriageRow,
    AnchorRow,
    BlockRow,
    CheckpointRow,
    EventRow,
    ItemVersionRow,
    ParticipantProfileRow,
    PriceComplaintRow,
    RecallChangeRow,
)
from medledger.errors import ValidationError
from medledger.regions import in_region

#: The longest period one report covers.
MAX_DAYS: Final = 366
#: Columns of the CSV form (one table, every section in it: docs/indexer.md).
CSV_COLUMNS: Final = ("section", "region", "gtin", "lot", "key", "value", "reference")
UNKNOWN: Final = ""
OUTCOMES: Final = ("open", "acknowledged", "assigned", "resolved")
#: The recall registry's changes a report lists: recalls and releases, and suspensions pending
#: investigation (docs/suspensions.md) with how they ended.
RECALL_KINDS: Final = ("recalled", "released", "suspended", "lifted", "escalated")


@dataclass(frozen=True)
class Period:
    first: date
    last: date  # inclusive

    @classmethod
    def of(cls, first: date, last: date) -> Period:
        if last < first:
            raise ValidationError(
                f"the period ends ({last}) before it starts ({first})", rule="report.period"
            )
        if (last - first).days + 1 > MAX_DAYS:
            raise ValidationError(
                f"a report covers at most {MAX_DAYS} days, not {(last - first).days + 1}",
                rule="report.period",
            )
        return cls(first, last)

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time.min, UTC)

    @property
    def end(self) -> datetime:
        """The first instant after the period."""
        return datetime.combine(self.last + timedelta(days=1), time.min, UTC)


def report(
    session: Session, period: Period, *, region: str | None = None, gtin: str | None = None
) -> dict[str, Any]:
    """The report (see the module docstring) as JSON-ready data."""
    profiles: dict[str, str] = {
        address: where
        for address, where in session.execute(
            select(ParticipantProfileRow.address, ParticipantProfileRow.region)
        )
        if where
    }
    wanted = _RegionFilter(region)
    movements, anchors = _movements(session, period, gtin, profiles, wanted)
    first_block, last_block = _blocks(session, period)
    chain = session.execute(select(CheckpointRow.block_number, CheckpointRow.block_hash)).first()
    return {
        "period": {"from": period.first.isoformat(), "to": period.last.isoformat()},
        "region": region,
        "gtin": gtin,
        "chain": {
            "blockNumber": int(chain[0]) if chain else None,
            "blockHash": "0x" + bytes(chain[1]).hex() if chain else None,
        },
        "blocks": {"first": first_block, "last": last_block},
        "movements": movements,
        "dispensing": _dispensing(session, period, gtin, profiles, wanted),
        "stock": _stock(session, gtin, profiles, wanted),
        "recalls": _recalls(session, first_block, last_block, gtin, profiles, wanted),
        "alerts": _alerts(session, first_block, last_block, region),
        "complaints": _complaints(session, period, gtin, region),
        "anchors": anchors,
    }


class _RegionFilter:
    def __init__(self, region: str | None) -> None:
        self.region = region

    def keeps(self, where: str) -> bool:
        return self.region is None or in_region(where or None, self.region)


def _place_regions(
    session: Session,
    pairs: Iterable[tuple[str | None, str | None]],
    profiles: dict[str, str],
) -> dict[tuple[str | None, str | None], str]:
    """Each (participant, location)'s region: the location's master data, else the
    participant's registered region, else :data:`UNKNOWN`."""
    pairs = set(pairs)
    places = location_facts(session, {loc for _, loc in pairs})
    return {
        (who, loc): region_of(places, loc) or (profiles.get(who) if who else None) or UNKNOWN
        for who, loc in pairs
    }


def _in_period(column: Any, period: Period) -> Any:
    return and_(column >= period.start, column < period.end)


def _movements(
    session: Session,
    period: Period,
    gtin: str | None,
    profiles: dict[str, str],
    wanted: _RegionFilter,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    e = EventRow
    query = select(e.biz_location, e.submitter, e.biz_step, e.root, func.count()).where(
        _in_period(e.event_time, period)
    )
    if gtin is not None:
        v = ItemVersionRow
        made = select(v.event_hash).where(v.gtin == gtin, _in_period(v.event_time, period))
        query = query.where(e.event_hash.in_(made.scalar_subquery()))
    rows = session.execute(query.group_by(e.biz_location, e.submitter, e.biz_step, e.root)).all()
    regions = _place_regions(session, {(who, loc) for loc, who, _, _, _ in rows}, profiles)
    by_step: Counter[tuple[str, str]] = Counter()
    by_root: Counter[bytes] = Counter()
    for loc, who, step, root, n in rows:
        where = regions[(who, loc)]
        if not wanted.keeps(where):
            continue
        by_step[(where, _step(step))] += int(n)
        by_root[bytes(root)] += int(n)
    anchors: list[dict[str, Any]] = []
    roots = sorted(by_root)
    for part in _parts(roots):
        for root, tx, block in session.execute(
            select(AnchorRow.root, AnchorRow.tx_hash, AnchorRow.block_number).where(
                AnchorRow.root.in_(part)
            )
        ):
            anchors.append(
                {
                    "root": "0x" + bytes(root).hex(),
                    "txHash": tx,
                    "blockNumber": int(block),
                    "events": by_root[bytes(root)],
                }
            )
    anchors.sort(key=lambda a: (a["blockNumber"], a["root"]))
    return (
        [
            {"region": r, "bizStep": s, "events": n}
            for (r, s), n in sorted(by_step.items(), key=lambda p: p[0])
        ],
        anchors,
    )


def _step(biz_step: str | None) -> str:
    """``shipping`` for the CBV URI or the bare word; ``""`` for none."""
    if not biz_step:
        return ""
    return biz_step.rsplit(":", 1)[-1].rsplit("/", 1)[-1]


def _parts(values: list[Any], size: int = 1000) -> Iterable[list[Any]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _dispensing(
    session: Session,
    period: Period,
    gtin: str | None,
    profiles: dict[str, str],
    wanted: _RegionFilter,
) -> list[dict[str, Any]]:
    v = ItemVersionRow
    query = select(v.holder, v.location, v.gtin, func.count()).where(
        v.status == "dispensed", v.gtin.is_not(None), _in_period(v.event_time, period)
    )
    if gtin is not None:
        query = query.where(v.gtin == gtin)
    rows = session.execute(query.group_by(v.holder, v.location, v.gtin)).all()
    return _by_region_gtin(session, rows, profiles, wanted, "packs")


def _stock(
    session: Session, gtin: str | None, profiles: dict[str, str], wanted: _RegionFilter
) -> list[dict[str, Any]]:
    v = ItemVersionRow
    query = select(v.holder, v.location, v.gtin, v.status, func.count()).where(
        v.valid_to.is_(None), v.gtin.is_not(None), v.status.in_(("active", "in_transit"))
    )
    if gtin is not None:
        query = query.where(v.gtin == gtin)
    rows = session.execute(query.group_by(v.holder, v.location, v.gtin, v.status)).all()
    regions = _place_regions(session, {(h, loc) for h, loc, _, _, _ in rows}, profiles)
    lines: dict[tuple[str, str], dict[str, int]] = {}
    for holder, loc, g, status, n in rows:
        where = regions[(holder, loc)]
        if wanted.keeps(where):
            counts = lines.setdefault((where, g or ""), {"active": 0, "in_transit": 0})
            counts[status] += int(n)
    return [
        {"region": r, "gtin": g, "active": c["active"], "inTransit": c["in_transit"]}
        for (r, g), c in sorted(lines.items())
    ]


def _by_region_gtin(
    session: Session,
    rows: Iterable[Any],
    profiles: dict[str, str],
    wanted: _RegionFilter,
    name: str,
) -> list[dict[str, Any]]:
    rows = list(rows)
    regions = _place_regions(session, {(h, loc) for h, loc, _, _ in rows}, profiles)
    counted: Counter[tuple[str, str]] = Counter()
    for holder, loc, g, n in rows:
        where = regions[(holder, loc)]
        if wanted.keeps(where):
            counted[(where, g)] += int(n)
    return [{"region": r, "gtin": g, name: n} for (r, g), n in sorted(counted.items())]


def _blocks(session: Session, period: Period) -> tuple[int | None, int | None]:
    """The first and last block of the period, as far as the block times the index knows
    (checkpoint blocks and anchoring blocks) bracket it."""
    start, end = int(period.start.timestamp()), int(period.end.timestamp())
    known = [
        (BlockRow.number, BlockRow.timestamp),
        (AnchorRow.block_number, AnchorRow.block_timestamp),
    ]
    firsts, lasts = [], []
    for number, stamp in known:
        first = session.scalar(select(func.min(number)).where(stamp >= start, stamp < end))
        last = session.scalar(select(func.max(number)).where(stamp >= start, stamp < end))
        if first is not None and last is not None:
            firsts.append(int(first))
            lasts.append(int(last))
    if not firsts:
        return None, None
    return min(firsts), max(lasts)


def _recalls(
    session: Session,
    first: int | None,
    last: int | None,
    gtin: str | None,
    profiles: dict[str, str],
    wanted: _RegionFilter,
) -> list[dict[str, Any]]:
    if first is None or last is None:
        return []
    c = RecallChangeRow
    query = select(c).where(
        c.block_number >= first, c.block_number <= last, c.kind.in_(RECALL_KINDS)
    )
    if gtin is not None:
        query = query.where(c.gtin == gtin)
    out: list[dict[str, Any]] = []
    for change in session.scalars(query.order_by(c.block_number, c.log_index)):
        reach = _reach(session, change.gtin, change.lot, profiles, wanted)
        if wanted.region is not None and not reach["packs"]:
            continue  # no pack of the lot in the region
        out.append(
            {
                "gtin": change.gtin,
                "lot": change.lot,
                "kind": change.kind,
                "reasonCode": change.reason_code,
                "caseNumber": change.case_number,
                "blockNumber": change.block_number,
                "txHash": change.tx_hash,
                "reach": reach,
            }
        )
    return out


def _reach(
    session: Session, gtin: str, lot: str, profiles: dict[str, str], wanted: _RegionFilter
) -> dict[str, Any]:
    """The lot's packs now by status (in the region), and the holders and regions holding
    them."""
    v = ItemVersionRow
    rows = session.execute(
        select(v.holder, v.location, v.status, func.count())
        .where(v.valid_to.is_(None), v.gtin == gtin, v.lot == lot)
        .group_by(v.holder, v.location, v.status)
    ).all()
    regions = _place_regions(session, {(h, loc) for h, loc, _, _ in rows}, profiles)
    by_status: Counter[str] = Counter()
    holders: set[str] = set()
    places: set[str] = set()
    for holder, loc, status, n in rows:
        where = regions[(holder, loc)]
        if not wanted.keeps(where):
            continue
        by_status[status] += int(n)
        if status in ("active", "in_transit") and holder:
            holders.add(holder)
            places.add(where)
    return {
        "packs": sum(by_status.values()),
        "byStatus": dict(sorted(by_status.items())),
        "holders": len(holders),
        "regions": sorted(places),
    }


def _alerts(
    session: Session, first: int | None, last: int | None, region: str | None
) -> list[dict[str, Any]]:
    if first is None or last is None:
        return []
    a, t = AlertRow, AlertTriageRow
    query = (
        select(a.kind, a.evidence, func.coalesce(t.state, "open"))
        .outerjoin(t, t.alert_key == a.key)
        .where(a.block_number >= first, a.block_number <= last)
    )
    counted: Counter[tuple[str, str]] = Counter()
    parties: set[str] | None = None
    if region is not None:
        parties = set(Scope(region).participants(session) or [])
    for kind, evidence, state in session.execute(query):
        if region is not None and not _alert_in(evidence or {}, region, parties or set()):
            continue
        counted[(kind, state)] += 1
    return [
        {"kind": k, "outcome": o, "count": n}
        for (k, o), n in sorted(counted.items(), key=lambda p: (ALERT_KINDS.index(p[0][0]), p[0]))
    ]


def _complaints(
    session: Session, period: Period, gtin: str | None, region: str | None
) -> list[dict[str, Any]]:
    """Price complaints received in the period, by GTIN and status (a complaint names its
    pharmacy in words, not by region: a region's report leaves them out)."""
    if region is not None:
        return []
    c = PriceComplaintRow
    query = select(c.gtin, c.status, func.count()).where(
        c.received_at >= period.start, c.received_at < period.end
    )
    if gtin is not None:
        query = query.where(c.gtin == gtin)
    rows = session.execute(query.group_by(c.gtin, c.status).order_by(c.gtin, c.status))
    return [{"gtin": g, "status": st, "count": int(n)} for g, st, n in rows]


def _alert_in(evidence: dict[str, Any], region: str, parties: set[str]) -> bool:
    """The inspector's rule (a party of the region in :data:`PARTY_FIELDS`), or a region the
    evidence names (a ``shortage``'s)."""
    if isinstance(evidence.get("region"), str) and in_region(evidence["region"], region):
        return True
    return any(evidence.get(f) in parties for f in PARTY_FIELDS)


def totals(found: dict[str, Any]) -> dict[str, int]:
    """The report's totals, as the CSV and the page print them."""
    return {
        "events": sum(m["events"] for m in found["movements"]),
        "dispensed": sum(d["packs"] for d in found["dispensing"]),
        "active": sum(s["active"] for s in found["stock"]),
        "inTransit": sum(s["inTransit"] for s in found["stock"]),
        "recallChanges": len(found["recalls"]),
        "alerts": sum(a["count"] for a in found["alerts"]),
        "complaints": sum(c["count"] for c in found.get("complaints", [])),
        "anchors": len(found["anchors"]),
    }


def as_csv(found: dict[str, Any]) -> str:
    """The report as one CSV table (:data:`CSV_COLUMNS`), section by section."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    head = [
        ("from", found["period"]["from"]),
        ("to", found["period"]["to"]),
        ("region", found["region"] or ""),
        ("gtin", found["gtin"] or ""),
        ("chainHeight", found["chain"]["blockNumber"]),
        ("chainBlockHash", found["chain"]["blockHash"]),
        ("firstBlock", found["blocks"]["first"]),
        ("lastBlock", found["blocks"]["last"]),
    ]
    for key, value in head:
        w.writerow(("report", "", "", "", key, "" if value is None else value, ""))
    for key, value in totals(found).items():
        w.writerow(("total", "", "", "", key, value, ""))
    for m in found["movements"]:
        w.writerow(("movements", m["region"], "", "", m["bizStep"], m["events"], ""))
    for d in found["dispensing"]:
        w.writerow(("dispensing", d["region"], d["gtin"], "", "packs", d["packs"], ""))
    for s in found["stock"]:
        w.writerow(("stock", s["region"], s["gtin"], "", "active", s["active"], ""))
        w.writerow(("stock", s["region"], s["gtin"], "", "in_transit", s["inTransit"], ""))
    for r in found["recalls"]:
        ref = f"{r['txHash']}@{r['blockNumber']}"
        case = f" case={r['caseNumber']}" if r.get("caseNumber") else ""
        w.writerow(
            ("recalls", "", r["gtin"], r["lot"], r["kind"], r["reasonCode"] or "", ref + case)
        )
        for status, n in r["reach"]["byStatus"].items():
            w.writerow(("recall-reach", "", r["gtin"], r["lot"], status, n, ref))
        reach = r["reach"]
        w.writerow(("recall-reach", "", r["gtin"], r["lot"], "holders", reach["holders"], ref))
        places = ";".join(reach["regions"])
        n = len(reach["regions"])
        w.writerow(("recall-reach", places, r["gtin"], r["lot"], "regions", n, ref))
    for a in found["alerts"]:
        w.writerow(("alerts", "", "", "", f"{a['kind']}/{a['outcome']}", a["count"], ""))
    for c in found.get("complaints", []):
        w.writerow(("complaints", "", c["gtin"], "", c["status"], c["count"], ""))
    for anchor in found["anchors"]:
        ref = f"{anchor['txHash']}@{anchor['blockNumber']}"
        w.writerow(("anchors", "", "", "", anchor["root"], anchor["events"], ref))
    return out.getvalue()
