"""Lots and codes (docs/codes.md): a manufacturer declares a lot (registered in the recall
registry with its custodial key), then issues and commissions codes of it, never past its packs."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import date

from sqlalchemy.orm import Session, sessionmaker

from chain.ledger import Ledger
from chain.sender import is_nonce_error
from gateway import code_issuance
from gateway.services.capture import check_backlog
from gateway.services.participants import may_read
from gateway.settings import GatewaySettings
from gateway.signing_keys import KeyRing
from gateway.store import lots as store
from gateway.store.participants import ParticipantRecord
from gateway.store.recalls import active_recall
from medledger.epcis import gs1
from medledger.epcis.schema import EpcisSchema
from medledger.errors import (
    KeystoreError,
    NotFoundError,
    PermissionDeniedError,
    StoreConflictError,
    TransactionError,
    ValidationError,
)
from medledger.roles import Role

log = logging.getLogger("provenance.gateway")


class LotsService:
    """Declared lots and their codes; ``capture_lock`` is the intake's (a commissioning is a
    capture), ``wake`` tells the batcher there is something to anchor."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        write_sessions: sessionmaker[Session],
        ledger: Ledger,
        keys: KeyRing,
        schema: EpcisSchema,
        capture_lock: threading.Lock,
        settings: GatewaySettings,
        wake: Callable[[], None],
    ) -> None:
        self.sessions = sessions
        self.write_sessions = write_sessions
        self.ledger = ledger
        self.keys = keys
        self.schema = schema
        self.capture_lock = capture_lock
        self.settings = settings
        self.wake = wake
        self._lock = threading.Lock()

    def declare(
        self,
        participant: ParticipantRecord,
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
        gtin = gtin_lot(gtin, lot)
        if not 1 <= packs <= code_issuance.MAX_PACKS:
            raise ValidationError(
                f"packs must be 1 to {code_issuance.MAX_PACKS}, got {packs}",
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
        with self._lock:
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

    def registrant(self, gtin: str, lot: str) -> str | None:
        """Who registered the batch in the recall registry, or None."""
        return self.ledger.batch(int(gtin), lot).manufacturer

    def _register_batch(
        self, participant: ParticipantRecord, gtin: str, lot: str, packs: int
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
            account = self.keys.signer(participant.address, participant.keystore_path)
        except KeystoreError as exc:
            raise StoreConflictError(
                f"{exc}; register the batch in the recall registry yourself (registerBatch), "
                "then declare it"
            ) from exc
        for attempt in range(3):
            try:
                return self.ledger.register_batch(account, int(gtin), lot, packs).tx_hash
            except TransactionError as exc:
                if self.registrant(gtin, lot) == participant.address:
                    return None  # it went through after all
                if attempt == 2 or not is_nonce_error(exc):
                    raise
        raise AssertionError("unreachable")

    def issue_codes(
        self,
        participant: ParticipantRecord,
        *,
        gtin: str,
        lot: str,
        count: int,
        expiry: date | None = None,
    ) -> list[code_issuance.IssuedCode]:
        """Issue and commission ``count`` codes of a declared lot, never past its packs."""
        require_issuer(participant)
        gtin = gtin_lot(gtin, lot)
        if not 1 <= count <= code_issuance.MAX_COUNT:
            raise ValidationError(
                f"count must be 1 to {code_issuance.MAX_COUNT}, got {count}",
                rule="codes.count",
                pointer="/count",
            )
        with self.sessions() as session:
            if active_recall(session, gtin, lot) is not None:
                raise StoreConflictError(f"lot {lot} of GTIN {gtin} is recalled")
            check_backlog(session, self.settings)
        with self.write_sessions() as session:
            _accepted, issued = code_issuance.commission_codes(
                session,
                schema=self.schema,
                lock=self.capture_lock,
                participant=participant,
                gtin=gtin,
                lot=lot,
                count=count,
                expiry=expiry,
            )
        log.info("issued %s codes for lot %s of GTIN %s", count, lot, gtin)
        self.wake()
        return issued

    def lot(self, reader: ParticipantRecord, gtin: str, lot: str) -> store.CodeLot:
        with self.sessions() as session:
            found = store.get_code_lot(session, gtin, lot)
        if found is None or not may_read(reader, found.participant):
            raise NotFoundError(f"no declared lot {lot} of GTIN {gtin}")
        return found

    def codes(
        self, reader: ParticipantRecord, gtin: str, lot: str
    ) -> list[code_issuance.IssuedCode]:
        declared = self.lot(reader, gtin, lot)
        with self.sessions() as session:
            rows = store.codes_of(session, gtin, lot)
        return [_issued(r, declared.expiry) for r in rows]

    def code(self, reader: ParticipantRecord, gtin: str, serial: str) -> code_issuance.IssuedCode:
        with self.sessions() as session:
            found = store.get_code(session, gtin, serial)
        if found is None or not may_read(reader, found.participant):
            raise NotFoundError(f"no code {serial} of GTIN {gtin}")
        declared = self.lot(reader, gtin, found.lot)
        return _issued(found, declared.expiry)


def require_issuer(participant: ParticipantRecord) -> None:
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


def gtin_lot(gtin: str, lot: str) -> str:
    """The GTIN as 14 digits, if it and the lot are well formed (the recall registry takes a lot
    as GS1 AI 10: 1 to 20 characters of set 82, see :func:`medledger.epcis.gs1.gtin_lot`)."""
    return gs1.gtin_lot(gtin, lot, gtin_pointer="/gtin", lot_pointer="/lot")[0]


def _issued(record: store.CodeRecord, expiry: date) -> code_issuance.IssuedCode:
    return code_issuance.IssuedCode(
        gtin=record.gtin,
        serial=record.serial,
        lot=record.lot,
        expiry=expiry,
        event_id=record.event_id,
        issued_at=record.issued_at,
    )
