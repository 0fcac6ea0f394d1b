"""Participants: API keys, registration (on-chain, then in the store), suspension and
reinstatement, company prefixes; and who may read what."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from eth_account.signers.local import LocalAccount
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from chain.keystore import create_keystore, load_keystore
from chain.ledger import Ledger, ParticipantStatus
from gateway.settings import GatewaySettings
from gateway.store import participants as store
from gateway.store.recalls import Webhook, set_webhook
from medledger.custody.authority import check_company_prefixes
from medledger.epcis import gs1
from medledger.errors import (
    ContractRevertError,
    NotFoundError,
    PermissionDeniedError,
    StoreConflictError,
    ValidationError,
)
from medledger.regions import region_code
from medledger.roles import Role
from servicekit.apikeys import SYSTEM
from servicekit.sql.helpers import utcnow
from servicekit.webhook_targets import TargetPolicy

#: May read any participant's events and batches.
READERS = Role.REGULATOR | Role.AUDITOR
#: Every role the participant registry knows (contracts/Roles.sol ``ALL``).
ALL_ROLES = Role(sum(role.value for role in Role))


@dataclass(frozen=True)
class NewParticipant:
    record: store.ParticipantRecord
    api_key: str
    webhook: Webhook | None = None
    #: Answered again: an earlier request with the same Idempotency-Key registered it.
    replayed: bool = False


@dataclass(frozen=True)
class _Registration:
    """What a registration asks for, validated and in canonical form."""

    name: str
    roles: Role
    gln: str
    rule_set: str
    webhook_url: str | None
    prefixes: tuple[str, ...]
    region: str | None
    #: Who asked (the regulator's address): the actor of the key issue in the key audit.
    requester: str | None = None
    #: When the request reached the gateway: orders attempts with the same Idempotency-Key.
    arrived: datetime = field(default_factory=utcnow)

    def digest(self) -> str:
        """SHA-256 of its canonical JSON: what "the same request" means to an Idempotency-Key."""
        facts = {
            "name": self.name,
            "roles": int(self.roles),
            "gln": self.gln,
            "ruleSet": self.rule_set,
            "webhookUrl": self.webhook_url,
            "companyPrefixes": list(self.prefixes),
            "region": self.region,
        }
        canonical = json.dumps(facts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


#: PostgreSQL advisory lock key of participant registrations ("regs").
_REGISTRATION_LOCK_KEY = 0x72656773


def _lock_registrations(session: Session) -> None:
    """Serialise registrations across processes until the session's transaction ends.

    On PostgreSQL, ``pg_advisory_xact_lock``; SQLite allows one writer at a time and a deployment
    runs one gateway process on it, whose registration lock serialises in memory (the session is
    then never used: no ``BEGIN IMMEDIATE`` is held across a chain transaction)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _REGISTRATION_LOCK_KEY})


class ParticipantsService:
    """The participant registry as the regulator keeps it: on-chain first, then the store."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        write_sessions: sessionmaker[Session],
        api_keys: store.ApiKeys,
        ledger: Ledger,
        regulator: LocalAccount,
        settings: GatewaySettings,
        webhook_targets: TargetPolicy,
        fund: Callable[[str], None],
    ) -> None:
        self.sessions = sessions
        self.write_sessions = write_sessions
        self.api_keys = api_keys
        self.ledger = ledger
        self.regulator = regulator
        self.settings = settings
        self.webhook_targets = webhook_targets
        #: Gives a new key gas on development chains (gateway/startup.py ``fund``).
        self.fund = fund
        self._registration_lock = threading.Lock()

    def authenticate(self, token: str) -> store.ParticipantRecord | None:
        with self.sessions() as session:
            return self.api_keys.authenticate(session, token, allow_suspended=True)

    def caller(self, token: str) -> store.Caller | None:
        """The participant (suspended too: check ``.active``) and key a token is, or None."""
        with self.sessions() as session:
            return self.api_keys.caller(session, token, allow_suspended=True)

    def register(
        self,
        *,
        name: str,
        roles: Role,
        gln: str,
        rule_set: str = "pharma",
        webhook_url: str | None = None,
        company_prefixes: Sequence[str] = (),
        region: str | None = None,
        idempotency_key: str | None = None,
        requester: str | None = None,
        arrived: datetime | None = None,
    ) -> NewParticipant:
        """Register on-chain (as the regulator) and in the store, with a custodial key (and a
        webhook for its notifications, if ``webhook_url``), and the GS1 company prefixes of the
        products it may commission (on-chain too).

        Everything is validated before a keystore is written or a transaction sent (422), and a
        failed registration leaves nothing behind: a keystore written for a participant the chain
        did not register is removed, so the same request can simply be sent again. A keystore
        left by an attempt whose chain transaction went through but whose store write did not is
        taken up again (see docs/security.md, "Participant administration").

        With an ``idempotency_key`` (sent by ``requester``), the same request sent again (its
        answer lost) answers the same participant with a fresh API key and revokes the key the
        lost answer carried; the same key with another body is a 409 (:meth:`_register_once`).
        ``arrived``: when the request reached the gateway (default: now), which orders attempts
        with the same key."""
        arrived = arrived or utcnow()
        check_registration(roles=roles, gln=gln)
        facts = _Registration(
            name=name,
            roles=roles,
            gln=gln,
            rule_set=rule_set,
            webhook_url=webhook_url,
            prefixes=check_company_prefixes(company_prefixes),
            region=None if region is None else region_code(region),
            requester=requester,
            arrived=arrived,
        )
        if webhook_url is not None:
            self.webhook_targets.check_url(webhook_url, pointer="/webhookUrl")
        # one registration at a time, in this process and (PostgreSQL) across processes: a
        # concurrent one of the same GLN must not take up a keystore that this one is about to
        # remove, nor a retry run beside the attempt it retries
        with self._registration_lock, self.write_sessions() as lock:
            _lock_registrations(lock)
            if idempotency_key is None:
                self._refuse_taken_gln(gln)
                return self._register_locked(facts)
            return self._register_once(facts, idempotency_key, requester or "")

    def _register_once(
        self, facts: _Registration, idempotency_key: str, requester: str
    ) -> NewParticipant:
        with self.write_sessions() as session:
            request = store.claim_registration_request(
                session,
                requester=requester,
                idempotency_key=idempotency_key,
                body_sha256=facts.digest(),
                gln=facts.gln,
            )
        if request.body_sha256 != facts.digest():
            raise StoreConflictError(
                f"Idempotency-Key {idempotency_key!r} was sent with another registration; "
                "send a new key for a new request"
            )
        if request.address is not None:
            if request.answered_arrival is not None and facts.arrived <= request.answered_arrival:
                # an earlier attempt run late: its client already retried and holds the key of
                # a later answer, which this one must not take away
                raise StoreConflictError(
                    f"a later request with Idempotency-Key {idempotency_key!r} was answered; "
                    "its answer holds the participant's key"
                )
            return self._answer_again(facts, request)
        try:
            # not yet done (new, or an attempt that failed or died before its store write):
            # register, taking up the keystore (and the chain's registration) it left
            self._refuse_taken_gln(facts.gln)
            return self._register_locked(facts, request)
        except BaseException:
            with self.write_sessions() as session:
                # unless its participant got stored: the key may be sent again, with any body
                store.forget_registration_request(session, request)
            raise

    def _answer_again(
        self, facts: _Registration, request: store.RegistrationRequest
    ) -> NewParticipant:
        """The registration ``request`` made, answered again: a fresh key, the one its lost
        answer carried revoked (and a fresh webhook secret, if it set a webhook)."""
        address = request.address or ""
        with self.write_sessions() as session:
            record = store.get_participant(session, address)
            if record is None:  # its participant row is gone: nothing to answer
                raise NotFoundError(f"no participant {address}")
            unseen = request.key_prefix or store.first_api_key_prefix(session, address)
            why = f"registration answered again (Idempotency-Key {request.idempotency_key!r})"
            api_key = self.api_keys.issue(
                session, address, label="initial", actor=request.requester or SYSTEM, detail=why
            )
            store.note_registration(
                session, request, key_prefix=self._prefix(api_key), arrival=facts.arrived
            )
            unseen_row = None if unseen is None else store.api_key_by_prefix(session, unseen)
            if unseen_row is not None:  # audited; commits the note too
                self.api_keys.flow.revoke(
                    session,
                    unseen_row,
                    actor=request.requester or SYSTEM,
                    detail=f"{why}: the key of the answer nobody saw",
                )
            else:
                session.commit()
            hook = (
                set_webhook(session, address, facts.webhook_url)
                if facts.webhook_url is not None
                else None
            )
        return NewParticipant(record=record, api_key=api_key, webhook=hook, replayed=True)

    def _refuse_taken_gln(self, gln: str) -> None:
        with self.sessions() as session:
            if store.participant_by_gln(session, gln) is not None:
                raise ValidationError(
                    f"GLN {gln} is already registered", rule="participant.gln-taken"
                )

    def _register_locked(
        self, facts: _Registration, request: store.RegistrationRequest | None = None
    ) -> NewParticipant:
        """Keystore, chain, then store (the registration lock held)."""
        path = self.settings.resolved_keystore_dir / f"participant-{facts.gln}.json"
        password = self.settings.keystore_password_value()
        written = not path.exists()
        account = (
            create_keystore(path, password, fast_kdf=self.settings.fast_kdf)
            if written
            else load_keystore(path, password)
        )
        try:
            self.fund(account.address)
            self._register_on_chain(account.address, facts.roles, facts.gln)
            if facts.prefixes:
                self.ledger.set_company_prefixes(
                    self.regulator, account.address, list(facts.prefixes)
                )
        except BaseException:
            if written:
                path.unlink(missing_ok=True)
            raise
        with self.write_sessions() as session:
            record = store.create_participant(
                session,
                address=account.address,
                name=facts.name,
                roles=int(facts.roles),
                gln=facts.gln,
                rule_set=facts.rule_set,
                keystore_path=str(path),
                company_prefixes=facts.prefixes,
                region=facts.region,
                commit=request is None,
            )
            if request is not None:  # committed with the participant and its key
                store.note_registration(session, request, address=account.address)
            api_key = self.api_keys.issue(
                session,
                account.address,
                label="initial",
                actor=facts.requester or SYSTEM,
                detail="registration",
            )
            if request is not None:
                store.note_registration(
                    session, request, key_prefix=self._prefix(api_key), arrival=facts.arrived
                )
                session.commit()
            hook = (
                set_webhook(session, account.address, facts.webhook_url)
                if facts.webhook_url is not None
                else None
            )
        return NewParticipant(record=record, api_key=api_key, webhook=hook)

    @staticmethod
    def _prefix(api_key: str) -> str:
        return api_key.split("_")[1]

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

    def set_region(self, address: str, region: str | None) -> store.ParticipantRecord:
        """Set (``None``: clear) a participant's region, an ISO 3166-2 code (gateway only: the
        chain does not hold regions)."""
        code = None if region is None else region_code(region)
        address = self.get(address).address
        with self.write_sessions() as session:
            return store.set_region(session, address, code)

    def get(self, address: str) -> store.ParticipantRecord:
        """The participant at ``address`` (any case); 404 (NotFoundError) if unknown."""
        with self.sessions() as session:
            found = store.find_participant(session, address)
        if found is None:
            raise NotFoundError(f"no participant {address}")
        return found

    def all(self, *, updated_since: datetime | None = None) -> list[store.ParticipantRecord]:
        """Every participant the gateway registered (the regulator too); with
        ``updated_since``, those changed at or after it (store.list_participants)."""
        with self.sessions() as session:
            return store.list_participants(session, updated_since=updated_since)


def may_read(reader: store.ParticipantRecord, owner: str) -> bool:
    """A participant reads its own events, captures, batches and lots; the regulator and
    auditors read everyone's."""
    return reader.address == owner or bool(reader.roles & READERS)


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
