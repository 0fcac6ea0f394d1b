"""Mass-balance violations: a transformation claiming more packs than its API can make.

``mass-balance`` (critical): a TransformationEvent whose packs produced (output EPCs plus
counted output quantities) times the API per pack of its ILMD (``mpl:apiPerPack``) exceed the
API it consumed (input quantities in KGM, GRM or MGM) by more than ``mass_balance_tolerance``
(default 5%): the formula of :mod:`medledger.formats.mass_balance`, the one origin proofs use.
A transformation that does not allow the computation (no ``mpl:apiPerPack``, inputs that are
not masses) raises nothing. Evidence: the transformation (role ``transformation``) and the
recomputed balance.
"""

from __future__ import annotations

import json

from sqlalchemy import select

from indexer.detection.context import BatchView
from indexer.store.models import EventRow
from medledger.epcis.digital_link import gtin_of
from medledger.formats.mass_balance import MassBalanceError, compute_mass_balance


def detect(batch: BatchView) -> None:
    for ev, ctx in batch.custody:
        if ev.type != "TransformationEvent" or not ev.input_quantities:
            continue
        query = select(EventRow.raw).where(EventRow.event_hash == ctx.event_hash)
        raw = batch.session.scalar(query)
        if raw is None:
            continue
        event = json.loads(raw)
        try:
            balance = compute_mass_balance([event], tolerance=batch.config.mass_balance_tolerance)
        except MassBalanceError:
            continue
        if balance.ok:
            continue
        outputs = event.get("outputEPCList") or [
            q.get("epcClass") for q in event.get("outputQuantityList") or []
        ]
        batch.alert(
            "mass-balance",
            "critical",
            trigger=ctx.event_hash,
            subject=_lot_of(ev.output_epcs, ev.lot),
            message=f"transformation claims more than its API can make: {balance.describe()}",
            events=[("transformation", ctx.event_hash)],
            key=ctx.event_hash.hex(),
            balance=balance.to_json(),
            outputs=len(outputs),
            firstOutput=outputs[0] if outputs else None,
        )


def _lot_of(outputs: tuple[str, ...], lot: str | None) -> str | None:
    """The finished lot a transformation made (its class id), when it names one."""
    gtin = gtin_of(outputs[0]) if outputs else None
    return f"https://id.gs1.org/01/{gtin}/10/{lot}" if gtin and lot else None
