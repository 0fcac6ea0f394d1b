"""Anchoring leases: which batcher seals, sends and settles an account's batches, until when.

One row per account (``anchoring_leases``). :func:`acquire_lease` is a single conditional upsert
(``INSERT ... ON CONFLICT DO UPDATE ... WHERE``), atomic on SQLite and PostgreSQL alike: the
lease is taken only if it is free, expired, or already the caller's, so two batchers asking at
once never both get it. Leases are per account, not one global lock, so several gateway
processes sharing a database each anchor for the accounts they hold (see gateway/leases.py).

Times come from the caller's clock: hosts sharing a database need clocks agreeing to well within
the lease's time to live (NTP).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, select, update
from sqlalchemy.orm import Session

from servicekit.sql.helpers import upsert_insert, utcnow

from .models import AnchoringLeaseRow, BatchRow, ErrorDeclarationRow, EventRow, MasterDataRow


@dataclass(frozen=True)
class Lease:
    account: str
    holder: str
    acquired_at: datetime
    renewed_at: datetime
    expires_at: datetime


def acquire_lease(
    session: Session,
    account: str,
    holder: str,
    ttl_seconds: float,
    *,
    now: datetime | None = None,
) -> bool:
    """Take or renew ``account``'s lease for ``holder`` until ``now + ttl_seconds``; commit.

    True if ``holder`` holds it now: it was free, expired, or ``holder``'s already (renewed,
    keeping its ``acquired_at``). False if another holder's lease runs on: nothing is changed.
    """
    now = now or utcnow()
    expires = now + timedelta(seconds=ttl_seconds)
    table = AnchoringLeaseRow.__table__
    insert = upsert_insert(session, AnchoringLeaseRow).values(
        account=account, holder=holder, acquired_at=now, renewed_at=now, expires_at=expires
    )
    ours = table.c.holder == holder
    statement = insert.on_conflict_do_update(
        index_elements=[table.c.account],
        set_={
            "holder": insert.excluded.holder,
            # a renewal keeps the time it was first taken; a takeover starts anew
            "acquired_at": case((ours, table.c.acquired_at), else_=insert.excluded.acquired_at),
            "renewed_at": insert.excluded.renewed_at,
            "expires_at": insert.excluded.expires_at,
        },
        where=ours | (table.c.expires_at <= now),
    ).returning(table.c.holder)
    try:
        taken = session.execute(statement).scalar_one_or_none()
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return taken == holder


def take_over_lease(
    session: Session,
    account: str,
    gone: str,
    holder: str,
    ttl_seconds: float,
    *,
    now: datetime | None = None,
) -> bool:
    """Give ``account``'s lease, held by ``gone`` (a process known to have died), to ``holder``;
    commit. False if the lease changed hands meanwhile (nothing is changed then)."""
    now = now or utcnow()
    statement = (
        update(AnchoringLeaseRow)
        .where(AnchoringLeaseRow.account == account, AnchoringLeaseRow.holder == gone)
        .values(
            holder=holder,
            acquired_at=now,
            renewed_at=now,
            expires_at=now + timedelta(seconds=ttl_seconds),
        )
    )
    try:
        changed = session.execute(statement).rowcount  # type: ignore[attr-defined]
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return bool(changed)


def release_leases(session: Session, holder: str, accounts: Collection[str] | None = None) -> int:
    """Give up ``holder``'s leases (of ``accounts``, default all); how many; commit.

    Another holder's lease is never touched, so releasing a lease lost to a takeover is harmless.
    """
    statement = delete(AnchoringLeaseRow).where(AnchoringLeaseRow.holder == holder)
    if accounts is not None:
        statement = statement.where(AnchoringLeaseRow.account.in_(list(accounts)))
    try:
        released = session.execute(statement).rowcount  # type: ignore[attr-defined]
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return int(released or 0)


def get_lease(session: Session, account: str) -> Lease | None:
    """The account's lease as stored (possibly expired), or None."""
    row = session.get(AnchoringLeaseRow, account)
    if row is None:
        return None
    return Lease(row.account, row.holder, row.acquired_at, row.renewed_at, row.expires_at)


def accounts_with_unbatched_leaves(session: Session) -> set[str]:
    """Accounts with events, error declarations or master data records not yet in a batch."""
    unbatched = select(EventRow.participant).where(EventRow.batch_id.is_(None)).distinct()
    undeclared = (
        select(ErrorDeclarationRow.declared_by)
        .where(ErrorDeclarationRow.batch_id.is_(None))
        .distinct()
    )
    unrecorded = (
        select(MasterDataRow.declared_by).where(MasterDataRow.batch_id.is_(None)).distinct()
    )
    return (
        set(session.scalars(unbatched))
        | set(session.scalars(undeclared))
        | set(session.scalars(unrecorded))
    )


def accounts_with_unsettled_batches(session: Session) -> set[str]:
    """Accounts with batches still to send or settle."""
    unsettled = (
        select(BatchRow.participant).where(BatchRow.state.in_(("sealed", "sent"))).distinct()
    )
    return set(session.scalars(unsettled))


def accounts_with_anchoring_work(session: Session) -> list[str]:
    """Accounts with leaves not yet in a batch or batches still to send or settle, sorted."""
    return sorted(
        accounts_with_unbatched_leaves(session) | accounts_with_unsettled_batches(session)
    )
