"""The gateway's configuration: one settings class, read from the environment at the edge.

Every variable is prefixed ``PROVENANCE_GATEWAY_``; for example
``PROVENANCE_GATEWAY_DATABASE_URL=postgresql+psycopg://user@host/db``.

The keystore password comes from ``PROVENANCE_GATEWAY_KEYSTORE_PASSWORD`` or
``PROVENANCE_GATEWAY_KEYSTORE_PASSWORD_FILE``; without either, a random one is generated at the
first start and kept in ``<data_dir>/keystore.password`` (0600), except with
``environment=production``, where a missing password is a start-up error. The public
development password (and the fast KDF that goes with it) is for ``provenance demo`` and
``provenance up --embedded`` only: they ask for it with :meth:`allowing_development_password`,
which no environment variable can do; anywhere else it is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, PrivateAttr, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from chain.keystore import DEVELOPMENT_PASSWORD
from medledger.errors import ConfigurationError
from servicekit.http.ratelimits import parse_limits
from servicekit.secrets import ensure_secret
from servicekit.webhook_targets import TargetPolicy

#: The settings that give the keystore password (named in every refusal).
PASSWORD_SETTINGS = (
    "PROVENANCE_GATEWAY_KEYSTORE_PASSWORD or PROVENANCE_GATEWAY_KEYSTORE_PASSWORD_FILE"
)
#: The generated keystore password's file, in the data folder.
GENERATED_PASSWORD_FILE = "keystore.password"


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PROVENANCE_GATEWAY_", extra="forbid")

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Path("data")
    database_url: str = Field(
        default="", description="SQLAlchemy URL; default: a SQLite file in data_dir"
    )
    chain_url: str | None = Field(
        default=None, description="JSON-RPC URL of a node; unset means the in-process chain"
    )
    deployment_file: Path | None = Field(
        default=None, description="contract addresses (JSON); default: data_dir/deployment.json"
    )
    keystore_dir: Path | None = Field(default=None, description="default: data_dir/keys")
    export_dir: Path | None = Field(
        default=None,
        description="what the indexer reads, and nothing else: deployment.json and its "
        "batch-reader API key (indexer.api-key, 0600); default: data_dir/export",
    )
    keystore_password: SecretStr | None = None
    keystore_password_file: Path | None = None
    batch_max_events: int = Field(default=1000, ge=1, le=100_000)
    batch_max_age_seconds: float = Field(default=2.0, gt=0)
    batch_backlog_max_events: int = Field(
        default=8000,
        ge=1,
        le=100_000,
        description="when more of a participant's events wait than a batch holds (capture "
        "outpaced anchoring), they are sealed in batches of up to this many (never fewer than "
        "BATCH_MAX_EVENTS), so the backlog is anchored in fewer transactions and shrinks",
    )
    confirmations: int = Field(
        default=0,
        ge=0,
        description="blocks on top of an anchor before its batch counts as anchored and its "
        "receipts are offered: 0 on QBFT/IBFT (final blocks) and dev nodes, N on chains whose "
        "blocks can be reorganised",
    )
    resend_after_seconds: float = Field(
        default=60.0,
        gt=0,
        description="an anchor transaction still unmined this long after it was sent is sent "
        "again with the same nonce",
    )
    retry_failed_after_seconds: float = Field(
        default=60.0,
        gt=0,
        description="a failed batch (its anchor reverted: the participant suspended or missing a "
        "role; or no key to sign it) is sent again this long after it failed, so it is anchored "
        "once the cause has gone; a batch whose root another participant anchored stays failed",
    )
    lost_after_seconds: float = Field(
        default=5.0,
        gt=0,
        description="an anchor transaction the node no longer knows (neither mined nor "
        "pending, e.g. its block vanished in a reorganisation) is sent again with the same "
        "nonce this long after it was sent (later anchors of the account wait behind it)",
    )
    reconcile_window_blocks: int = Field(
        default=128,
        ge=1,
        description="the reconciler re-checks batches anchored in the last this many blocks "
        "against the chain (a vanished anchor is anchored again)",
    )
    reconcile_interval_seconds: float = Field(
        default=5.0, gt=0, description="how often the reconciler runs (in the batcher's loop)"
    )
    batcher_lease_seconds: float = Field(
        default=15.0,
        gt=0,
        description="how long a batcher's lease on an account's anchoring lasts unless "
        "renewed (every pass; a third of it at the latest): a second batcher on the same "
        "database takes over this long after the first stopped without releasing it",
    )
    remote_signer_url: str | None = Field(
        default=None,
        description="URL of a Web3Signer (Eth1 mode, docs/deployment.md): participants whose "
        "address its eth_accounts lists are signed there, the others with their keystores",
    )
    remote_signer_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="how long the remote signer has to answer one request; a signer that "
        "does not answer in time sends nothing and the transaction is tried again",
    )
    max_backlog_events: int = Field(default=500_000, ge=1)
    retry_after_seconds: int = Field(default=5, ge=1)
    event_time_ahead_seconds: int = Field(
        default=300,
        ge=0,
        description="how far an eventTime may be later than the gateway's clock (rule "
        "time.future, every rule set)",
    )
    event_time_behind_seconds: int = Field(
        default=300,
        ge=0,
        description="how far an eventTime may be earlier than the current state of the items "
        "it names (rule time.backdated, pharma)",
    )
    suspension_stops_shipping: bool = Field(
        default=False,
        description="a lot suspended pending investigation is refused for shipping too, not "
        "only for dispensing (rule custody.suspended), unless the suspension says otherwise "
        "(POST /suspensions stopsShipping)",
    )
    regulator_gln: str = Field(
        default="4700000100002", pattern=r"^\d{13}$", description="the regulator's GLN"
    )
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto", description="logs on stderr: JSON lines, text, or auto (JSON unless a tty)"
    )
    auth_failure_rate_limit: str = Field(
        default="20/minute;200/hour",
        description="failed authentications one client address may make; past them its "
        "requests with a key answer 429 (`limits` notation; empty: no limit)",
    )
    rate_limit_storage_url: str = Field(
        default="memory://",
        description="where rate-limit counts are kept: memory:// (this process) or a `limits` "
        "storage URL (redis://...) shared by several processes",
    )
    webhook_allowlist: str = Field(
        default="",
        description="comma-separated CIDRs and host names that webhooks may reach although "
        "they are not public (partners on a private network); empty: public addresses only",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="largest request body but a capture's, in bytes (413 beyond)",
    )
    max_capture_body_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024,
        description="largest POST /capture body, in bytes (413 beyond; a 1,000-event "
        "document is about 0.4 MB)",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="HTTP server processes sharing the port (PostgreSQL and a node only): "
        "captures of different packs run side by side in them; one batcher process and one "
        "webhook deliverer serve them all",
    )
    capture_niceness: int = Field(
        default=10,
        ge=0,
        le=19,
        description="with the batcher in its own process (PostgreSQL and a node): how much the "
        "HTTP processes lower their CPU priority (Unix niceness), so where capture fills the "
        "cores the batcher, whose passes every event's time to anchored waits for and whose "
        "CPU is small, runs first; 0: the same priority",
    )

    #: Set only by :meth:`allowing_development_password` (never from the environment).
    _development_password_allowed: bool = PrivateAttr(default=False)

    @field_validator("auth_failure_rate_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        parse_limits(value)  # a ValueError names what is wrong
        return value

    @field_validator("remote_signer_url")
    @classmethod
    def _remote_signer_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http:// or https:// URL")
        return value

    @field_validator("webhook_allowlist")
    @classmethod
    def _webhook_allowlist_parses(cls, value: str) -> str:
        TargetPolicy.from_allowlist(value.split(","))  # a bad entry is a start-up error
        return value

    @property
    def webhook_targets(self) -> TargetPolicy:
        """Where webhooks may go (servicekit/webhook_targets.py)."""
        return TargetPolicy.from_allowlist(self.webhook_allowlist.split(","))

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'gateway.db'}"

    @property
    def resolved_deployment_file(self) -> Path:
        return self.deployment_file or self.data_dir / "deployment.json"

    @property
    def resolved_export_dir(self) -> Path:
        return self.export_dir or self.data_dir / "export"

    @property
    def resolved_keystore_dir(self) -> Path:
        return self.keystore_dir or self.data_dir / "keys"

    @property
    def generated_password_file(self) -> Path:
        """Where the generated keystore password is kept (when none is given)."""
        return self.data_dir / GENERATED_PASSWORD_FILE

    def allowing_development_password(self) -> GatewaySettings:
        """These settings for a throw-away network (``provenance demo``, ``up --embedded``):
        without a given password, the public development one; keystores with the fast KDF."""
        copy = self.model_copy()
        copy._development_password_allowed = True
        return copy

    @property
    def development_password_allowed(self) -> bool:
        return self._development_password_allowed

    @property
    def fast_kdf(self) -> bool:
        """Keystores with the cheap development KDF: only where the development password is."""
        return self._development_password_allowed

    def keystore_password_value(self) -> str:
        """The keystore password: given (variable or file), else the public development one
        where allowed, else generated once into :attr:`generated_password_file` (not in
        production). The development password given anywhere it is not allowed is refused."""
        password: str | None = None
        if self.keystore_password is not None:
            password = self.keystore_password.get_secret_value()
        elif self.keystore_password_file is not None:
            try:
                password = self.keystore_password_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigurationError(
                    f"cannot read keystore password file {self.keystore_password_file} "
                    "(PROVENANCE_GATEWAY_KEYSTORE_PASSWORD_FILE)"
                ) from exc
            if not password:
                raise ConfigurationError(
                    f"keystore password file {self.keystore_password_file} is empty "
                    "(PROVENANCE_GATEWAY_KEYSTORE_PASSWORD_FILE)"
                )
        if password:
            if password == DEVELOPMENT_PASSWORD and not self._development_password_allowed:
                raise ConfigurationError(
                    "the public development keystore password is only for `provenance demo` "
                    f"and `provenance up --embedded`: set {PASSWORD_SETTINGS} to a password of "
                    "your own, or unset both for a generated one"
                )
            return password
        if self._development_password_allowed:
            return DEVELOPMENT_PASSWORD
        if self.environment == "production":
            raise ConfigurationError(f"set {PASSWORD_SETTINGS} in production")
        try:
            return ensure_secret(self.generated_password_file)
        except (OSError, ValueError) as exc:
            raise ConfigurationError(
                f"cannot read or make the keystore password file {self.generated_password_file}: "
                f"{exc} (or set {PASSWORD_SETTINGS})"
            ) from exc
