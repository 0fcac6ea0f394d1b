"""Expiry: expired packs still in stock, and packs expiring soon.

These depend on the date, not on events, so they are not derived as batches arrive: a
**sweep** (:func:`sweep`) recomputes them from the current state. The follower sweeps at most
every ``expiry_sweep_seconds`` while it runs (:func:`maybe_sweep`); tests and tools call
:func:`sweep` with an explicit ``today``.

- ``expired-in-stock`` (warning): packs of a lot whose expiry (ILMD ``itemExpirationDate``)
  is before ``today`` are held (``active``) or in transit.
- ``expiring-soon`` (info): the same for lots expiring within ``expiry_window_days``.

One alert per (kind, lot, holder); each sweep replaces the previous sweep's alerts, so they
state the stock as of the last sweep (``asOf``). Their ``block_number`` is the checkpoint's at
the sweep: a rollback below it removes them until the next sweep. Evidence: the lot, its
expiry, the holder, the count and up to 20 of the packs, and the lot's first event.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import and_, delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from indexer.detection.config import DetectionConfig
from indexer.store import writes
from indexer.store.models import AlertRow, EventRow, ItemVersionRow, LotRow
from medledger.epcis.event_id import event_id_of

KINDS = ("expired-in-stock", "expiring-soon")
SAMPLE = 20

V = ItemVersionRow


def sweep(session: Session, today: date, config: DetectionConfig | None = None) -> int:
    """Replace the expiry alerts with those of ``today``; the number written. The caller
    commits."""
    config = config or DetectionConfig()
    horizon = today + timedelta(days=config.expiry_window_days)
    session.execute(delete(AlertRow).where(AlertRow.kind.in_(KINDS)))
    checkpoint = writes.get_checkpoint(session)
    block = checkpoint.block_number if checkpoint is not None else 0
    groups = session.execute(
        select(V.gtin, V.lot, V.holder, LotRow.expiry, LotRow.first_seq, func.count())
        .join(LotRow, and_(LotRow.gtin == V.gtin, LotRow.lot == V.lot))
        .where(
            V.valid_to.is_(None),
            V.status.in_(("active", "in_transit")),
            LotRow.expiry.is_not(None),
            LotRow.expiry <= horizon,
        )
        .group_by(V.gtin, V.lot, V.holder, LotRow.expiry, LotRow.first_seq)
        .order_by(V.gtin, V.lot, V.holder)
    ).all()
    written = 0
    for gtin, lot, holder, expiry, first_seq, count in groups:
        if expiry is None:
            continue
        kind = "expired-in-stock" if expiry < today else "expiring-soon"
        packs = list(
            session.scalars(
                select(V.identifier)
                .where(V.valid_to.is_(None), V.gtin == gtin, V.lot == lot, V.holder == holder)
                .where(V.status.in_(("active", "in_transit")))
                .order_by(V.identifier)
                .limit(SAMPLE)
            )
        )
        first = session.execute(
            select(EventRow.event_hash, EventRow.root).where(EventRow.seq == first_seq)
        ).one_or_none()
        lot_id = f"https://id.gs1.org/01/{gtin}/10/{lot}"
        state = "expired on" if kind == "expired-in-stock" else "expires on"
        writes.add_alert(
            session,
            kind=kind,
            severity="warning" if kind == "expired-in-stock" else "info",
            block_number=block,
            subject=lot_id,
            message=f"{count} packs of lot {lot} (GTIN {gtin}), which {state} {expiry}, are in "
            f"stock with {holder} as of {today}",
            evidence={
                "asOf": today.isoformat(),
                "lot": lot_id,
                "expiry": expiry.isoformat(),
                "holder": holder,
                "packs": count,
                "sample": packs,
                "lotEvent": {"eventID": event_id_of(first[0]), "root": "0x" + first[1].hex()}
                if first is not None
                else None,
            },
            key_parts=(gtin, lot, holder),
        )
        written += 1
    return written


_last: dict[int, float] = {}
_lock = threading.Lock()


def maybe_sweep(
    sessions: sessionmaker[Session], config: DetectionConfig, today: date | None = None
) -> bool:
    """Sweep (and commit) if the last sweep through ``sessions`` is older than
    ``expiry_sweep_seconds``; whether it swept."""
    now = time.monotonic()
    with _lock:
        last = _last.get(id(sessions))
        if last is not None and now - last < config.expiry_sweep_seconds:
            return False
        _last[id(sessions)] = now
    with sessions() as session:
        sweep(session, today or datetime.now(UTC).date(), config)
        session.commit()
    return True
