"""Detection thresholds, from :class:`indexer.settings.IndexerSettings` (``PROVENANCE_INDEXER_*``).

The loader and the follower have no settings of their own, so the thresholds are process-wide:
:func:`configure` sets them (tests, a service wiring them from its settings); until then
:func:`current` reads them once from the environment, falling back to the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal

from indexer.settings import IndexerSettings


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

    @classmethod
    def from_settings(cls, settings: IndexerSettings) -> DetectionConfig:
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})


_config: DetectionConfig | None = None


def configure(config: DetectionConfig | None) -> None:
    """Use ``config`` from now on (None: read the environment again on next use)."""
    global _config
    _config = config


def current() -> DetectionConfig:
    global _config
    if _config is None:
        try:
            _config = DetectionConfig.from_settings(IndexerSettings())
        except ValueError:  # a malformed variable: the service reports it; detect with defaults
            _config = DetectionConfig()
    return _config
