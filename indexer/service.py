"""The indexer as one object: its store, the chain it follows, where batches come from."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from chain.client import Chain
from chain.deployment import Deployment
from indexer.chainlogs import LogReader
from indexer.detection import DetectionConfig
from indexer.follower import Follower, FollowerPolicy, StepReport
from indexer.loader import BatchLoader
from indexer.profiles import GatewayProfileSource, ProfilePoller, ProfileSource, sync_profiles
from indexer.queries.page_tokens import PageTokens
from indexer.reader_keys import ReaderKeys, bootstrap_reader_key
from indexer.settings import IndexerSettings
from indexer.sources import BatchSource, FolderBatchSource, GatewayBatchSource
from indexer.store import make_engine, session_factory, upgrade
from indexer.store.writes import get_checkpoint
from indexer.subscriptions.delivery import SubscriptionDeliverer
from medledger.errors import ConfigurationError
from servicekit.secrets import ensure_secret
from servicekit.webhooks import RetryPolicy

log = logging.getLogger("provenance.indexer")


def source_from_settings(settings: IndexerSettings) -> BatchSource:
    if settings.batch_dir is not None:
        return FolderBatchSource(settings.batch_dir)
    if settings.gateway_url:
        return GatewayBatchSource(settings.gateway_url, settings.gateway_api_key_value())
    raise ConfigurationError(
        "the indexer needs batch contents: set PROVENANCE_INDEXER_GATEWAY_URL (with a "
        "regulator or auditor key) or PROVENANCE_INDEXER_BATCH_DIR"
    )


def profile_source_from_settings(settings: IndexerSettings) -> ProfileSource | None:
    """The gateway's participant list (names, regions), or None without a gateway URL."""
    if not settings.gateway_url or settings.profile_poll_seconds == 0:
        return None
    return GatewayProfileSource(settings.gateway_url, settings.gateway_api_key_value())


#: The key that signs nextPageTokens, in the data folder.
PAGE_TOKEN_KEY_FILE = "page-token.key"


class IndexerService:
    """Store, chain reader and follower, wired from settings (tests pass chain and source)."""

    def __init__(
        self,
        settings: IndexerSettings,
        *,
        chain: Chain | None = None,
        deployment: Deployment | None = None,
        source: BatchSource | None = None,
        profiles: ProfileSource | None = None,
    ) -> None:
        self.settings = settings
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.engine = make_engine(settings.resolved_database_url)
        upgrade(self.engine)
        self.sessions: sessionmaker[Session] = session_factory(self.engine)
        #: Sessions for the key endpoints' writes (BEGIN IMMEDIATE on SQLite: they wait for the
        #: follower's write lock instead of failing to upgrade a read lock).
        self.write_sessions: sessionmaker[Session] = session_factory(self.engine, write=True)
        if chain is None:
            if not settings.chain_url:
                raise ConfigurationError(
                    "set PROVENANCE_INDEXER_CHAIN_URL: an in-process chain lives inside the "
                    "process that made it (use `provenance up` or the demo for that)"
                )
            chain = Chain.from_url(settings.chain_url)
        self.chain = chain
        self.deployment = deployment or Deployment.load(settings.resolved_deployment_file)
        if self.deployment.chain_id != chain.chain_id:
            raise ConfigurationError(
                f"the deployment is for chain {self.deployment.chain_id}, the node is chain "
                f"{chain.chain_id}"
            )
        self.reader = LogReader(chain, self.deployment)
        self.source = source or source_from_settings(settings)
        self.follower = Follower(
            self.sessions,
            self.reader,
            BatchLoader(
                self.source,
                detection_config=DetectionConfig.from_settings(settings),
                copy_lines=self.engine.dialect.name == "postgresql",
            ),
            FollowerPolicy(
                start_block=max(settings.start_block, self.deployment.deployed_at_block),
                confirmations=settings.confirmations,
                block_range=settings.block_range,
            ),
        )
        self._thread: threading.Thread | None = None
        self.profiles = profiles if profiles is not None else profile_source_from_settings(settings)
        self._profile_poller: ProfilePoller | None = None
        self.api_keys = ReaderKeys()
        #: signs the EPCIS query's nextPageTokens (made once in the data folder, so tokens
        #: outlive a restart and every process of one index reads the same key)
        self.page_tokens = PageTokens(
            ensure_secret(settings.data_dir / PAGE_TOKEN_KEY_FILE).encode("ascii")
        )
        self.bootstrap_key_file = self.bootstrap_api_key()
        #: EPCIS subscriptions' webhook deliveries (indexer/subscriptions/delivery.py)
        self.subscriptions = SubscriptionDeliverer(
            self.write_sessions,
            reads=self.sessions,
            depth=settings.subscription_depth,
            batch=settings.subscription_batch,
            policy=RetryPolicy(
                base_seconds=settings.subscription_retry_seconds,
                timeout_seconds=settings.subscription_timeout_seconds,
            ),
            targets=settings.subscription_targets,
        )
        self._delivery_thread: threading.Thread | None = None

    def catch_up(self) -> StepReport:
        return self.follower.catch_up()

    def start(self) -> None:
        """Follow the chain in a background thread."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self.follower.run,
            kwargs={"poll_interval": self.settings.poll_interval_seconds},
            name="indexer-follower",
            daemon=True,
        )
        self._thread.start()
        if self.settings.subscription_delivery:
            self._delivery_thread = threading.Thread(
                target=self.subscriptions.run,
                kwargs={"interval": self.settings.subscription_poll_seconds},
                name="indexer-subscriptions",
                daemon=True,
            )
            self._delivery_thread.start()
        if self.profiles is not None and self.settings.profile_poll_seconds > 0:
            self._profile_poller = ProfilePoller(
                self.sessions, self.profiles, self.settings.profile_poll_seconds
            )
            self._profile_poller.start()

    def deliver_subscriptions(self) -> int:
        """Deliver what the subscriptions have due now, until nothing is left (tests; the
        service's thread does it every ``subscription_poll_seconds``); the attempts made."""
        return self.subscriptions.catch_up()

    def refresh_profiles(self) -> int:
        """Read the gateway's participant list once (names, GLNs, regions); how many profiles
        changed (0 without a profile source)."""
        if self.profiles is None:
            return 0
        return sync_profiles(self.sessions, self.profiles)

    def stop(self) -> None:
        if self._profile_poller is not None:
            self._profile_poller.stop()
            self._profile_poller = None
        if self.profiles is not None:
            self.profiles.close()
        self.follower.stop()
        self.subscriptions.stop()
        if self._delivery_thread is not None:
            self._delivery_thread.join(timeout=30)
            self._delivery_thread = None
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.engine.dispose()

    def lag(self) -> int | None:
        """Blocks between the chain head and the checkpoint (None before the first step)."""
        with self.sessions() as session:
            checkpoint = get_checkpoint(session)
        if checkpoint is None:
            return None
        return max(self.reader.head() - checkpoint.block_number, 0)

    def lag_at(self, head: int) -> int:
        """Blocks between ``head`` and the checkpoint; before the first step, the blocks still
        to read from the start block (the probes read ``head`` with a short timeout)."""
        with self.sessions() as session:
            checkpoint = get_checkpoint(session)
        done = (
            checkpoint.block_number
            if checkpoint is not None
            else self.follower.policy.start_block - 1
        )
        return max(head - done, 0)

    def bootstrap_api_key(self) -> Path | None:
        """On a new index, issue a regulator reader key and write it (0600) to
        ``settings.resolved_bootstrap_api_key_file``; that path, or None if keys exist."""
        path = bootstrap_reader_key(
            self.sessions, self.api_keys, self.settings.resolved_bootstrap_api_key_file
        )
        if path is not None:
            log.info("issued the first reader API key (regulator); it is in %s", path)
        return path
