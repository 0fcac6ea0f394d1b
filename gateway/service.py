"""The gateway as one object: store, chain, keys, intake and batcher, wired from settings."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from chain.client import Chain
from chain.deployment import Deployment, deploy_contracts
from chain.keystore import create_keystore, load_keystore
from chain.ledger import Ledger, ParticipantStatus
from chain.sender import is_nonce_error
from gateway import code_issuance as codes
from gateway import integrity, store
from gateway.anchors import CurrentAnchor, current_anchor, parse_tx_hash
from gateway.batcher import Batcher, BatcherPolicy, recover_anchor_transaction
from gateway.intake import Accepted, Intake
from gateway.settings import GatewaySettings
from gateway.signing_keys import KeyRing
from gateway.webhooks import RetryPolicy, WebhookDeliverer
from medledger.custody.authority import check_company_prefixes
from medledger.custody.timebounds import TimeBounds
from medledger.epcis import gs1
from medledger.epcis.schema import EpcisSchema, load_schema
from medledger.errors import (
    BackPressureError,
    ConfigurationError,
    ContractRevertError,
    IntegrityViolationError,
    KeystoreError,
    MerkleError,
    NotAnchoredYetError,
    NotFoundError,
    PermissionDeniedError,
    StoreConflictError,
    TransactionError,
    ValidationError,
    echo,
)
from medledger.formats.receipt import Receipt
from medledger.merkle import MerkleTree
from medledger.roles import Role

log = logging.getLogger("provenance.gateway")

#: May read any participant's events and batches.
READERS = Role.REGULATOR | Role.AUDITOR
DEV_FUNDING_WEI = 10**20
MAX_REASON_CODE = 2**16 - 1
#: Every role the participant registry knows (contracts/Roles.sol ``ALL``).
ALL_ROLES = Role(sum(role.value for role in Role))


@dataclass(frozen=True)
class NewParticipant:
    record: store.ParticipantRecord
    api_key: str
    webhook: store.Webhook | None = None


class GatewayService:
    """Everything the HTTP layer calls; usable without HTTP (tests, the demo, benchmarks)."""

    def __init__(
        self,
        settings: GatewaySettings,
        *,
        chain: Chain | None = None,
        webhook_policy: RetryPolicy | None = None,
    ) -> None:
        self.settings = settings
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.engine = store.make_engine(settings.resolved_database_url)
        store.upgrade(self.engine)
        #: Sessions that only read (deferred BEGIN: they read beside a writer).
        self.sessions: sessionmaker[Session] = store.session_factory(self.engine)
        #: Sessions that write (BEGIN IMMEDIATE on SQLite: writers wait for each other instead
        #: of failing "database is locked"; see gateway/store/engine.py).
        self.write_sessions: sessionmaker[Session] = store.session_factory(self.engine, write=True)
        self.api_keys = store.ApiKeys()
        self._schema: EpcisSchema = load_schema()
        self.intake = Intake(
            self._schema,
            bounds=TimeBounds(
                ahead=timedelta(seconds=settings.event_time_ahead_seconds),
                behind=timedelta(seconds=settings.event_time_behind_seconds),
            ),
        )
        self.chain = chain or (
            Chain.from_url(settings.chain_url) if settings.chain_url else Chain.embedded()
        )
        self.keys = KeyRing(settings.keystore_password_value())
        self.regulator = self._regulator_account()
        self.ledger = Ledger(self.chain, self._deployment())
        self.batcher = Batcher(
            self.write_sessions, self.ledger, self.keys, batcher_policy(settings)
        )
        #: Where webhooks may go: checked at registration and at every delivery.
        self.webhook_targets = settings.webhook_targets
        self.deliverer = WebhookDeliverer(
            self.write_sessions, webhook_policy, targets=self.webhook_targets
        )
        self._thread: threading.Thread | None = None
        self._deliverer_thread: threading.Thread | None = None
        self._recall_lock = threading.Lock()
        self._registration_lock = threading.Lock()
        self._codes_lock = threading.Lock()
        self._trees: dict[int, MerkleTree] = {}
        #: Refusals of what no longer verifies: metric, log, readiness (gateway/integrity.py).
        self.integrity_alarm = integrity.IntegrityAlarm()
        self.regulator_api_key = self._bootstrap_regulator()

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
        self.engine.dispose()

    # --- participants ---------------------------------------------------------------------

    def authenticate(self, token: str) -> store.ParticipantRecord | None:
        with self.sessions() as session:
            return self.api_keys.authenticate(session, token, allow_suspended=True)

    def register_participant(
        self,
        *,
        name: str,
        roles: Role,
        gln: str,
        rule_set: str = "pharma",
        webhook_url: str | None = None,
        company_prefixes: Sequence[str] = (),
    ) -> NewParticipant:
        """Register on-chain (as the regulator) and in the store, with a custodial key (and a
        webhook for its notifications, if ``webhook_url``), and the GS1 company prefixes of the
        products it may commission (on-chain too).

        Everything is validated before a keystore is written or a transaction sent (422), and a
        failed registration leaves nothing behind: a keystore written for a participant the chain
        did not register is removed, so the same request can simply be sent again. A keystore
        left by an attempt whose chain transaction went through but whose store write did not is
        taken up again (see docs/security.md, "Participant administration")."""
        check_registration(roles=roles, gln=gln)
        prefixes = check_company_prefixes(company_prefixes)
        if webhook_url is not None:
            self.webhook_targets.check_url(webhook_url, pointer="/webhookUrl")
        with self.sessions() as session:
            if store.participant_by_gln(session, gln) is not None:
                raise ValidationError(
                    f"GLN {gln} is already registered", rule="participant.gln-taken"
                )
        path = self.settings.resolved_keystore_dir / f"participant-{gln}.json"
        password = self.settings.keystore_password_value()
        # one registration at a time: a concurrent one of the same GLN must not take up a
        # keystore that this one is about to remove
        with self._registration_lock:
            written = not path.exists()
            account = (
                create_keystore(path, password, fast_kdf=self.settings.environment == "development")
                if written
                else load_keystore(path, password)
            )
            try:
                self._fund(account.address)
                self._register_on_chain(account.address, roles, gln)
                if prefixes:
                    self.ledger.set_company_prefixes(
                        self.regulator, account.address, list(prefixes)
                    )
            except BaseException:
                if written:
                    path.unlink(missing_ok=True)
                raise
        with self.write_sessions() as session:
            record = store.create_participant(
                session,
                address=account.address,
                name=name,
                roles=int(roles),
                gln=gln,
                rule_set=rule_set,
                keystore_path=str(path),
                company_prefixes=prefixes,
            )
            api_key = self.api_keys.issue(session, account.address)
            hook = (
                store.set_webhook(session, account.address, webhook_url)
                if webhook_url is not None
                else None
            )
        return NewParticipant(record=record, api_key=api_key, webhook=hook)

    def _register_on_chain(self, address: str, roles: Role, gln: str) -> None:
        """Register ``address``; one an earlier attempt registered only gets its roles set."""
        known = self.ledger.participant(address)
        if known.status is ParticipantStatus.NONE:
            self.ledger.register_participant(self.regulator, address, roles, int(gln))
        elif known.roles != roles:
            self.ledger.set_roles(self.regulator, address, roles)

    def set_status(
        self, address: str, *, active: bool, by: store.ParticipantRecord | None = None
    ) -> store.ParticipantRecord:
        """Suspend or reinstate a participant, on-chain then at the gateway.

        409 (StoreConflictError) for a participant already in that state, for the caller ``by``
        suspending itself, and for suspending the registry's owner (the gateway's regulator
        key) or the last active regulator: any of these would lock the regulator out for good."""
        wanted = "active" if active else "suspended"
        with self.sessions() as session:
            target = store.get_participant(session, address)
            if target is None:
                raise NotFoundError(f"no participant {address}")
            if target.status == wanted:
                raise StoreConflictError(f"participant {address} is already {wanted}")
            if not active:
                _check_suspension(
                    target,
                    by=by,
                    owner=self.regulator.address,
                    participants=store.list_participants(session),
                )
        try:
            if active:
                self.ledger.reinstate(self.regulator, address)
            else:
                self.ledger.suspend(self.regulator, address)
        except ContractRevertError as exc:
            # The chain is already there (an earlier attempt's store write failed): follow it.
            if exc.error_name not in ("NotSuspended", "AlreadySuspended"):
                raise
        with self.write_sessions() as session:
            return store.set_participant_status(session, address, wanted)

    def set_company_prefixes(
        self, address: str, company_prefixes: Sequence[str]
    ) -> store.ParticipantRecord:
        """Replace a participant's GS1 company prefixes, on-chain then in the store."""
        prefixes = check_company_prefixes(company_prefixes)
        with self.sessions() as session:
            found = store.get_participant(session, address)
        if found is None:
            raise NotFoundError(f"no participant {address}")
        self.ledger.set_company_prefixes(self.regulator, found.address, list(prefixes))
        with self.write_sessions() as session:
            return store.set_company_prefixes(session, found.address, prefixes)

    def participants(self) -> list[store.ParticipantRecord]:
        with self.sessions() as session:
            return store.list_participants(session)

    # --- recalls (docs/recalls.md) ---------------------------------------------------------

    def recall(
        self,
        regulator: store.ParticipantRecord,
        *,
        gtin: str,
        lot: str,
        reason: str,
        reason_code: int = 0,
    ) -> store.RecallRecord:
        """Recall a lot on-chain as the regulator, then, in one commit, record it, mark the lot
        recalled for the rules and notify its holders. Nothing is recorded if the chain fails.

        The recall registry lets the regulator recall any well-formed batch, registered by its
        manufacturer or not, so no ``registerBatch`` is needed first. A lot already recalled
        on-chain (by its manufacturer, or by an earlier request whose commit failed) is recorded
        without a new transaction.
        """
        require_regulator(regulator)
        gtin = _check_recall(gtin, lot, reason, reason_code)
        with self._recall_lock:
            with self.sessions() as session:
                if not store.lot_known(session, gtin, lot):
                    raise NotFoundError(f"the gateway knows no lot {lot} of GTIN {gtin}")
                if store.active_recall(session, gtin, lot) is not None:
                    raise StoreConflictError(f"lot {lot} of GTIN {gtin} is already recalled")
            tx_hash: str | None = None
            if not self.ledger.is_recalled(int(gtin), lot):
                tx_hash = self.ledger.recall(self.regulator, int(gtin), lot, reason_code).tx_hash
            with self.write_sessions() as session:
                record = store.record_recall(
                    session,
                    gtin=gtin,
                    lot=lot,
                    reason=reason,
                    reason_code=reason_code,
                    by=regulator.address,
                    tx_hash=tx_hash,
                )
        log.info("recalled lot %s of GTIN %s (%s holders notified)", lot, gtin, record.notified)
        self.deliverer.wake()
        return record

    def release(
        self,
        regulator: store.ParticipantRecord,
        *,
        gtin: str,
        lot: str,
        reason: str,
        reason_code: int = 0,
    ) -> store.RecallRecord:
        """Lift a recall on-chain, then in the store (the lot moves again) and notify."""
        require_regulator(regulator)
        gtin = _check_recall(gtin, lot, reason, reason_code, allow_empty_reason=True)
        with self._recall_lock:
            with self.sessions() as session:
                if not store.lot_known(session, gtin, lot):
                    raise NotFoundError(f"the gateway knows no lot {lot} of GTIN {gtin}")
                if store.active_recall(session, gtin, lot) is None:
                    raise StoreConflictError(f"lot {lot} of GTIN {gtin} is not recalled")
            tx_hash: str | None = None
            if self.ledger.is_recalled(int(gtin), lot):
                tx_hash = self.ledger.release(self.regulator, int(gtin), lot, reason_code).tx_hash
            with self.write_sessions() as session:
                record = store.record_release(
                    session,
                    gtin=gtin,
                    lot=lot,
                    reason=reason,
                    reason_code=reason_code,
                    by=regulator.address,
                    tx_hash=tx_hash,
                )
        log.info("released lot %s of GTIN %s (%s notified)", lot, gtin, record.notified)
        self.deliverer.wake()
        return record

    def recalls(self, *, active: bool | None = None) -> list[store.RecallRecord]:
        with self.sessions() as session:
            return store.list_recalls(session, active=active)

    def notifications(
        self, participant: store.ParticipantRecord, *, after: int = 0, limit: int = 100
    ) -> list[store.NotificationRecord]:
        with self.sessions() as session:
            return store.notifications_for(session, participant.address, after=after, limit=limit)

    def set_webhook(self, participant: store.ParticipantRecord, url: str) -> store.Webhook:
        """Register or replace the participant's webhook; a new secret each time."""
        self.webhook_targets.check_url(url, pointer="/url")
        with self.write_sessions() as session:
            return store.set_webhook(session, participant.address, url)

    def delete_webhook(self, participant: store.ParticipantRecord) -> None:
        with self.write_sessions() as session:
            if not store.delete_webhook(session, participant.address):
                raise NotFoundError(f"participant {participant.address} has no webhook")

    # --- codes (docs/codes.md) -------------------------------------------------------------

    def declare_lot(
        self,
        participant: store.ParticipantRecord,
        *,
        gtin: str,
        lot: str,
        expiry: date,
        packs: int,
    ) -> tuple[store.CodeLot, bool]:
        """Declare a lot's pack count and release it: register it in the recall registry with
        the participant's custodial key (unless it already registered it), then record it.
        Returns the lot and whether it is new; the same declaration again returns the first.

        Only manufacturers: the registry lets only an active manufacturer ``registerBatch``,
        and the pharma rules let only manufacturers commission packs.
        """
        require_issuer(participant)
        gtin = _gtin_lot(gtin, lot)
        if not 1 <= packs <= codes.MAX_PACKS:
            raise ValidationError(
                f"packs must be 1 to {codes.MAX_PACKS}, got {packs}",
                rule="codes.packs",
                pointer="/packs",
            )
        if not participant.to_custody().owns_gtin(gtin):
            raise ValidationError(
                f"GTIN {gtin} is not under your GS1 company prefixes "
                f"({', '.join(participant.company_prefixes) or 'none registered'})",
                rule="commission.not-own-product",
                pointer="/gtin",
            )
        with self._codes_lock:
            with self.sessions() as session:
                existing = store.get_code_lot(session, gtin, lot)
                claimant = store.lot_claim(session, gtin, lot)
                commissioned = store.commissioned_in_lot(session, gtin, lot) if claimant else 0
            if claimant is not None and existing is None:
                if claimant != participant.address:
                    raise StoreConflictError(
                        f"lot {lot} of GTIN {gtin} was first commissioned by {claimant}: it is "
                        "theirs to declare"
                    )
                if commissioned > packs:
                    raise StoreConflictError(
                        f"lot {lot} of GTIN {gtin} has {commissioned} packs commissioned "
                        f"already, more than {packs}"
                    )
            if existing is not None:
                if (existing.participant, existing.packs, existing.expiry) == (
                    participant.address,
                    packs,
                    expiry,
                ):
                    return existing, False
                raise StoreConflictError(
                    f"lot {lot} of GTIN {gtin} is already declared ({existing.packs} packs, "
                    f"expiry {existing.expiry.isoformat()}, by {existing.participant})"
                )
            tx_hash = self._register_batch(participant, gtin, lot, packs)
            with self.write_sessions() as session:
                record = store.declare_lot(
                    session,
                    gtin=gtin,
                    lot=lot,
                    participant=participant.address,
                    expiry=expiry,
                    packs=packs,
                    released_by=participant.address,
                    register_tx=tx_hash,
                    issued=commissioned,
                )
        log.info("lot %s of GTIN %s declared: %s packs", lot, gtin, packs)
        return record, True

    def _registrant(self, gtin: str, lot: str) -> str | None:
        """Who registered the batch in the recall registry, or None."""
        return self.ledger.batch(int(gtin), lot).manufacturer

    def _register_batch(
        self, participant: store.ParticipantRecord, gtin: str, lot: str, packs: int
    ) -> str | None:
        """``registerBatch`` as the participant; None if it had registered the batch already.

        The batcher sends this account's anchors too, with nonces it reserves in the store. A
        registration that meets one of them gets a nonce error and is sent again (the sender
        resynchronises with the node); an anchor that meets it is re-sent by the batcher.
        """
        batch = self.ledger.batch(int(gtin), lot)
        registrant = batch.manufacturer
        if registrant is not None:
            if registrant.lower() != participant.address.lower():
                raise StoreConflictError(
                    f"lot {lot} of GTIN {gtin} is registered on-chain by {registrant}, not by you"
                )
            if batch.packs != packs:
                raise StoreConflictError(
                    f"lot {lot} of GTIN {gtin} is registered on-chain for {batch.packs} packs, "
                    f"not {packs}"
                )
            return None
        try:
            account = self.keys.account(participant.address, participant.keystore_path)
        except KeystoreError as exc:
            raise StoreConflictError(
                f"{exc}; register the batch in the recall registry yourself (registerBatch), "
                "then declare it"
            ) from exc
        for attempt in range(3):
            try:
                return self.ledger.register_batch(account, int(gtin), lot, packs).tx_hash
            except TransactionError as exc:
                if self._registrant(gtin, lot) == participant.address:
                    return None  # it went through after all
                if attempt == 2 or not is_nonce_error(exc):
                    raise
        raise AssertionError("unreachable")

    def issue_codes(
        self,
        participant: store.ParticipantRecord,
        *,
        gtin: str,
        lot: str,
        count: int,
        expiry: date | None = None,
    ) -> list[codes.IssuedCode]:
        """Issue and commission ``count`` codes of a declared lot, never past its packs."""
        require_issuer(participant)
        gtin = _gtin_lot(gtin, lot)
        if not 1 <= count <= codes.MAX_COUNT:
            raise ValidationError(
                f"count must be 1 to {codes.MAX_COUNT}, got {count}",
                rule="codes.count",
                pointer="/count",
            )
        with self.sessions() as session:
            if store.active_recall(session, gtin, lot) is not None:
                raise StoreConflictError(f"lot {lot} of GTIN {gtin} is recalled")
            self._check_backlog(session)
        with self.write_sessions() as session:
            _accepted, issued = codes.commission_codes(
                session,
                schema=self._schema,
                lock=self.intake._lock,
                participant=participant,
                gtin=gtin,
                lot=lot,
                count=count,
                expiry=expiry,
            )
        log.info("issued %s codes for lot %s of GTIN %s", count, lot, gtin)
        self.batcher.wake()
        return issued

    def code_lot(self, reader: store.ParticipantRecord, gtin: str, lot: str) -> store.CodeLot:
        with self.sessions() as session:
            found = store.get_code_lot(session, gtin, lot)
        if found is None or not _may_read(reader, found.participant):
            raise NotFoundError(f"no declared lot {lot} of GTIN {gtin}")
        return found

    def lot_codes(
        self, reader: store.ParticipantRecord, gtin: str, lot: str
    ) -> list[codes.IssuedCode]:
        declared = self.code_lot(reader, gtin, lot)
        with self.sessions() as session:
            rows = store.codes_of(session, gtin, lot)
        return [_issued(r, declared.expiry) for r in rows]

    def issued_code(
        self, reader: store.ParticipantRecord, gtin: str, serial: str
    ) -> codes.IssuedCode:
        with self.sessions() as session:
            found = store.get_code(session, gtin, serial)
        if found is None or not _may_read(reader, found.participant):
            raise NotFoundError(f"no code {serial} of GTIN {gtin}")
        declared = self.code_lot(reader, gtin, found.lot)
        return _issued(found, declared.expiry)

    # --- capture --------------------------------------------------------------------------

    def capture(self, participant: store.ParticipantRecord, document: Any) -> Accepted:
        with self.sessions() as session:
            self._check_backlog(session)
        # The write transaction begins at the intake's first statement, after the document is
        # checked against the schema, so the SQLite write lock is not held for that.
        with self.write_sessions() as session:
            try:
                accepted = self.intake.capture(session, participant, document)
            except ValidationError as exc:
                count = _event_count(document)
                capture_id = store.record_rejection(
                    session,
                    participant.address,
                    {"rule": exc.rule, "pointer": exc.pointer, "detail": str(exc)},
                    event_count=count,
                )
                exc.capture_id = str(capture_id)  # type: ignore[attr-defined]
                raise
        self.batcher.wake()
        return accepted

    def _check_backlog(self, session: Session) -> None:
        backlog = store.unanchored_event_count(session)
        if backlog >= self.settings.max_backlog_events:
            raise BackPressureError(
                f"{backlog} events are waiting to be anchored (limit "
                f"{self.settings.max_backlog_events}); the chain may be unreachable",
                retry_after_seconds=self.settings.retry_after_seconds,
            )

    def capture_status(self, reader: store.ParticipantRecord, capture_id: str) -> store.CaptureInfo:
        with self.sessions() as session:
            try:
                info = store.get_capture(session, capture_id)
            except ValueError:
                info = None
        if info is None or not _may_read(reader, info.participant):
            raise NotFoundError(f"no capture {capture_id}")
        return info

    def anchor(
        self, reader: store.ParticipantRecord, tx_hash: str, block_number: int | None = None
    ) -> CurrentAnchor:
        """Whether ``tx_hash`` (in ``block_number``) is a batch's current anchor: 200, or 410
        pointing to the anchor that replaced it after a reorganisation (gateway/anchors.py)."""
        tx_hash = parse_tx_hash(tx_hash)
        with self.sessions() as session:
            found = store.lookup_anchor(session, tx_hash)
        if found is None or not _may_read(reader, found.batch.participant):
            raise NotFoundError(f"the gateway recorded no anchor {tx_hash}")
        return current_anchor(found, tx_hash, block_number)

    # --- reading --------------------------------------------------------------------------

    def event(self, reader: store.ParticipantRecord, event_id: str) -> store.StoredEvent:
        with self.sessions() as session:
            found = store.get_event(session, _full_event_id(event_id))
        if found is None or not _may_read(reader, found.participant):
            raise NotFoundError(f"no event {event_id}")
        return found

    def event_document(self, reader: store.ParticipantRecord, event_id: str) -> dict[str, Any]:
        """The event as captured, once it re-hashes to its id (else 409, see
        :meth:`_verified_event`)."""
        stored = self.event(reader, event_id)
        self._verified_event(stored)
        document: dict[str, Any] = json.loads(stored.raw)
        return document

    def receipt(self, reader: store.ParticipantRecord, event_id: str) -> Receipt:
        stored = self.event(reader, event_id)
        batch = stored.batch
        if batch is None or batch.state != "anchored" or batch.root is None:
            raise NotAnchoredYetError(f"event {stored.event_id} is not anchored yet")
        if batch.tx_hash is None:  # anchored, but the crash recovery did not record by what
            with self.sessions() as session:
                healed = recover_anchor_transaction(session, self.ledger, batch)
            if healed is None or healed.tx_hash is None:
                raise NotAnchoredYetError(
                    f"event {stored.event_id}: the transaction anchoring its batch is not found yet"
                )
            batch = healed
        root, tx_hash = batch.root, batch.tx_hash
        if root is None or tx_hash is None:
            raise NotAnchoredYetError(f"event {stored.event_id} is not anchored yet")
        leaf, proof = self._verified_proof(stored, batch, root)
        event = json.loads(stored.raw)
        return Receipt(
            event_hash=stored.event_hash,
            salt=stored.salt,
            leaf=leaf,
            proof=proof,
            root=root,
            chain_id=self.chain.chain_id,
            contract=self.ledger.anchors.address,
            tx_hash=bytes.fromhex(tx_hash.removeprefix("0x")),
            block_number=int(batch.block_number or 0),
            anchored_by=batch.participant,
            event=event,
        )

    def _verified_event(self, stored: store.StoredEvent, root: bytes | None = None) -> None:
        """The stored event re-hashes to its stored hash, or 409 and the integrity alarm."""
        with self.integrity_alarm.watch():
            integrity.check_event(stored.event_id, stored.raw, stored.event_hash, root=root)
        self.integrity_alarm.passed((stored.event_id,))

    def _verified_proof(
        self, stored: store.StoredEvent, batch: store.BatchInfo, root: bytes
    ) -> tuple[bytes, tuple[bytes, ...]]:
        """The leaf and proof of an anchored event, served only if the event re-hashes to its
        stored hash and its leaf is proven under the anchored root (gateway/integrity.py);
        otherwise 409 and the integrity alarm."""
        self._verified_event(stored, root)
        with self.integrity_alarm.watch():
            tree = self._tree_of(batch, root, stored.event_id)
            proven = integrity.proven_leaf(
                tree, stored.event_id, (stored.event_hash, stored.salt), root
            )
        self.integrity_alarm.passed((stored.event_id,), root)
        return proven

    def _tree_of(self, batch: store.BatchInfo, root: bytes, event_id: str) -> MerkleTree:
        """A sealed batch never changes, so its tree is built once and kept (a few recent):
        only a tree with the anchored root (else 409 ``integrity.root-mismatch``)."""
        cached = self._trees.get(batch.id)
        if cached is None:
            with self.sessions() as session:
                values = store.batch_values(session, batch.id)
            try:
                cached = MerkleTree.build(values)
            except MerkleError as exc:  # a stored hash or salt is not 32 bytes
                raise IntegrityViolationError(
                    f"batch 0x{root.hex()}: its stored events make no tree: {exc}",
                    rule=integrity.ROOT_MISMATCH,
                    event_ids=(event_id,),
                    root=root,
                ) from exc
            integrity.check_tree(cached, root, (event_id,))
            if len(self._trees) >= 64:
                self._trees.pop(next(iter(self._trees)))
            self._trees[batch.id] = cached
        return cached

    def batch(self, reader: store.ParticipantRecord, root_hex: str) -> store.BatchContents:
        try:
            root = bytes.fromhex(root_hex.removeprefix("0x"))
        except ValueError as exc:
            raise ValidationError(
                f"root must be 32 bytes of hex, got {echo(root_hex)}", rule="request.root"
            ) from exc
        if len(root) != 32:
            raise ValidationError(
                f"root must be 32 bytes of hex, got {echo(root_hex)}", rule="request.root"
            )
        with self.sessions() as session:
            contents = store.get_batch_by_root(session, root)
        if contents is None or not _may_read(reader, contents.batch.participant):
            raise NotFoundError(f"no batch with root {root_hex}")
        with self.integrity_alarm.watch():
            integrity.check_batch(root, contents.events)
        self.integrity_alarm.passed([e.event_id for e in contents.events], root)
        return contents

    # --- bootstrap ------------------------------------------------------------------------

    def _regulator_account(self) -> LocalAccount:
        path = self.settings.resolved_keystore_dir / "regulator.json"
        password = self.settings.keystore_password_value()
        if path.exists():
            account = load_keystore(path, password)
        else:
            account = create_keystore(
                path, password, fast_kdf=self.settings.environment == "development"
            )
        self._fund(account.address)
        return account

    def _fund(self, address: str) -> None:
        """Give a new key gas on development chains; permissioned chains run at zero gas price."""
        if self.chain.dev_accounts() and self.chain.w3.eth.get_balance(address) == 0:  # type: ignore[arg-type]
            self.chain.fund(address, DEV_FUNDING_WEI)

    def _deployment(self) -> Deployment:
        path = self.settings.resolved_deployment_file
        if path.exists():
            deployment = Deployment.load(path)
            if deployment.chain_id == self.chain.chain_id and self.chain.w3.eth.get_code(
                deployment.anchor_registry  # type: ignore[arg-type]
            ):
                return deployment
            if self._store_has_participants():
                raise ConfigurationError(
                    f"{self.settings.data_dir} holds participants registered on another chain "
                    "(an in-process chain is new each run): use a new data folder, or the node "
                    "it was created on"
                )
            log.warning("deployment in %s is not on this chain; deploying anew", path)
        deployment = deploy_contracts(self.chain, self.regulator, int(self.settings.regulator_gln))
        deployment.save(path)
        return deployment

    def _store_has_participants(self) -> bool:
        with self.sessions() as session:
            return any(
                p.address != self.regulator.address for p in store.list_participants(session)
            )

    def _bootstrap_regulator(self) -> str | None:
        """Store the regulator as a participant; its first API key is written to a 0600 file."""
        with self.write_sessions() as session:
            if store.get_participant(session, self.regulator.address) is not None:
                return None
            store.create_participant(
                session,
                address=self.regulator.address,
                name="Regulator",
                roles=int(Role.REGULATOR),
                gln=self.settings.regulator_gln,
                keystore_path=str(self.settings.resolved_keystore_dir / "regulator.json"),
            )
            token = self.api_keys.issue(session, self.regulator.address)
        key_file = self.settings.data_dir / "regulator.api-key"
        if key_file.exists():
            key_file.unlink()
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(token + "\n")
        return token


def batcher_policy(settings: GatewaySettings) -> BatcherPolicy:
    return BatcherPolicy(
        max_events=settings.batch_max_events,
        max_age_seconds=settings.batch_max_age_seconds,
        confirmations=settings.confirmations,
        resend_after_seconds=settings.resend_after_seconds,
        lost_after_seconds=settings.lost_after_seconds,
        lease_seconds=settings.batcher_lease_seconds,
        reconcile_window_blocks=settings.reconcile_window_blocks,
        reconcile_interval_seconds=settings.reconcile_interval_seconds,
    )


@dataclass
class StandaloneBatcher:
    """A batcher with only what it needs (see :func:`standalone_batcher`)."""

    batcher: Batcher
    engine: Engine

    def stop(self) -> None:
        self.engine.dispose()


def standalone_batcher(settings: GatewaySettings) -> StandaloneBatcher:
    """The batcher of a gateway whose store and contracts are already set up (by its server
    process): the store's engine, the node, the deployment file and the key ring, nothing else.

    A batcher process builds this instead of a whole :class:`GatewayService` (no migration, no
    EPCIS schema, no regulator key to decrypt, no deployment check), so it anchors sooner after
    a start (issue 21)."""
    if settings.chain_url is None:
        raise ConfigurationError("a batcher of its own needs a JSON-RPC node (chain_url)")
    engine = store.make_engine(settings.resolved_database_url)
    try:
        chain = Chain.from_url(settings.chain_url)
        ledger = Ledger(chain, Deployment.load(settings.resolved_deployment_file))
        keys = KeyRing(settings.keystore_password_value())
        sessions = store.session_factory(engine, write=True)
        return StandaloneBatcher(Batcher(sessions, ledger, keys, batcher_policy(settings)), engine)
    except BaseException:
        engine.dispose()
        raise


def require_regulator(participant: store.ParticipantRecord) -> None:
    if not participant.roles & Role.REGULATOR:
        raise PermissionDeniedError("only the regulator may do this")


def check_registration(*, roles: Role, gln: str) -> None:
    """What the participant registry would refuse, refused first (422) and named."""
    if not roles or roles & ~ALL_ROLES:
        raise ValidationError(
            f"roles must name at least one known role, got {int(roles)}",
            rule="participant.roles",
            pointer="/roles",
        )
    # GS1 syntax (13 digits, not all zeros, check digit: gs1.gln / gs1.checkDigit)
    gs1.gln(gln, pointer="/gln")
    if gln[0] == "0":
        # The registry holds GLNs as numbers from 10^12: a leading zero is lost.
        raise ValidationError(
            f"GLN {gln} starts with 0, which the participant registry cannot hold",
            rule="participant.gln",
            pointer="/gln",
        )


def _check_suspension(
    target: store.ParticipantRecord,
    *,
    by: store.ParticipantRecord | None,
    owner: str,
    participants: list[store.ParticipantRecord],
) -> None:
    """Refuse a suspension that would leave no regulator able to undo it (409)."""
    if by is not None and by.address == target.address:
        raise StoreConflictError("a regulator may not suspend itself: nobody could reinstate it")
    if target.address == owner:
        raise StoreConflictError(
            f"{target.address} owns the participant registry (the gateway's regulator key) and "
            "may not be suspended"
        )
    if target.roles & Role.REGULATOR and not any(
        p.active and p.roles & Role.REGULATOR and p.address != target.address for p in participants
    ):
        raise StoreConflictError(f"{target.address} is the last active regulator")


def require_issuer(participant: store.ParticipantRecord) -> None:
    """Declaring lots and issuing codes: an active manufacturer (see docs/codes.md)."""
    if not participant.active:
        raise PermissionDeniedError(f"participant {participant.address} is suspended")
    if participant.roles & Role.MANUFACTURER:
        return
    if participant.roles & Role.IMPORTER:
        raise PermissionDeniedError(
            "an importer without the manufacturer role may not declare lots or issue codes: "
            "the recall registry lets only a manufacturer register (release) a batch and the "
            "pharma rules let only a manufacturer commission packs; the regulator may add the "
            "manufacturer role to an importer that is the local marketing authorisation holder"
        )
    raise PermissionDeniedError("only a manufacturer may declare lots and issue codes")


def _gtin_lot(gtin: str, lot: str) -> str:
    """The GTIN as 14 digits, if it and the lot are well formed (the recall registry takes a lot
    as GS1 AI 10: 1 to 20 characters of set 82, see medledger/epcis/gs1.py)."""
    gs1.lot(lot, pointer="/lot")
    return gs1.gtin(gtin, pointer="/gtin")


def _issued(record: store.CodeRecord, expiry: date) -> codes.IssuedCode:
    return codes.IssuedCode(
        gtin=record.gtin,
        serial=record.serial,
        lot=record.lot,
        expiry=expiry,
        event_id=record.event_id,
        issued_at=record.issued_at,
    )


def _check_recall(
    gtin: str, lot: str, reason: str, reason_code: int, *, allow_empty_reason: bool = False
) -> str:
    gtin = _gtin_lot(gtin, lot)
    if not reason.strip() and not allow_empty_reason:
        raise ValidationError("a recall needs a reason", rule="recall.reason", pointer="/reason")
    if not 0 <= reason_code <= MAX_REASON_CODE:
        raise ValidationError(
            f"reasonCode must be 0 to {MAX_REASON_CODE}, got {reason_code}",
            rule="recall.reason-code",
            pointer="/reasonCode",
        )
    return gtin


def _may_read(reader: store.ParticipantRecord, owner: str) -> bool:
    return reader.address == owner or bool(reader.roles & READERS)


def _full_event_id(event_id: str) -> str:
    """Accept the full ``ni:`` URI or just its 64 hex digits."""
    if len(event_id) == 64 and all(c in "0123456789abcdef" for c in event_id.lower()):
        return f"ni:///sha-256;{event_id.lower()}?ver=CBV2.0"
    return event_id


def _event_count(document: Any) -> int:
    try:
        return len(document["epcisBody"]["eventList"])
    except (TypeError, KeyError):
        return 0
