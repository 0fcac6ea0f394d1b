"""Recalls and notifications (docs/recalls.md): the regulator recalls a lot or lifts its recall,
on-chain first, then in one commit at the gateway with a notification to each holder; each
participant's notification feed and webhook."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Literal

from eth_account.signers.local import LocalAccount
from sqlalchemy.orm import Session, sessionmaker

from chain.ledger import Ledger
from gateway.services.lots import gtin_lot
from gateway.services.participants import require_regulator
from gateway.store import recalls as store
from gateway.store.participants import ParticipantRecord
from medledger.errors import NotFoundError, StoreConflictError, ValidationError
from servicekit.webhook_targets import TargetPolicy

log = logging.getLogger("provenance.gateway")

MAX_REASON_CODE = 2**16 - 1


class RecallsService:
    """Recalls as the regulator records them; ``notify`` wakes the webhook deliverer."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        write_sessions: sessionmaker[Session],
        ledger: Ledger,
        regulator: LocalAccount,
        webhook_targets: TargetPolicy,
        notify: Callable[[], None],
    ) -> None:
        self.sessions = sessions
        self.write_sessions = write_sessions
        self.ledger = ledger
        self.regulator = regulator
        self.webhook_targets = webhook_targets
        self.notify = notify
        self._lock = threading.Lock()

    def recall(
        self,
        regulator: ParticipantRecord,
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
        return self._change_recall(
            "recall", regulator, gtin=gtin, lot=lot, reason=reason, reason_code=reason_code
        )

    def release(
        self,
        regulator: ParticipantRecord,
        *,
        gtin: str,
        lot: str,
        reason: str,
        reason_code: int = 0,
    ) -> store.RecallRecord:
        """Lift a recall on-chain, then in the store (the lot moves again) and notify."""
        return self._change_recall(
            "release", regulator, gtin=gtin, lot=lot, reason=reason, reason_code=reason_code
        )

    def _change_recall(
        self,
        change: Literal["recall", "release"],
        regulator: ParticipantRecord,
        *,
        gtin: str,
        lot: str,
        reason: str,
        reason_code: int,
    ) -> store.RecallRecord:
        """A recall (``recalling``) or its release: checked, sent on-chain unless the chain is
        there already, then recorded with the holders' notifications in one commit."""
        recalling = change == "recall"
        require_regulator(regulator)
        gtin = _check_recall(gtin, lot, reason, reason_code, allow_empty_reason=not recalling)
        with self._lock:
            with self.sessions() as session:
                if not store.lot_known(session, gtin, lot):
                    raise NotFoundError(f"the gateway knows no lot {lot} of GTIN {gtin}")
                recalled = store.active_recall(session, gtin, lot) is not None
                if recalled and recalling:
                    raise StoreConflictError(f"lot {lot} of GTIN {gtin} is already recalled")
                if not recalled and not recalling:
                    raise StoreConflictError(f"lot {lot} of GTIN {gtin} is not recalled")
            tx_hash: str | None = None
            if self.ledger.is_recalled(int(gtin), lot) != recalling:
                send = self.ledger.recall if recalling else self.ledger.release
                tx_hash = send(self.regulator, int(gtin), lot, reason_code).tx_hash
            record_change = store.record_recall if recalling else store.record_release
            with self.write_sessions() as session:
                record = record_change(
                    session,
                    gtin=gtin,
                    lot=lot,
                    reason=reason,
                    reason_code=reason_code,
                    by=regulator.address,
                    tx_hash=tx_hash,
                )
        if recalling:
            log.info("recalled lot %s of GTIN %s (%s holders notified)", lot, gtin, record.notified)
        else:
            log.info("released lot %s of GTIN %s (%s notified)", lot, gtin, record.notified)
        self.notify()
        return record

    def all(self, *, active: bool | None = None) -> list[store.RecallRecord]:
        """Every recall recorded, oldest first (only current ones, or only lifted ones)."""
        with self.sessions() as session:
            return store.list_recalls(session, active=active)

    def notifications(
        self, participant: ParticipantRecord, *, after: int = 0, limit: int = 100
    ) -> list[store.NotificationRecord]:
        with self.sessions() as session:
            return store.notifications_for(session, participant.address, after=after, limit=limit)

    def notifications_of(
        self, regulator: ParticipantRecord, recall_id: int
    ) -> list[tuple[store.NotificationRecord, store.DeliveryRecord | None]]:
        """Who a recall notified (and its release), with each webhook delivery's state: the
        regulator's view of a recall's reach (:class:`NotFoundError`: no such recall)."""
        require_regulator(regulator)
        with self.sessions() as session:
            if not store.recall_exists(session, recall_id):
                raise NotFoundError(f"there is no recall {recall_id}")
            return store.notifications_of_recall(session, recall_id)

    def set_webhook(self, participant: ParticipantRecord, url: str) -> store.Webhook:
        """Register or replace the participant's webhook; a new secret each time."""
        self.webhook_targets.check_url(url, pointer="/url")
        with self.write_sessions() as session:
            return store.set_webhook(session, participant.address, url)

    def delete_webhook(self, participant: ParticipantRecord) -> None:
        with self.write_sessions() as session:
            if not store.delete_webhook(session, participant.address):
                raise NotFoundError(f"participant {participant.address} has no webhook")


def _check_recall(
    gtin: str, lot: str, reason: str, reason_code: int, *, allow_empty_reason: bool = False
) -> str:
    gtin = gtin_lot(gtin, lot)
    if not reason.strip() and not allow_empty_reason:
        raise ValidationError("a recall needs a reason", rule="recall.reason", pointer="/reason")
    if not 0 <= reason_code <= MAX_REASON_CODE:
        raise ValidationError(
            f"reasonCode must be 0 to {MAX_REASON_CODE}, got {reason_code}",
            rule="recall.reason-code",
            pointer="/reasonCode",
        )
    return gtin
