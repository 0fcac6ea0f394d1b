"""What a reader may see: everything (a regulator's or auditor's key), or one region's
participants (an inspector's key, with its region).

A participant lies in a region when its profile's region (indexer/profiles.py: from the
gateway's participant list) lies within the key's (:func:`medledger.regions.in_region`: the
same subdivision, or any subdivision of a country). A participant with no known region is in
no inspector's scope: a missing region never widens what an inspector sees.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from indexer.store.models import ParticipantProfileRow
from medledger.regions import in_region


@dataclass(frozen=True, slots=True)
class Scope:
    """``region`` None: everything; otherwise the participants of that region only."""

    region: str | None = None

    @property
    def everything(self) -> bool:
        return self.region is None

    def participants(self, session: Session) -> list[str] | None:
        """The addresses in scope (sorted), or None for everything. One read of the profiles
        that have a region (a registry's few hundred rows), judged by ``in_region``."""
        if self.region is None:
            return None
        rows = session.execute(
            select(ParticipantProfileRow.address, ParticipantProfileRow.region).where(
                ParticipantProfileRow.region.is_not(None)
            )
        )
        return sorted(address for address, region in rows if in_region(region, self.region))


EVERYTHING = Scope()
