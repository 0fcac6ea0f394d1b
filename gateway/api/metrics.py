"""The gateway's Prometheus metrics, one registry per app (see docs/operations.md).

Capture happens in the server process, so its counters are ordinary in-process counters. The
batcher may run in a process of its own (PostgreSQL and a node: provenance/serve.py), so what
it does is read at scrape time from the store, which both processes share: batches by state,
the seal-to-anchored latency (from the batches' ``sealed_at`` and ``anchored_at``), the backlog,
the anchors the reconciler found vanished, re-anchored or moved (``anchor_history``), and the gas
of anchors (from the receipts of batches anchored since the app started).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import ColumnElement, Float, and_, case, cast, func, or_, select

from chain.client import Chain
from gateway.integrity import IntegrityAlarm
from gateway.service import GatewayService
from gateway.store.batches import anchor_history_counts, unanchored_event_count
from gateway.store.models import BATCH_STATES, BatchRow
from servicekit.http.operations import PROBE_TIMEOUT_SECONDS, http_histogram
from servicekit.sql.helpers import utcnow

log = logging.getLogger("provenance.gateway.metrics")

PREFIX = "provenance_gateway"
#: Seal-to-anchored latency buckets (seconds): blocks are seconds apart, sends are retried.
ANCHOR_BUCKETS = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)
#: Receipts read per scrape for the gas counter (the rest on the next scrape).
GAS_RECEIPTS_PER_SCRAPE = 200


class GatewayMetrics:
    """The registry of one gateway app, and the counters the routes move."""

    def __init__(self, service: GatewayService, probe: Chain) -> None:
        self.registry = CollectorRegistry()
        self.http = http_histogram(PREFIX, self.registry)
        self.events_accepted = Counter(
            f"{PREFIX}_events_accepted",
            "Events accepted by capture (stored; duplicates not counted)",
            registry=self.registry,
        )
        self.event_duplicates = Counter(
            f"{PREFIX}_event_duplicates",
            "Events captured again (already stored; nothing new stored)",
            registry=self.registry,
        )
        self.documents_rejected = Counter(
            f"{PREFIX}_documents_rejected",
            "Capture documents rejected, by the rule that refused them",
            ["rule"],
            registry=self.registry,
        )
        self.registry.register(_StoreCollector(service, _GasTracker(service, probe)))
        self.registry.register(_IntegrityCollector(service.integrity_alarm))


def _latency_seconds(dialect: str) -> ColumnElement[float]:
    if dialect == "postgresql":
        return cast(func.extract("epoch", BatchRow.anchored_at - BatchRow.sealed_at), Float)
    # SQLite keeps timestamps as text; julianday() reads them (fractional days).
    return (func.julianday(BatchRow.anchored_at) - func.julianday(BatchRow.sealed_at)) * 86400.0


class _GasTracker:
    """Gas used by the anchors of batches anchored since the app started, from receipts."""

    def __init__(self, service: GatewayService, probe: Chain) -> None:
        self._service = service
        self._probe = probe
        self._lock = threading.Lock()
        self._watermark: tuple[datetime, int] = (utcnow(), 0)
        self.total = 0
        self.anchors = 0

    def update(self) -> None:
        with self._lock:
            since, last_id = self._watermark
            with self._service.sessions() as session:
                rows = session.execute(
                    select(BatchRow.id, BatchRow.anchored_at, BatchRow.tx_hash)
                    .where(
                        BatchRow.state == "anchored",
                        or_(
                            BatchRow.anchored_at > since,
                            and_(BatchRow.anchored_at == since, BatchRow.id > last_id),
                        ),
                    )
                    .order_by(BatchRow.anchored_at, BatchRow.id)
                    .limit(GAS_RECEIPTS_PER_SCRAPE)
                ).all()
            deadline = time.monotonic() + PROBE_TIMEOUT_SECONDS
            for row in rows:
                if time.monotonic() > deadline:
                    break
                if row.tx_hash:
                    receipt = self._probe.w3.eth.get_transaction_receipt(row.tx_hash)
                    self.total += int(receipt["gasUsed"])
                    self.anchors += 1
                if row.anchored_at is not None:  # always: the query compares it
                    self._watermark = (row.anchored_at, row.id)


class _IntegrityCollector(Collector):
    """The integrity alarm (gateway/integrity.py): refusals by rule, and what fails now."""

    def __init__(self, alarm: IntegrityAlarm) -> None:
        self._alarm = alarm

    def collect(self) -> Iterator[Metric]:
        state = self._alarm.state()
        failures = CounterMetricFamily(
            f"{PREFIX}_integrity_failures",
            "Receipts, batches and events refused (409 integrity) because what is stored no "
            "longer verifies, by rule",
            labels=["rule"],
        )
        for rule, count in state.failures.items():
            failures.add_metric([rule], float(count))
        yield failures
        yield GaugeMetricFamily(
            f"{PREFIX}_integrity_altered_events",
            "Events (and batches, as a whole) whose last verification failed: the integrity "
            "alarm is raised while this is above 0",
            value=float(len(state.events) + len(state.roots)),
        )


class _StoreCollector(Collector):
    def __init__(self, service: GatewayService, gas: _GasTracker) -> None:
        self._service = service
        self._gas = gas

    def collect(self) -> Iterator[Metric]:
        try:
            yield from self._from_store()
        except Exception as exc:  # noqa: BLE001 - a scrape must answer even if SQL is down
            log.warning("metrics: the store did not answer: %s", exc)
        try:
            self._gas.update()
        except Exception as exc:  # noqa: BLE001 - the node may be down; retried next scrape
            log.warning("metrics: could not read anchor receipts: %s", exc)
        gas = CounterMetricFamily(
            f"{PREFIX}_anchor_gas_used",
            "Gas used by anchor transactions of batches anchored since the gateway started",
            value=self._gas.total,
        )
        yield gas
        yield CounterMetricFamily(
            f"{PREFIX}_anchors_gas_accounted",
            "Anchored batches whose receipt's gas is counted in anchor_gas_used",
            value=self._gas.anchors,
        )

    def _from_store(self) -> Iterator[Metric]:
        engine = self._service.engine
        latency = _latency_seconds(engine.dialect.name)
        with self._service.sessions() as session:
            rows = session.execute(select(BatchRow.state, func.count()).group_by(BatchRow.state))
            counts = {str(state): int(n) for state, n in rows}
            anchored = session.execute(
                select(
                    func.count(),
                    func.coalesce(func.sum(latency), 0.0),
                    *(func.sum(case((latency <= b, 1), else_=0)) for b in ANCHOR_BUCKETS),
                ).where(
                    BatchRow.state == "anchored",
                    BatchRow.sealed_at.is_not(None),
                    BatchRow.anchored_at.is_not(None),
                )
            ).one()
            backlog = unanchored_event_count(session)
            history = anchor_history_counts(session)
        states = GaugeMetricFamily(
            f"{PREFIX}_batches", "Batches by state (from the store)", labels=["state"]
        )
        for state in BATCH_STATES:
            states.add_metric([state], float(counts.get(state, 0)))
        yield states
        total, seconds, *cumulative = anchored
        histogram = HistogramMetricFamily(
            f"{PREFIX}_anchor_latency_seconds",
            "Seconds from a batch's sealing to its anchoring (every anchored batch in the store)",
        )
        buckets = [
            (f"{b:g}", float(c or 0)) for b, c in zip(ANCHOR_BUCKETS, cumulative, strict=True)
        ]
        histogram.add_metric(
            [],
            buckets=[*buckets, ("+Inf", float(total or 0))],
            sum_value=max(float(seconds or 0.0), 0.0),
        )
        yield histogram
        yield GaugeMetricFamily(
            f"{PREFIX}_unanchored_events",
            "Events accepted and not yet anchored (the back-pressure backlog)",
            value=float(backlog),
        )
        yield CounterMetricFamily(
            f"{PREFIX}_anchors_vanished",
            "Anchors the reconciler found gone from the chain (a reorganisation): their batches "
            "were sent back to be anchored again",
            value=history["vanished"],
        )
        yield CounterMetricFamily(
            f"{PREFIX}_reanchored",
            "Vanished anchors whose batch has been anchored again (by a new transaction)",
            value=history["reanchored"],
        )
        yield CounterMetricFamily(
            f"{PREFIX}_anchors_moved",
            "Anchors the reconciler found in another block or transaction than recorded (the "
            "same root re-mined after a reorganisation): the facts were updated",
            value=history["moved"],
        )
