"""Suspensions (docs/suspensions.md): the regulator or a pharmacovigilance officer stops a lot
pending investigation, on-chain first, then in one commit at the gateway with a notification to
each holder; lifted, or escalated to a recall by the regulator, in one action each."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from eth_account.signers.local import LocalAccount
from sqlalchemy.orm import Session, sessionmaker

from chain.ledger import Ledger
from chain.signer import Signer
from gateway.services.lots import gtin_lot
from gateway.services.participants import require_regulator
from gateway.signing_keys import KeyRing
from gateway.store import recalls as recall_store
from gateway.store import suspensions as store
from gateway.store.participants import ParticipantRecord
from medledger.epcis import gs1
from medledger.errors import (
    KeystoreError,
    NotFoundError,
    PermissionDeniedError,
    StoreConflictError,
    ValidationError,
)
from medledger.roles import Role

log = logging.getLogger("provenance.gateway")

MAX_REASON_CODE = 2**16 - 1
MAX_CASE_NUMBER = 32


class SuspensionsService:
    """Suspensions as the regulator or its pharmacovigilance officers record them; ``notify``
    wakes the webhook deliverer."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        write_sessions: sessionmaker[Session],
        ledger: Ledger,
        regulator: LocalAccount,
        keys: KeyRing,
        stops_shipping: bool,
        notify: Callable[[], None],
    ) -> None:
        self.sessions = sessions
        self.write_sessions = write_sessions
        self.ledger = ledger
        self.regulator = regulator
        self.keys = keys
        self.stops_shipping = stops_shipping
        self.notify = notify
        self._lock = threading.Lock()

    def suspend(
        self,
        actor: ParticipantRecord,
        *,
        gtin: str,
        lot: str,
        case_number: str,
        reason: str,
        reason_code: int = 0,
        stops_shipping: bool | None = None,
    ) -> store.SuspensionRecord:
        """Suspend a lot on-chain, then, in one commit, record it, mark it suspended for the
        rules and notify its holders. Nothing is recorded if the chain fails; a lot already
        suspended on-chain (an earlier request whose commit failed) is recorded without a new
        transaction."""
        signer = self._signer(actor)
        gtin = _check(gtin, lot, reason, reason_code, rule="suspension")
        _check_case_number(case_number)
        stops = self.stops_shipping if stops_shipping is None else stops_shipping
        with self._lock:
            self._require_known(gtin, lot)
            with self.sessions() as session:
                if store.active_suspension(session, gtin, lot) is not None:
                    raise StoreConflictError(f"lot {lot} of GTIN {gtin} is already suspended")
                if recall_store.active_recall(session, gtin, lot) is not None:
                    raise StoreConflictError(f"lot {lot} of GTIN {gtin} is recalled")
            tx_hash: str | None = None
            if not self.ledger.is_suspended(int(gtin), lot):
                tx_hash = self.ledger.suspend_lot(
                    signer, int(gtin), lot, reason_code, case_number
                ).tx_hash
            with self.write_sessions() as session:
                record = store.record_suspension(
                    session,
                    gtin=gtin,
                    lot=lot,
                    case_number=case_number,
                    reason=reason,
                    reason_code=reason_code,
                    stops_shipping=stops,
                    by=actor.address,
                    tx_hash=tx_hash,
                )
        log.info(
            "suspended lot %s of GTIN %s, case %s (%s holders notified)",
            lot,
            gtin,
            case_number,
            record.notified,
        )
        self.notify()
        return record

    def lift(
        self,
        actor: ParticipantRecord,
        *,
        gtin: str,
        lot: str,
        reason: str = "",
        reason_code: int = 0,
    ) -> store.SuspensionRecord:
        """Lift a suspension on-chain, then at the gateway (the lot is dispensed again)."""
        signer = self._signer(actor)
        gtin = _check(gtin, lot, reason, reason_code, rule="suspension", allow_empty_reason=True)
        with self._lock:
            self._require_suspended(gtin, lot)
            tx_hash: str | None = None
            if self.ledger.is_suspended(int(gtin), lot):
                tx_hash = self.ledger.lift_suspension(signer, int(gtin), lot, reason_code).tx_hash
            with self.write_sessions() as session:
                record = store.record_lift(
                    session,
                    gtin=gtin,
                    lot=lot,
                    reason=reason,
                    reason_code=reason_code,
                    by=actor.address,
                    tx_hash=tx_hash,
                )
        log.info("lifted the suspension of lot %s of GTIN %s", lot, gtin)
        self.notify()
        return record

    def escalate(
        self,
        regulator: ParticipantRecord,
        *,
        gtin: str,
        lot: str,
        reason: str,
        reason_code: int = 0,
    ) -> tuple[store.SuspensionRecord, recall_store.RecallRecord]:
        """Turn a suspension into a recall (the regulator): one transaction on-chain, one
        commit at the gateway; holders are notified of the recall."""
        require_regulator(regulator)
        gtin = _check(gtin, lot, reason, reason_code, rule="recall")
        with self._lock:
            self._require_suspended(gtin, lot)
            tx_hash: str | None = None
            if not self.ledger.is_recalled(int(gtin), lot):
                tx_hash = self.ledger.escalate_suspension(
                    self.regulator, int(gtin), lot, reason_code
                ).tx_hash
            with self.write_sessions() as session:
                records = store.record_escalation(
                    session,
                    gtin=gtin,
                    lot=lot,
                    reason=reason,
                    reason_code=reason_code,
                    by=regulator.address,
                    tx_hash=tx_hash,
                )
        log.info("escalated the suspension of lot %s of GTIN %s to a recall", lot, gtin)
        self.notify()
        return records

    def all(self, *, active: bool | None = None) -> list[store.SuspensionRecord]:
        with self.sessions() as session:
            return store.list_suspensions(session, active=active)

    def notifications_of(
        self, actor: ParticipantRecord, suspension_id: int
    ) -> list[tuple[recall_store.NotificationRecord, recall_store.DeliveryRecord | None]]:
        """Who a suspension notified (its lifting or escalation too), with each delivery."""
        require_suspender(actor)
        with self.sessions() as session:
            if not store.suspension_exists(session, suspension_id):
                raise NotFoundError(f"there is no suspension {suspension_id}")
            return store.notifications_of_suspension(session, suspension_id)

    def _signer(self, actor: ParticipantRecord) -> Signer:
        """Who signs the transaction: the regulator's key, or the officer's own (custodial or
        in the remote signer), so the chain names the officer."""
        require_suspender(actor)
        if actor.roles & Role.REGULATOR:
            return self.regulator
        try:
            return self.keys.signer(actor.address, actor.keystore_path)
        except KeystoreError as exc:
            raise StoreConflictError(
                f"{exc}; suspend the lot in the recall registry yourself (suspend), then ask "
                "again to record it"
            ) from exc

    def _require_known(self, gtin: str, lot: str) -> None:
        with self.sessions() as session:
            if not recall_store.lot_known(session, gtin, lot):
                raise NotFoundError(f"the gateway knows no lot {lot} of GTIN {gtin}")

    def _require_suspended(self, gtin: str, lot: str) -> None:
        self._require_known(gtin, lot)
        with self.sessions() as session:
            if store.active_suspension(session, gtin, lot) is None:
                raise StoreConflictError(f"lot {lot} of GTIN {gtin} is not suspended")


def require_suspender(participant: ParticipantRecord) -> None:
    """The regulator, or an active pharmacovigilance officer."""
    if participant.roles & Role.REGULATOR:
        return
    if not participant.roles & Role.PHARMACOVIGILANCE or participant.status != "active":
        raise PermissionDeniedError(
            "only the regulator or a pharmacovigilance officer may suspend a lot"
        )


def _check(
    gtin: str,
    lot: str,
    reason: str,
    reason_code: int,
    *,
    rule: str,
    allow_empty_reason: bool = False,
) -> str:
    gtin = gtin_lot(gtin, lot)
    if not reason.strip() and not allow_empty_reason:
        raise ValidationError(f"a {rule} needs a reason", rule=f"{rule}.reason", pointer="/reason")
    if not 0 <= reason_code <= MAX_REASON_CODE:
        raise ValidationError(
            f"reasonCode must be 0 to {MAX_REASON_CODE}, got {reason_code}",
            rule=f"{rule}.reason-code",
            pointer="/reasonCode",
        )
    return gtin


def _check_case_number(case_number: str) -> None:
    """What the registry would refuse (InvalidCaseNumber), refused first and named."""
    if not 1 <= len(case_number) <= MAX_CASE_NUMBER or not set(case_number) <= gs1.CSET82:
        raise ValidationError(
            f"caseNumber must be 1 to {MAX_CASE_NUMBER} characters of GS1 character set 82, "
            f"got {case_number!r}",
            rule="suspension.case-number",
            pointer="/caseNumber",
        )
