"""Detection thresholds, from :class:`indexer.settings.IndexerSettings` (``PROVENANCE_INDEXER_*``).

The service builds one :class:`DetectionConfig` from its settings and hands it to the loader
(event-driven detectors) and the follower (the expiry sweep); nothing here reads the
environment.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal

from indexer.settings import IndexerSettings
from indexer.supply_thresholds import Thresholds


@dataclass(frozen=True)
class DetectionConfig:
    mass_balance_tolerance: Decimal = Decimal("0.05")
    expiry_window_days: int = 30
    expiry_sweep_seconds: float = 3600.0
    transit_sigmas: float = 3.0
    transit_min_observations: int = 10
    transit_min_excess_seconds: int = 3600
    new_route_min_history: int = 500
    unreleased_lot_alerts: bool = False
    settle_seconds: int = 120
    event_time_ahead_seconds: int = 600
    event_time_behind_seconds: int = 300
    shortage_window_days: int = 14
    shortage_days: str = "7"

    @property
    def shortage_thresholds(self) -> Thresholds:
        return Thresholds.parse(self.shortage_days)

    @classmethod
    def from_settings(cls, settings: IndexerSettings) -> DetectionConfig:
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})
