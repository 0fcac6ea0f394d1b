"""The gateway as one object: the composition root. It opens the store, the chain, keys,
intake, batcher and webhook deliverer (gateway/startup.py) and wires the services the HTTP
layer calls, one per resource (gateway/services/); usable without HTTP (tests, the demo,
benchmarks)."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from chain.client import Chain
from chain.ledger import Ledger
from gateway import integrity, startup
from gateway.batcher import Batcher
from gateway.intake import Intake
from gateway.services.capture import CaptureService
from gateway.services.keys import KeysService
from gateway.services.lots import LotsService
from gateway.services.participants import ParticipantsService
from gateway.services.recalls import RecallsService
from gateway.services.receipts import ReceiptsService
from gateway.services.suspensions import SuspensionsService
from gateway.settings import GatewaySettings
from gateway.store.engine import session_factory
from gateway.store.participants import ApiKeys
from gateway.webhooks import RetryPolicy, WebhookDeliverer
from medledger.custody.timebounds import TimeBounds
from medledger.epcis.schema import EpcisSchema, load_schema


class GatewayService:
    """The gateway's parts, wired from settings: ``.participants``, ``.key_admin``,
    ``.capture``, ``.receipts``, ``.lots`` and ``.recalls`` are what the routes call; the batcher
    and the webhook deliverer run in threads of this process (:meth:`start`,
    :meth:`start_deliverer`)."""

    def __init__(
        self,
        settings: GatewaySettings,
        *,
        chain: Chain | None = None,
        webhook_policy: RetryPolicy | None = None,
    ) -> None:
        self.settings = settings
        self.engine = startup.open_store(settings)
        #: Sessions that only read (deferred BEGIN: they read beside a writer).
        self.sessions: sessionmaker[Session] = session_factory(self.engine)
        #: Sessions that write (BEGIN IMMEDIATE on SQLite: writers wait for each other instead
        #: of failing "database is locked"; see gateway/store/engine.py).
        self.write_sessions: sessionmaker[Session] = session_factory(self.engine, write=True)
        self.api_keys = ApiKeys()
        self.schema: EpcisSchema = load_schema()
        self.intake = Intake(
            self.schema,
            bounds=TimeBounds(
                ahead=timedelta(seconds=settings.event_time_ahead_seconds),
                behind=timedelta(seconds=settings.event_time_behind_seconds),
            ),
        )
        self.chain = chain or (
            Chain.from_url(settings.chain_url) if settings.chain_url else Chain.embedded()
        )
        self.keys = startup.key_ring(settings)
        self.regulator = startup.regulator_account(settings, self.chain)
        self.ledger = Ledger(
            self.chain, startup.deployment(settings, self.chain, self.regulator, self.sessions)
        )
        self.batcher = Batcher(
            self.write_sessions, self.ledger, self.keys, startup.batcher_policy(settings)
        )
        #: Where webhooks may go: checked at registration and at every delivery.
        self.webhook_targets = settings.webhook_targets
        self.deliverer = WebhookDeliverer(
            self.write_sessions, webhook_policy, targets=self.webhook_targets
        )
        self._thread: threading.Thread | None = None
        self._deliverer_thread: threading.Thread | None = None
        #: Refusals of what no longer verifies: metric, log, readiness (gateway/integrity.py).
        self.integrity_alarm = integrity.IntegrityAlarm()
        self.regulator_api_key = startup.bootstrap_regulator(
            settings, self.write_sessions, self.api_keys, self.regulator
        )
        #: The indexer's batch-reader key, beside a copy of the deployment file, in the export
        #: folder (the only one the indexer needs to read).
        self.indexer_key_file = startup.export_for_indexer(
            settings, self.write_sessions, self.api_keys, self.regulator
        )
        reads, writes = self.sessions, self.write_sessions
        self.participants = ParticipantsService(
            sessions=reads,
            write_sessions=writes,
            api_keys=self.api_keys,
            ledger=self.ledger,
            regulator=self.regulator,
            settings=settings,
            webhook_targets=self.webhook_targets,
            fund=lambda address: startup.fund(self.chain, address),
        )
        self.key_admin = KeysService(sessions=reads, write_sessions=writes, api_keys=self.api_keys)
        self.capture = CaptureService(
            sessions=reads,
            write_sessions=writes,
            intake=self.intake,
            settings=settings,
            wake=self._wake_batcher,
        )
        self.receipts = ReceiptsService(
            sessions=reads,
            ledger=self.ledger,
            chain=self.chain,
            integrity_alarm=self.integrity_alarm,
        )
        self.lots = LotsService(
            sessions=reads,
            write_sessions=writes,
            ledger=self.ledger,
            keys=self.keys,
            schema=self.schema,
            capture_lock=self.intake.lock,
            settings=settings,
            wake=self._wake_batcher,
        )
        self.recalls = RecallsService(
            sessions=reads,
            write_sessions=writes,
            ledger=self.ledger,
            regulator=self.regulator,
            webhook_targets=self.webhook_targets,
            notify=self._wake_deliverer,
        )
        self.suspensions = SuspensionsService(
            sessions=reads,
            write_sessions=writes,
            ledger=self.ledger,
            regulator=self.regulator,
            keys=self.keys,
            stops_shipping=settings.suspension_stops_shipping,
            notify=self._wake_deliverer,
        )

    # the batcher and the deliverer looked up at each call: a test may put in its own

    def _wake_batcher(self) -> None:
        self.batcher.wake()

    def _wake_deliverer(self) -> None:
        self.deliverer.wake()

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self.batcher.run, name="batcher", daemon=True)
            self._thread.start()

    def start_deliverer(self) -> None:
        """Deliver webhook notifications from the outbox in a thread of this process."""
        if self._deliverer_thread is None:
            self._deliverer_thread = threading.Thread(
                target=self.deliverer.run, name="webhooks", daemon=True
            )
            self._deliverer_thread.start()

    def stop_deliverer(self) -> None:
        self.deliverer.stop()
        if self._deliverer_thread is not None:
            self._deliverer_thread.join(timeout=30)
            self._deliverer_thread = None

    def stop(self) -> None:
        self.batcher.stop()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.batcher.release_leases()  # stepped without run() (tests, tools): leases too
        self.stop_deliverer()
        if self.keys.remote is not None:
            self.keys.remote.close()
        self.engine.dispose()
