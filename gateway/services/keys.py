"""Participants' API keys: list, issue, rotate, revoke, and the key audit (issue 15).

The regulator manages every participant's keys; a participant manages its own (at most
:data:`SELF_SERVICE_LIVE_KEYS` live keys of its own making; a rotation's successor is not
counted against it). Every operation is audited with the caller's address as its actor. The
lifecycle itself is servicekit/apikeys.py ``KeyFlow``, shared with the indexer's reader keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.store import participants as store
from gateway.store.models import ParticipantRow
from medledger.errors import NotFoundError, PermissionDeniedError, StoreConflictError
from medledger.roles import Role
from servicekit.apikeys import DEFAULT_GRACE, AuditEntry, check_label

#: Live keys a participant may hold when it issues its own (the regulator has no cap).
SELF_SERVICE_LIVE_KEYS = 5


@dataclass(frozen=True)
class IssuedKey:
    token: str
    key: store.ApiKeyInfo


@dataclass(frozen=True)
class RotatedKey:
    token: str
    key: store.ApiKeyInfo
    previous: store.ApiKeyInfo


class KeysService:
    """API keys by participant, for the regulator and for each participant itself."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        write_sessions: sessionmaker[Session],
        api_keys: store.ApiKeys,
    ) -> None:
        self.sessions = sessions
        self.write_sessions = write_sessions
        self.api_keys = api_keys

    def listing(self, caller: store.ParticipantRecord, address: str) -> list[store.ApiKeyInfo]:
        with self.sessions() as session:
            owner = self._owner(session, caller, address)
            return self.api_keys.listing(session, owner)

    def issue(
        self,
        caller: store.ParticipantRecord,
        address: str,
        *,
        label: str = "",
        expires_at: datetime | None = None,
        scope: str = store.PARTICIPANT_SCOPE,
    ) -> IssuedKey:
        check_label(label)
        with self.write_sessions() as session:
            owner = self._owner(session, caller, address)
            if scope == store.BATCH_READER_SCOPE:
                self._check_batch_reader(session, caller, owner)
            elif not is_regulator(caller):
                live = self.api_keys.live_count(session, owner, store.PARTICIPANT_SCOPE)
                if live >= SELF_SERVICE_LIVE_KEYS:
                    raise StoreConflictError(
                        f"{owner} already holds {live} live keys (at most "
                        f"{SELF_SERVICE_LIVE_KEYS} of its own making): revoke one first, or "
                        "rotate it"
                    )
            issued = self.api_keys.issue_key(
                session,
                owner,
                label=label,
                expires_at=expires_at,
                scope=scope,
                actor=caller.address,
            )
            return IssuedKey(issued.token, store.ApiKeyInfo(issued.key, issued.row.scope))

    def rotate(
        self,
        caller: store.ParticipantRecord,
        address: str,
        key_id: int,
        *,
        grace: timedelta = DEFAULT_GRACE,
        expires_at: datetime | None = None,
    ) -> RotatedKey:
        with self.write_sessions() as session:
            owner = self._owner(session, caller, address)
            rotated = self.api_keys.rotate(
                session, owner, key_id, actor=caller.address, grace=grace, expires_at=expires_at
            )
            scope = rotated.row.scope
            return RotatedKey(
                rotated.token,
                store.ApiKeyInfo(rotated.key, scope),
                store.ApiKeyInfo(rotated.old, scope),
            )

    def revoke(
        self, caller: store.ParticipantRecord, address: str, key_id: int
    ) -> store.ApiKeyInfo:
        with self.write_sessions() as session:
            owner = self._owner(session, caller, address)
            return self.api_keys.revoke_id(session, owner, key_id, actor=caller.address)

    def audit(
        self,
        caller: store.ParticipantRecord,
        *,
        participant: str | None = None,
        since: datetime | None = None,
    ) -> list[AuditEntry]:
        """The key audit (the regulator only), of one participant's keys if named."""
        if not is_regulator(caller):
            raise PermissionDeniedError("only the regulator may read the key audit")
        with self.sessions() as session:
            owner = None if participant is None else self._find(session, participant)
            return self.api_keys.audit(session, participant=owner, since=since)

    # --- who may -------------------------------------------------------------------------

    def _owner(self, session: Session, caller: store.ParticipantRecord, address: str) -> str:
        """The participant ``address`` names (``me``: the caller), if the caller may manage
        its keys: the regulator any participant's, a participant its own (403 otherwise)."""
        if address == "me" or address.lower() == caller.address.lower():
            return caller.address
        if not is_regulator(caller):
            raise PermissionDeniedError("a participant manages its own keys only")
        return self._find(session, address)

    @staticmethod
    def _find(session: Session, address: str) -> str:
        found = session.scalar(
            select(ParticipantRow.address).where(
                func.lower(ParticipantRow.address) == address.lower()
            )
        )
        if found is None:
            raise NotFoundError(f"no participant {address}")
        return found

    @staticmethod
    def _check_batch_reader(session: Session, caller: store.ParticipantRecord, owner: str) -> None:
        """A batch-reader key is the regulator's, issued by the regulator."""
        target = store.get_participant(session, owner)
        if not is_regulator(caller) or target is None or not target.roles & Role.REGULATOR:
            raise PermissionDeniedError(
                "batch-reader keys are issued by the regulator, to a regulator only"
            )


def is_regulator(participant: store.ParticipantRecord) -> bool:
    return bool(participant.roles & Role.REGULATOR)
