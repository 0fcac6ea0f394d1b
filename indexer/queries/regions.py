"""Which locations and participants lie in a region, by master data (docs/masterdata.md).

A location lies where its master data says (:func:`indexer.queries.masterdata.location_facts`:
its own record, else its GLN's, and a record without a region takes its parent site's). A
participant lies where the master data of its registered site (its GLN) says, else where its
registered profile says (indexer/profiles.py), as the stock page counts holders. A region is an
ISO 3166-2 subdivision or a country (:func:`medledger.regions.in_region`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.orm import QueryableAttribute, Session

from indexer.queries.masterdata import current_records, location_facts
from indexer.store.models import MasterDataRow, ParticipantProfileRow, ParticipantRow
from medledger.epcis.identifiers import ID_GS1
from medledger.masterdata.vocabulary import KIND_LOCATION
from medledger.regions import in_region

_SITE = ID_GS1 + "/414/"


@dataclass(frozen=True, slots=True)
class Sites:
    """The locations with master data in a region (``inside``: canonical URIs), and the
    sub-locations (``/414/<gln>/254/<ext>``) whose own record puts them elsewhere (``outside``):
    a sub-location without a record of its own lies where its GLN does."""

    inside: tuple[str, ...] = ()
    outside: tuple[str, ...] = ()

    def condition(
        self, column: QueryableAttribute[Any] | ColumnElement[Any]
    ) -> ColumnElement[bool]:
        """``column`` (a location URI) names a location of the region."""
        if not self.inside:
            return false()
        conditions: list[ColumnElement[bool]] = [column.in_(self.inside)]
        glns = [s for s in self.inside if "/254/" not in s]
        if glns:
            below = or_(*(column.like(f"{site}/254/%") for site in glns))
            conditions.append(and_(below, column.not_in(self.outside)) if self.outside else below)
        return or_(*conditions)


def location_regions(session: Session) -> dict[str, str | None]:
    """``{location URI: region}`` of every location element with master data now."""
    elements = session.scalars(
        select(MasterDataRow.element_id).where(MasterDataRow.kind == KIND_LOCATION).distinct()
    )
    return {uri: facts["region"] for uri, facts in location_facts(session, elements).items()}


def sites_in(session: Session, region: str) -> Sites:
    """The locations master data puts in ``region`` (see :class:`Sites`)."""
    regions = location_regions(session)
    inside = sorted(uri for uri, found in regions.items() if in_region(found, region))
    outside = sorted(
        uri for uri, found in regions.items() if "/254/" in uri and not in_region(found, region)
    )
    return Sites(tuple(inside), tuple(outside))


def sites_having(session: Session, attribute: str, values: Iterable[str]) -> Sites:
    """The locations whose master data now gives ``attribute`` (a canonical attribute id) one
    of ``values`` (as text), and the sub-locations whose own record does not (see
    :class:`Sites`): what ``EQ_readPoint_<attr>`` and ``EQ_bizLocation_<attr>`` match."""
    wanted = set(values)
    elements = session.scalars(
        select(MasterDataRow.element_id).where(MasterDataRow.kind == KIND_LOCATION).distinct()
    )
    inside: list[str] = []
    outside: list[str] = []
    for uri, record in current_records(session, elements).items():
        said = {str(v) for v in record.values(attribute) if isinstance(v, str | int | float)}
        if said & wanted:
            inside.append(uri)
        elif "/254/" in uri:
            outside.append(uri)
    return Sites(tuple(sorted(inside)), tuple(sorted(outside)))


def participant_regions(
    session: Session, addresses: Iterable[str] | None = None
) -> dict[str, str | None]:
    """``{address: region}``: its site's master data region, else its registered one (None:
    neither says); every registered participant, or only ``addresses``."""
    query = select(ParticipantRow.address, ParticipantRow.gln, ParticipantProfileRow.region)
    query = query.outerjoin(
        ParticipantProfileRow, ParticipantProfileRow.address == ParticipantRow.address
    )
    if addresses is not None:
        query = query.where(ParticipantRow.address.in_(sorted(set(addresses))))
    rows = session.execute(query).all()
    sites = location_facts(session, (_SITE + gln for _a, gln, _r in rows if gln))
    out: dict[str, str | None] = {}
    for address, gln, registered in rows:
        found = sites.get(_SITE + gln) if gln else None
        out[address] = found["region"] if found and found["region"] else registered
    return out


def participants_in(session: Session, region: str) -> list[str]:
    """The addresses of the participants in ``region`` (see the module docstring), sorted."""
    return sorted(a for a, r in participant_regions(session).items() if in_region(r, region))
