"""Commissioning authority: packs and lots commissioned by a participant that had no right to.

``unauthorised-commissioning`` (critical), one alert per pack (or class-level lot) named by an
anchored commissioning (``ObjectEvent`` ADD, or a transformation's outputs) that breaks one of
the rules the gateway's ``pharma`` rule set enforces (docs/rules.md), judged from what the chain
says, not from what the gateway decided (defence in depth: a participant on the ``epcis`` rule
set, or one that anchors with its own tools, passes no gateway rule):

- ``commission.not-own-product``: the GTIN is not under one of the submitter's GS1 company
  prefixes (``ParticipantRegistry.CompanyPrefixesSet``, mirrored in ``ix_participants``);
- ``commission.lot-not-own``: the lot is someone else's: its registrant in the recall registry
  (``BatchRegistered``), or, if nobody registered it, the participant that commissioned into it
  first (``ix_lots.commissioned_by``);
- ``commission.over-declared``: the event takes the lot past the packs its registrant declared
  on-chain (``BatchRegistered.packs``); every pack of that event is flagged, as the gateway
  refuses the whole event.

Evidence: the rule, GTIN, lot, submitter, the lot's owner and declared packs, the submitter's
prefixes, and the commissioning event with its anchor. The public check answers ``suspect`` for
a pack with such an alert (:mod:`indexer.queries.check`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, tuple_

from indexer.detection.context import BatchView, operation
from indexer.store import writes
from indexer.store.models import ItemVersionRow, LotRow, ParticipantRow, RecallRow
from indexer.store.state import chunks
from medledger.custody.operations import Operation
from medledger.custody.state import owns_gtin
from medledger.epcis.digital_link import gtin_of, is_serial, lot_of_class
from medledger.epcis.normalise import NormalisedEvent

KIND = "unauthorised-commissioning"


@dataclass(frozen=True)
class _Commissioned:
    identifier: str
    gtin: str
    lot: str | None
    pack: bool  # an SGTIN (counted against the lot's packs), not a class-level lot


def _commissioned(ev: NormalisedEvent) -> Iterator[_Commissioned]:
    """What the event brings into being that carries a GTIN."""
    op = operation(ev)
    if op is Operation.COMMISSION_SERIAL:
        epcs, quantities = ev.epcs, ev.quantities
    elif op is Operation.TRANSFORM:
        epcs, quantities = ev.output_epcs, ev.output_quantities
    else:
        return
    for epc in epcs:
        gtin = gtin_of(epc)
        if gtin is not None:
            serial = is_serial(epc)
            yield _Commissioned(epc, gtin, ev.lot if serial else None, serial)
    for q in quantities:
        found = lot_of_class(q.class_id)
        gtin = found[0] if found else gtin_of(q.class_id)
        if gtin is not None:
            yield _Commissioned(q.class_id, gtin, found[1] if found else None, False)


def detect(batch: BatchView) -> None:
    events = [(ev, ctx, list(_commissioned(ev))) for ev, ctx in batch.custody]
    events = [e for e in events if e[2]]
    if not events:
        return
    lots: set[tuple[str, str]] = set()
    for _, _, made in events:
        lots.update((c.gtin, c.lot) for c in made if c.lot is not None)
    prefixes = _prefixes(batch, {ctx.submitter for _, ctx, _ in events})
    registered, first = _owners(batch, sorted(lots))
    running = _packs_before(batch, registered, events)
    for ev, ctx, made in events:
        mine = prefixes.get(ctx.submitter, ())
        flagged: list[tuple[_Commissioned, str, str]] = []
        over: dict[tuple[str, str], int] = {}
        for c in made:
            if not owns_gtin(mine, c.gtin):
                shown = ", ".join(mine) or "none registered"
                flagged.append(
                    (c, "commission.not-own-product", f"GTIN {c.gtin} is not under the "
                     f"submitter's GS1 company prefixes ({shown})")
                )  # fmt: skip
                continue
            if c.lot is None:
                continue
            key = (c.gtin, c.lot)
            owner = registered[key][0] if key in registered else first.get(key)
            if owner is not None and owner != ctx.submitter:
                how = "registered" if key in registered else "first commissioned"
                flagged.append(
                    (c, "commission.lot-not-own", f"lot {c.lot} of GTIN {c.gtin} was {how} by "
                     f"{owner}, not by the submitter")
                )  # fmt: skip
                continue
            declared = registered[key][1] if key in registered else None
            if c.pack and declared is not None:
                running[key] = running.get(key, 0) + 1
                over[key] = declared
        past = {k for k, packs in over.items() if running[k] > packs}
        for c in made:
            key = (c.gtin, c.lot or "")
            if c.pack and key in past and not any(f[0] is c for f in flagged):
                flagged.append(
                    (c, "commission.over-declared", f"lot {c.lot} of GTIN {c.gtin} was declared "
                     f"for {registered[key][1]} packs; this commissioning brings it to "
                     f"{running[key]}")
                )  # fmt: skip
        if flagged:
            _raise(batch, ev, ctx.event_hash, ctx.submitter, mine, flagged, registered, first)


def _prefixes(batch: BatchView, submitters: set[str]) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for part in chunks(sorted(submitters)):
        query = select(ParticipantRow.address, ParticipantRow.company_prefixes).where(
            ParticipantRow.address.in_(part)
        )
        for address, found in batch.session.execute(query):
            out[address] = tuple(found.split()) if found else ()
    return out


def _owners(
    batch: BatchView, lots: list[tuple[str, str]]
) -> tuple[dict[tuple[str, str], tuple[str, int | None]], dict[tuple[str, str], str]]:
    """Registrant and declared packs of the registered lots; first commissioner of the rest."""
    registered: dict[tuple[str, str], tuple[str, int | None]] = {}
    first: dict[tuple[str, str], str] = {}
    for part in chunks(lots):
        for gtin, lot, maker, packs in batch.session.execute(
            select(RecallRow.gtin, RecallRow.lot, RecallRow.manufacturer, RecallRow.packs).where(
                tuple_(RecallRow.gtin, RecallRow.lot).in_(part),
                RecallRow.manufacturer.is_not(None),
            )
        ):
            registered[(gtin, lot)] = (str(maker), packs)
        for gtin, lot, by in batch.session.execute(
            select(LotRow.gtin, LotRow.lot, LotRow.commissioned_by).where(
                tuple_(LotRow.gtin, LotRow.lot).in_(part)
            )
        ):
            first[(gtin, lot)] = by
    return registered, first


def _packs_before(
    batch: BatchView,
    registered: dict[tuple[str, str], tuple[str, int | None]],
    events: list[tuple[NormalisedEvent, Any, list[_Commissioned]]],
) -> dict[tuple[str, str], int]:
    """Packs of each registered lot with a declared count commissioned before this batch: its
    current versions now, less the packs this batch commissioned into it."""
    mine: dict[tuple[str, str], set[str]] = {}
    for _, _, made in events:
        for c in made:
            if c.pack and c.lot is not None and registered.get((c.gtin, c.lot), ("", None))[1]:
                mine.setdefault((c.gtin, c.lot), set()).add(c.identifier)
    out: dict[tuple[str, str], int] = {}
    for (gtin, lot), new in mine.items():
        now = batch.session.scalar(
            select(func.count())
            .select_from(ItemVersionRow)
            .where(
                ItemVersionRow.gtin == gtin,
                ItemVersionRow.lot == lot,
                ItemVersionRow.valid_to.is_(None),
            )
        )
        out[(gtin, lot)] = max(0, int(now or 0) - len(new))
    return out


def _raise(
    batch: BatchView,
    ev: NormalisedEvent,
    event_hash: bytes,
    submitter: str,
    prefixes: tuple[str, ...],
    flagged: list[tuple[_Commissioned, str, str]],
    registered: dict[tuple[str, str], tuple[str, int | None]],
    first: dict[tuple[str, str], str],
) -> None:
    """One alert per flagged identifier, the event's anchor looked up once."""
    anchor = batch.references([event_hash]).get(event_hash, {})
    for c, rule, message in flagged:
        key = (c.gtin, c.lot or "")
        owner = registered[key][0] if key in registered else first.get(key)
        packs = registered[key][1] if key in registered else None
        evidence: dict[str, Any] = {
            "root": anchor.get("root"),
            "txHash": anchor.get("txHash"),
            "blockNumber": anchor.get("blockNumber"),
            "submitter": submitter,
            "eventHash": "0x" + event_hash.hex(),
            "eventID": anchor.get("eventID"),
            "identifier": c.identifier,
            "events": [{"role": "commissioning", **anchor}],
            "rule": rule,
            "gtin": c.gtin,
            "lot": c.lot,
            "owner": owner,
            "declaredPacks": packs,
            "companyPrefixes": list(prefixes),
        }
        writes.add_alert(
            batch.session,
            kind=KIND,
            severity="critical",
            block_number=batch.block_number,
            subject=c.identifier,
            message=f"event {ev.index}: {message} [{rule}]",
            evidence=evidence,
            key_parts=(f"{event_hash.hex()}:{c.identifier}",),
        )
