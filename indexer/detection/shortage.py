"""``shortage``: a region's days of supply of a product fell under its class's threshold.

Run by the loader after each write of custody (:mod:`indexer.store.supply` has counted it, in
the same transaction) for the (region, GTIN) pairs whose supply the write changed, with the
figures of :mod:`indexer.queries.supply` as of the supply clock. Under the threshold and no
shortage open: one is opened (``ix_shortages``) and a ``shortage`` alert (warning) raised,
its evidence the figures and the nearest regions holding a surplus. Back at or over it (a
delivery, or dispensing slowing down): the shortage is cleared in that block and its alert
withdrawn. A rollback (:func:`indexer.store.supply.rollback`) deletes the shortages opened
after the ancestor and re-opens (and re-raises) those cleared after it, so the index equals a
fresh one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from indexer.detection.config import DetectionConfig
from indexer.queries.supply import Figure, figures, nearest_surplus, supply_clock
from indexer.store import supply, writes
from indexer.store.models import AlertRow, ShortageRow


def evaluate(
    session: Session, block_number: int, keys: Iterable[tuple[str, str]], config: DetectionConfig
) -> None:
    """Open or clear the shortages of ``keys`` (region, GTIN) at ``block_number``."""
    wanted = sorted(set(keys))
    if not wanted:
        return
    today = supply_clock(session)
    if today is None:
        return
    thresholds = config.shortage_thresholds
    found = {
        (f.region, f.gtin): f
        for f in figures(session, today, config.shortage_window_days, thresholds, keys=wanted)
    }
    s = ShortageRow
    open_rows = {
        (row.region, row.gtin): row
        for row in session.scalars(select(s).where(s.cleared_block.is_(None)))
        if (row.region, row.gtin) in found or (row.region, row.gtin) in set(wanted)
    }
    for key in wanted:
        figure = found.get(key)
        short = figure is not None and figure.short
        row = open_rows.get(key)
        if short and row is None and figure is not None:
            _open(session, block_number, today, figure, config)
        elif not short and row is not None:
            row.cleared_block = block_number
            row.cleared_day = today
            session.execute(delete(AlertRow).where(AlertRow.key == row.alert_key))


def _open(
    session: Session, block_number: int, today: date, f: Figure, config: DetectionConfig
) -> None:
    key = writes.alert_key(supply.KIND, f.region, f.gtin, block_number)
    days = f.days or 0.0
    evidence = {
        **f.as_json(),
        "asOf": today.isoformat(),
        "blockNumber": block_number,
        "product": f"https://id.gs1.org/01/{f.gtin}",
        "surplus": nearest_surplus(session, f, today, config.shortage_thresholds),
    }
    alert = {
        "subject": f"https://id.gs1.org/01/{f.gtin}",
        "message": f"{f.on_hand} packs of GTIN {f.gtin} in {f.region} last {days:.1f} days at "
        f"{f.daily_rate:.2f} dispensed a day (threshold {f.threshold:g} days) as of {today}",
        "evidence": evidence,
    }
    existing = session.get(ShortageRow, (f.region, f.gtin, block_number))
    if existing is not None:  # opened, cleared and short again in one block
        existing.cleared_block = existing.cleared_day = None
        existing.alert = alert
    else:
        session.add(
            ShortageRow(
                region=f.region,
                gtin=f.gtin,
                opened_block=block_number,
                opened_day=today,
                cleared_block=None,
                cleared_day=None,
                alert_key=key,
                alert=alert,
            )
        )
    supply.raise_alert(session, key, block_number, alert)
