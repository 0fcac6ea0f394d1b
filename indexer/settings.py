"""The indexer's configuration: one settings class, read from the environment at the edge.

Every variable is prefixed ``PROVENANCE_INDEXER_``; for example
``PROVENANCE_INDEXER_DATABASE_URL=postgresql+psycopg://user@host/db``.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from indexer.supply_thresholds import Thresholds
from medledger.errors import ConfigurationError
from servicekit.http.ratelimits import parse_limits
from servicekit.webhook_targets import TargetPolicy


class IndexerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PROVENANCE_INDEXER_", extra="forbid")

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Path("data")
    database_url: str = Field(
        default="", description="SQLAlchemy URL; default: a SQLite file in data_dir"
    )
    chain_url: str | None = Field(
        default=None,
        description="JSON-RPC URL of the node to follow (required, but for `provenance up`)",
    )
    public_node_url: str | None = Field(
        default=None,
        description="the node's JSON-RPC URL as a browser reaches it, for the dashboard's "
        "in-browser receipt check; default: chain_url (the node must allow CORS)",
    )
    deployment_file: Path | None = Field(
        default=None, description="contract addresses (JSON); default: data_dir/deployment.json"
    )
    gateway_url: str | None = Field(
        default=None, description="where batch contents come from (GET /batches/{root})"
    )
    gateway_api_key: SecretStr | None = Field(
        default=None, description="a regulator or auditor key of the gateway, to read batches"
    )
    gateway_api_key_file: Path | None = Field(
        default=None, description="file holding that key (instead of the variable)"
    )
    recall_api_key: SecretStr | None = Field(
        default=None,
        description="the gateway regulator's API key the dashboard's Recall and Release buttons "
        "send to gateway_url (as `provenance recall` does); unset: the buttons say recalls are "
        "not configured",
    )
    recall_api_key_file: Path | None = Field(
        default=None, description="file holding that key (instead of the variable)"
    )
    regions_geojson: Path | None = Field(
        default=None,
        description="a GeoJSON FeatureCollection of region shapes (Polygon or MultiPolygon, "
        "each with its ISO 3166-2 code in property iso_3166_2, region or code): the dashboard's "
        "stock page draws them as a map; unset: bar charts only",
    )
    batch_dir: Path | None = Field(
        default=None,
        description="offline audits: a folder of batch files (<root>.json) instead of a gateway",
    )
    start_block: int = Field(default=0, ge=0, description="first block to read on a new index")
    confirmations: int = Field(
        default=0, ge=0, description="blocks behind the head to stay (0 suits QBFT finality)"
    )
    block_range: int = Field(
        default=2000, ge=1, le=5000, description="blocks per eth_getLogs (Besu caps at 5,000)"
    )
    poll_interval_seconds: float = Field(default=0.5, gt=0)
    profile_poll_seconds: float = Field(
        default=60.0,
        ge=0,
        description="how often to read the gateway's participant list (names, GLNs, regions "
        "shown beside addresses); 0: never",
    )
    bootstrap_api_key_file: Path | None = Field(
        default=None,
        description="a reader key (regulator) created on first start; default: "
        "data_dir/indexer-reader.api-key",
    )
    ready_max_lag_blocks: int = Field(
        default=10,
        ge=0,
        description="/readyz fails when the index is more blocks than this behind the head "
        "(beyond `confirmations`)",
    )
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto", description="logs on stderr: JSON lines, text, or auto (JSON unless a tty)"
    )
    # --- fraud and risk detection (docs/detection.md) ---
    mass_balance_tolerance: Decimal = Field(
        default=Decimal("0.05"),
        ge=0,
        lt=1,
        description="a transformation may claim this fraction more API than it consumed",
    )
    expiry_window_days: int = Field(
        default=30, ge=0, description="packs in stock expiring within this many days: info alert"
    )
    expiry_sweep_seconds: float = Field(
        default=3600, gt=0, description="the follower sweeps for expired stock at most this often"
    )
    transit_sigmas: float = Field(
        default=3.0,
        gt=0,
        description="unusual transit: above the lane's mean + k standard deviations",
    )
    transit_min_observations: int = Field(
        default=10, ge=2, description="receipts a lane needs before its transit times are judged"
    )
    transit_min_excess_seconds: int = Field(
        default=3600, ge=0, description="unusual transit must also exceed the mean by this much"
    )
    new_route_min_history: int = Field(
        default=500,
        ge=0,
        description="receipts (all lanes) the index needs before a new lane is an alert",
    )
    unreleased_lot_alerts: bool = Field(
        default=False,
        description="info alert when a lot its manufacturer never registered on-chain circulates",
    )
    settle_seconds: int = Field(
        default=120,
        ge=0,
        description="how long (chain time after its anchor) an event that does not fit custody "
        "yet waits for the events that explain it before it is judged (clone, unknown code)",
    )
    shortage_window_days: int = Field(
        default=14,
        ge=1,
        le=366,
        description="shortage: the dispensing rate is the packs dispensed in a region over "
        "this many days (the supply clock's day and the ones before), divided by it",
    )
    shortage_days: str = Field(
        default="7",
        description="shortage: a region's days of supply of a product under this raises a "
        "`shortage` alert; a default, then `ATC=days` per product class (`7;J01=14`)",
    )
    check_rate_limit: str = Field(
        default="20/second;600/minute;6000/hour",
        description="pack checks (/check) one client address may send without a reader key, "
        "in `limits` notation (`N/second;M/hour`); empty: no limit (docs/security.md)",
    )
    auth_failure_rate_limit: str = Field(
        default="20/minute;200/hour",
        description="failed authentications one client address may make; past them its "
        "requests with a key answer 429 (`limits` notation; empty: no limit)",
    )
    report_rate_limit: str = Field(
        default="5/minute;20/hour;50/day",
        description="price complaints and adverse-reaction reports one client address may send "
        "from the public pages (`limits` notation; empty: no limit)",
    )
    adverse_reaction_threshold: int = Field(
        default=3,
        ge=0,
        description="adverse-reaction reports about one lot that raise an `adverse-reactions` "
        "alert to consider suspending it (0: never)",
    )
    receipt_max_bytes: int = Field(
        default=5 * 1024 * 1024,
        ge=64 * 1024,
        le=64 * 1024 * 1024,
        description="largest receipt photo a price complaint takes, in bytes (a larger one is "
        "refused with the page saying so; a request body over 4 times this is a 413)",
    )
    rate_limit_storage_url: str = Field(
        default="memory://",
        description="where rate-limit counts are kept: memory:// (this process) or a `limits` "
        "storage URL (redis://...) shared by several processes",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="largest request body, in bytes (413 beyond)"
    )
    event_time_ahead_seconds: int = Field(
        default=600,
        ge=0,
        description="how far an eventTime may be later than the timestamp of the block that "
        "anchored it (event-time alert; the projection takes the bound as its time)",
    )
    event_time_behind_seconds: int = Field(
        default=300,
        ge=0,
        description="how far an event that changes an item may be older than the item's current "
        "state before it is an event-time alert (the gateway's time.backdated tolerance)",
    )
    # --- EPCIS subscriptions (docs/indexer.md#named-queries-and-subscriptions) ---
    subscription_delivery: bool = Field(
        default=True,
        description="deliver webhook subscriptions from this process (a thread); with several "
        "processes over one index, let one deliver",
    )
    subscription_depth: int = Field(
        default=0,
        ge=0,
        description="blocks behind the index's checkpoint an event's block must be before a "
        "subscription delivers it (on top of `confirmations`; 0 suits QBFT finality): events "
        "of blocks a reorganisation this deep orphans are never delivered",
    )
    subscription_allowlist: str = Field(
        default="",
        description="comma-separated CIDRs and host names subscription webhooks may reach "
        "although they are not public (partners on a private network); empty: public "
        "addresses only",
    )
    subscription_poll_seconds: float = Field(
        default=1.0, gt=0, description="how often subscriptions look for new events"
    )
    subscription_batch: int = Field(
        default=100, ge=1, le=1000, description="events per webhook delivery, at most"
    )
    subscription_retry_seconds: float = Field(
        default=5.0,
        gt=0,
        description="first retry of a failed webhook delivery; each next waits 3 times longer, "
        "at most an hour (retried until it is acknowledged or the subscription deleted)",
    )
    subscription_timeout_seconds: float = Field(
        default=10.0, gt=0, description="how long one webhook delivery may take"
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8001, ge=1, le=65535)

    @field_validator("check_rate_limit", "auth_failure_rate_limit", "report_rate_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        parse_limits(value)  # a ValueError names what is wrong
        return value

    @field_validator("shortage_days")
    @classmethod
    def _shortage_days_parse(cls, value: str) -> str:
        Thresholds.parse(value)  # a ValueError names what is wrong
        return value

    @field_validator("subscription_allowlist")
    @classmethod
    def _subscription_allowlist_parses(cls, value: str) -> str:
        TargetPolicy.from_allowlist(value.split(","))  # a bad entry is a start-up error
        return value

    @property
    def subscription_targets(self) -> TargetPolicy:
        """Where subscription webhooks may go (servicekit/webhook_targets.py)."""
        return TargetPolicy.from_allowlist(
            self.subscription_allowlist.split(","),
            setting="PROVENANCE_INDEXER_SUBSCRIPTION_ALLOWLIST",
        )

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'indexer.db'}"

    @property
    def resolved_deployment_file(self) -> Path:
        return self.deployment_file or self.data_dir / "deployment.json"

    @property
    def resolved_bootstrap_api_key_file(self) -> Path:
        return self.bootstrap_api_key_file or self.data_dir / "indexer-reader.api-key"

    def recall_api_key_value(self) -> str | None:
        """The dashboard's regulator key for the gateway, from the variable or the file."""
        if self.recall_api_key is not None:
            return self.recall_api_key.get_secret_value()
        if self.recall_api_key_file is not None:
            try:
                return self.recall_api_key_file.read_text(encoding="utf-8").strip() or None
            except OSError as exc:
                raise ConfigurationError(
                    f"cannot read the recall API key file {self.recall_api_key_file}"
                ) from exc
        return None

    def gateway_api_key_value(self) -> str | None:
        """The gateway key from the variable or the file; None when neither is set."""
        if self.gateway_api_key is not None:
            return self.gateway_api_key.get_secret_value()
        if self.gateway_api_key_file is not None:
            try:
                return self.gateway_api_key_file.read_text(encoding="utf-8").strip() or None
            except OSError as exc:
                raise ConfigurationError(
                    f"cannot read gateway API key file {self.gateway_api_key_file}"
                ) from exc
        return None
