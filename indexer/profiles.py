"""Participant profiles: the names, GLNs and regions a person reads beside an address.

The chain's registry gives the index each participant's address, roles and GLN; names and
regions are not on chain (gas, and they are not facts the chain proves). They come from the
gateway's participant list (``GET /participants``: address, name, gln, roles, status, and where
the gateway has them ``region`` and ``updatedAt``), read with the indexer's gateway key and
kept in ``ix_participant_profiles``, which no rollback touches. They are for display and for an
inspector's region (indexer/api/deps.py); GLN and roles as the chain says them stay the
authority.

A gateway that gives ``updatedAt`` is asked only for what changed since the newest one seen
(``?updatedSince=``); one that does not is read whole each time (a few hundred rows). A gateway
that ignores the parameter answers the whole list, which is also right.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
from eth_utils.address import is_address, to_checksum_address
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from indexer.store.models import ParticipantProfileRow
from indexer.store.state import chunks
from medledger.errors import IndexerError, ValidationError
from medledger.regions import region_code
from servicekit.outage_log import OutageLog

log = logging.getLogger("provenance.indexer")

NAME_LIMIT = 200


@dataclass(frozen=True, slots=True)
class Profile:
    address: str  # checksummed
    name: str
    gln: str | None
    region: str | None  # canonical ISO 3166-2 (or country) code
    updated_at: datetime | None


class ProfileSource(Protocol):
    def fetch(self, since: datetime | None) -> list[Profile]: ...

    def close(self) -> None: ...


def _when(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _region(value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return region_code(value)
    except ValidationError:
        return None  # a region the index cannot place is no region (never a wrong scope)


def parse_profiles(body: Any) -> list[Profile]:
    """The gateway's participant list as profiles; entries without an address are skipped."""
    items = body.get("items") if isinstance(body, dict) else body
    if not isinstance(items, list):
        raise IndexerError("the gateway's participant list is not a list")
    out: list[Profile] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        address = item.get("address")
        if not isinstance(address, str) or not is_address(address):
            continue
        name = item.get("name")
        gln = item.get("gln")
        out.append(
            Profile(
                address=str(to_checksum_address(address)),
                name=str(name)[:NAME_LIMIT] if name is not None else "",
                gln=gln if isinstance(gln, str) and len(gln) == 13 and gln.isdigit() else None,
                region=_region(item.get("region")),
                updated_at=_when(item.get("updatedAt")),
            )
        )
    return out


class GatewayProfileSource:
    """The gateway's ``GET /participants``, read with the indexer's gateway key. ``client``:
    an httpx client already pointing at the gateway (tests pass the gateway's TestClient)."""

    def __init__(
        self,
        url: str | None,
        api_key: str | None,
        *,
        timeout: float = 30.0,
        client: httpx.Client | None = None,
    ) -> None:
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        if client is None:
            if not url:
                raise IndexerError("a gateway profile source needs the gateway's URL")
            client = httpx.Client(base_url=url.rstrip("/"), timeout=timeout)
            self._owned = True
        else:
            self._owned = False
        self._client = client

    def fetch(self, since: datetime | None) -> list[Profile]:
        params = {"updatedSince": since.isoformat().replace("+00:00", "Z")} if since else {}
        try:
            response = self._client.get("/participants", params=params, headers=self._headers)
        except httpx.HTTPError as exc:
            raise IndexerError(f"gateway unreachable for its participant list: {exc}") from exc
        if response.status_code in (401, 403):
            raise IndexerError(
                f"the gateway refused the indexer's key for its participant list "
                f"({response.status_code}): names and regions stay as they were"
            )
        if response.status_code != 200:
            raise IndexerError(f"the gateway answered {response.status_code} for /participants")
        try:
            body = response.json()
        except ValueError as exc:
            raise IndexerError(f"the gateway's participant list is not JSON: {exc}") from exc
        return parse_profiles(body)

    def close(self) -> None:
        if self._owned:
            self._client.close()


def newest_update(session: Session) -> datetime | None:
    """The newest ``updatedAt`` the index holds (where to ask the gateway from), or None."""
    newest: datetime | None = session.scalar(select(func.max(ParticipantProfileRow.updated_at)))
    return newest


def store_profiles(session: Session, profiles: Iterable[Profile], *, now: datetime) -> int:
    """Insert or update the profiles (committed); how many rows changed."""
    latest = {p.address: p for p in profiles}
    changed = 0
    for part in chunks(sorted(latest)):
        rows = session.scalars(
            select(ParticipantProfileRow).where(ParticipantProfileRow.address.in_(part))
        )
        known = {row.address: row for row in rows}
        for address in part:
            p = latest[address]
            row = known.get(address)
            if row is None:
                session.add(
                    ParticipantProfileRow(
                        address=address,
                        name=p.name,
                        gln=p.gln,
                        region=p.region,
                        updated_at=p.updated_at,
                        fetched_at=now,
                    )
                )
                changed += 1
                continue
            values = (p.name, p.gln, p.region, p.updated_at)
            if (row.name, row.gln, row.region, row.updated_at) != values:
                row.name, row.gln, row.region, row.updated_at = values
                row.fetched_at = now
                changed += 1
    session.commit()
    return changed


def sync_profiles(sessions: sessionmaker[Session], source: ProfileSource) -> int:
    """One round: ask the source for what changed since the newest profile held (everything the
    first time) and store it; how many profiles changed."""
    with sessions() as session:
        since = newest_update(session)
    profiles = source.fetch(since)
    with sessions() as session:
        return store_profiles(session, profiles, now=datetime.now(UTC))


class ProfilePoller:
    """:func:`sync_profiles` every ``interval`` seconds in a thread, until :meth:`stop`."""

    def __init__(
        self, sessions: sessionmaker[Session], source: ProfileSource, interval: float
    ) -> None:
        self._sessions = sessions
        self._source = source
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="indexer-profiles", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        outage = OutageLog(log, "reading the gateway's participant list")
        while not self._stop.is_set():
            try:
                sync_profiles(self._sessions, self._source)
            except Exception as exc:  # noqa: BLE001 - names are a convenience: retried
                outage.failure(exc)
            else:
                outage.success()
            self._stop.wait(self._interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
