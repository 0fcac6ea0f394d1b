"""Unusual transit: time in transit far above the usual for the route, or a route never seen.

A **lane** is (shipper location, receiver location, GTIN). Each receipt of packs gives one
**observation** per GTIN it brings in (a case of 25 packs of one product is one observation,
not 25): the time from the shipment (the eventTime of the event that put the received item in
transit) to the receipt, in seconds. Observations are rows of ``ix_transit_observations``,
each with the block that applied the receipt, so a reorganisation removes them with that
block. A receipt held back for an item (its batch overtook the shipment it follows, see
:mod:`indexer.projection`) is not observed for that item in its own block, where the item is
still in transit on another lane or with its shipper: it is observed when it is re-tried and
fits (or settles), in that later block, from the shipment it then follows. The lane's
statistics are aggregated from the rows that precede the receipt in chain order (count, mean
and the sum of squared values; variance = (sum x^2 - n mean^2) / (n - 1)). Aggregating in the
query instead of keeping running totals (Welford's count, mean and M2) keeps the statistics
exact under rollback and makes an index rebuilt from scratch identical to one that lived
through a reorganisation.

- ``unusual-transit`` (warning): the lane has at least ``transit_min_observations`` earlier
  observations and this one exceeds mean + ``transit_sigmas`` x standard deviation and exceeds
  the mean by at least ``transit_min_excess_seconds`` (so a lane whose times never varied does
  not flag a few minutes' delay).
- ``new-route`` (info): the lane was never seen before, and the index already holds at least
  ``new_route_min_history`` observations over all lanes (a young network's routes are all new;
  they are counted up to that number, so the evidence's ``history`` is at most it).

A return's receipt (disposition ``returned`` or ``recalled``: packs going back up the chain,
docs/rules.md) is not an observation: returns are not the lanes supply travels.

Evidence: the shipment (role ``shipping``) and the receipt (role ``receiving``), the lane, the
transit time and the lane's statistics.
"""

from __future__ import annotations

import math

from sqlalchemy import Float, cast, func, insert, select

from indexer.detection.context import BatchView, operation
from indexer.store.models import TransitObservationRow
from medledger.custody.operations import Operation, is_return_receipt

T = TransitObservationRow


def detect(batch: BatchView) -> None:
    receipts = [
        (ev, ctx)
        for ev, ctx in batch.custody
        if operation(ev) is Operation.RECEIVE and not is_return_receipt(ev.disposition)
    ]
    if not receipts:
        return
    history: int | None = None
    replayed = {ctx.seq for _, ctx in batch.projection.replayed}
    for ev, ctx in receipts:
        destination = ev.biz_location or ev.read_point
        shipped = None
        for identifier in ev.epcs:
            if batch.held(ctx.event_hash, identifier):
                continue  # not received yet: observed when it is applied (re-tried, settled)
            state = batch.before(identifier, ctx.seq)
            if state is not None and state.status == "in_transit" and state.location:
                shipped = state
                break
        if shipped is None or shipped.location is None or destination is None:
            continue
        seconds = int((ev.event_time - shipped.event_time).total_seconds())
        if seconds < 0:
            continue
        gtins = sorted({v.gtin for v in batch.changed_at(ctx.seq) if v.gtin}) or [""]
        observations: list[dict[str, object]] = []
        if history is None:
            history = _history(batch, ctx.seq)
        for gtin in gtins:
            observed = ctx.seq in replayed and (
                batch.session.get(T, (ctx.event_hash, gtin)) is not None
            )
            if observed:
                continue  # a receipt re-tried pack by pack: observed once
            lane: tuple[str, str, str] = (shipped.location, destination, gtin)
            _judge(batch, ctx.event_hash, ctx.seq, shipped.event_hash, lane, seconds, history)
            observations.append(
                {
                    "event_hash": ctx.event_hash,
                    "gtin": gtin,
                    "origin": lane[0],
                    "destination": lane[1],
                    "seq": ctx.seq,
                    "block_number": batch.block_number,
                    "shipping_event_hash": shipped.event_hash,
                    "seconds": seconds,
                }
            )
            history += 1
        if observations:  # before the next receipt's statistics are read
            batch.session.execute(insert(T.__table__), observations)  # type: ignore[arg-type]


def _history(batch: BatchView, seq: int) -> int:
    """Observations before ``seq``, counted up to ``new_route_min_history`` (all the rule
    asks): a count of every observation grew with the network's age, once per batch with
    receipts."""
    enough = batch.config.new_route_min_history
    earlier = select(T.seq).where(T.seq < seq).limit(enough).subquery()
    return int(batch.session.scalar(select(func.count()).select_from(earlier)) or 0)


def _judge(
    batch: BatchView,
    receipt: bytes,
    seq: int,
    shipment: bytes,
    lane: tuple[str, str, str],
    seconds: int,
    history: int,
) -> None:
    x = cast(T.seconds, Float)
    count, mean, mean_sq = batch.session.execute(
        select(func.count(), func.avg(x), func.avg(x * x)).where(
            T.origin == lane[0], T.destination == lane[1], T.gtin == lane[2], T.seq < seq
        )
    ).one()
    config = batch.config
    details = {
        "lane": {"from": lane[0], "to": lane[1], "gtin": lane[2] or None},
        "transitSeconds": seconds,
    }
    events = [("shipping", shipment), ("receiving", receipt)]
    subject = lane[2] and f"https://id.gs1.org/01/{lane[2]}"
    if count == 0:
        if history >= config.new_route_min_history:
            batch.alert(
                "new-route",
                "info",
                trigger=receipt,
                subject=subject or None,
                message=f"first receipt on the route {lane[0]} -> {lane[1]} for GTIN {lane[2]}",
                events=events,
                key=f"{receipt.hex()}:{lane[2]}",
                history=min(history, config.new_route_min_history),
                **details,
            )
        return
    if count < config.transit_min_observations:
        return
    mean = float(mean)
    variance = max(float(mean_sq) - mean * mean, 0.0) * count / (count - 1)
    sd = math.sqrt(variance)
    limit = mean + config.transit_sigmas * sd
    if seconds <= limit or seconds - mean < config.transit_min_excess_seconds:
        return
    batch.alert(
        "unusual-transit",
        "warning",
        trigger=receipt,
        subject=subject or None,
        message=f"{seconds / 3600:.1f} h in transit {lane[0]} -> {lane[1]}, usually "
        f"{mean / 3600:.1f} h (sd {sd / 3600:.1f} h over {count} receipts)",
        events=events,
        key=f"{receipt.hex()}:{lane[2]}",
        laneStatistics={"count": count, "meanSeconds": round(mean), "sdSeconds": round(sd)},
        limitSeconds=round(limit),
        **details,
    )
