"""The indexer's Prometheus metrics, one registry per app (see docs/operations.md).

The index is the record of what was indexed (and survives restarts and reorganisations), so
the counts come from it at scrape time: events indexed, anchors by status, alerts by kind and
severity (integrity alerts among them), the checkpoint; the lag compares the checkpoint with the
node's head, read through the probe connection (2 s timeout). Query latency by route is the
shared HTTP histogram.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from chain.client import Chain
from indexer.service import IndexerService
from indexer.store.models import AlertRow, AnchorRow, PendingRow
from indexer.store.writes import get_checkpoint
from servicekit.http.operations import http_histogram

log = logging.getLogger("provenance.indexer.metrics")

PREFIX = "provenance_indexer"
ANCHOR_STATUSES = ("indexed", "rejected", "unavailable")


class IndexerMetrics:
    def __init__(self, service: IndexerService, probe: Chain) -> None:
        self.registry = CollectorRegistry()
        self.http = http_histogram(PREFIX, self.registry)
        self.registry.register(_IndexCollector(service, probe))


class _IndexCollector(Collector):
    def __init__(self, service: IndexerService, probe: Chain) -> None:
        self._service = service
        self._probe = probe

    def collect(self) -> Iterator[Metric]:
        try:
            yield from self._from_index()
        except Exception as exc:  # noqa: BLE001 - a scrape must answer even if SQL is down
            log.warning("metrics: the index did not answer: %s", exc)
        try:
            lag = self._service.lag_at(self._probe.block_number)
        except Exception as exc:  # noqa: BLE001 - node or database down: no lag sample
            log.warning("metrics: no lag (node or index unreachable): %s", exc)
        else:
            yield GaugeMetricFamily(
                f"{PREFIX}_lag_blocks",
                "Blocks between the chain head and the last indexed block",
                value=float(lag),
            )

    def _from_index(self) -> Iterator[Metric]:
        with self._service.sessions() as session:
            checkpoint = get_checkpoint(session)
            anchors = {
                str(status): (int(n), int(events or 0))
                for status, n, events in session.execute(
                    select(
                        AnchorRow.status, func.count(), func.sum(AnchorRow.event_count)
                    ).group_by(AnchorRow.status)
                )
            }
            held_back = session.scalar(
                select(func.count())
                .select_from(PendingRow)
                .where(PendingRow.resolved_block.is_(None))
            )
            alerts = [
                (str(kind), str(severity), int(n))
                for kind, severity, n in session.execute(
                    select(AlertRow.kind, AlertRow.severity, func.count()).group_by(
                        AlertRow.kind, AlertRow.severity
                    )
                )
            ]
        if checkpoint is not None:
            yield GaugeMetricFamily(
                f"{PREFIX}_checkpoint_block",
                "The last block indexed (committed with its data)",
                value=float(checkpoint.block_number),
            )
        yield GaugeMetricFamily(
            f"{PREFIX}_events_indexed",
            "Events in the index (of anchors whose batch verified against its root)",
            value=float(anchors.get("indexed", (0, 0))[1]),
        )
        by_status = GaugeMetricFamily(
            f"{PREFIX}_anchors", "Anchored batches seen on chain, by status", labels=["status"]
        )
        for status in sorted({*ANCHOR_STATUSES, *anchors}):
            by_status.add_metric([status], float(anchors.get(status, (0, 0))[0]))
        yield by_status
        by_kind = GaugeMetricFamily(
            f"{PREFIX}_alerts",
            "Alerts in the index, by kind and severity",
            labels=["kind", "severity"],
        )
        for kind, severity, n in alerts:
            by_kind.add_metric([kind, severity], float(n))
        yield by_kind
        yield GaugeMetricFamily(
            f"{PREFIX}_held_back_events",
            "Events' effects on items held back: waiting for the events that explain them, "
            "judged after the settle window (docs/detection.md)",
            value=float(held_back or 0),
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_integrity_alerts",
            "Integrity alerts: anchored roots the batch contents did not reproduce",
            value=float(sum(n for kind, _, n in alerts if kind == "integrity")),
        )
