"""Alerts: what a regulator should look at (integrity failures, custody anomalies), newest
first, with the names and regions of the participants and locations they name (master data
where it exists: indexer/queries/regions.py), and by region (``?region=``)."""

from __future__ import annotations

import json
import re
from typing import Any

from eth_utils.address import to_checksum_address
from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from indexer.queries.common import participants
from indexer.queries.masterdata import location_facts
from indexer.queries.pages import DEFAULT_LIMIT, Page, check_limit, decode_cursor, page_of
from indexer.queries.regions import participant_regions, participants_in, sites_in
from indexer.queries.scope import EVERYTHING, Scope
from indexer.store.models import AlertRow
from medledger.epcis.identifiers import ID_GS1

SEVERITIES = ("info", "warning", "critical")
_SITE = ID_GS1 + "/414/"

#: The evidence fields that name the participants an alert concerns (indexer/detection: who
#: anchored the event, who held, acted, supplied, received, made or ended the item). An
#: inspector sees an alert when one of them is a participant of its region.
PARTY_FIELDS = (
    "submitter",
    "holder",
    "firstHolder",
    "actor",
    "hospital",
    "supplier",
    "receiver",
    "manufacturer",
    "endedBy",
    "owner",
)

#: The evidence field that names the region an alert is about (a ``shortage``'s: its region's
#: supply, indexer/detection/shortage.py), an ISO 3166-2 subdivision.
REGION_FIELD = "region"

#: The evidence fields that name a location (indexer/detection/clones.py: where the item is, was
#: first seen, and where the clashing event happened).
LOCATION_FIELDS = ("location", "firstLocation", "actorLocation")


def alert_json(row: AlertRow) -> dict[str, Any]:
    return {
        "key": row.key,
        "kind": row.kind,
        "severity": row.severity,
        "blockNumber": row.block_number,
        "subject": row.subject,
        "message": row.message,
        "evidence": row.evidence,
    }


_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}(?![0-9a-fA-F])")


def named_addresses(alert: dict[str, Any]) -> list[str]:
    """The participant addresses an alert names (message and evidence), checksummed, each once."""
    text = f"{alert.get('message')} {json.dumps(alert.get('evidence'))}"
    return list(dict.fromkeys(str(to_checksum_address(a)) for a in _ADDRESS.findall(text)))


def concerning(session: Session, region: str) -> ColumnElement[bool]:
    """The alerts concerning ``region``: a :data:`PARTY_FIELDS` participant lies there (its
    site's master data, else its registered region), a :data:`LOCATION_FIELDS` location
    does (master data), or the :data:`REGION_FIELD` of its evidence lies within it."""
    members = participants_in(session, region)
    sites = sites_in(session, region)
    return or_(
        *(AlertRow.evidence[f].as_string().in_(members) for f in PARTY_FIELDS),
        *(sites.condition(AlertRow.evidence[f].as_string()) for f in LOCATION_FIELDS),
        about_region_within(region),
    )


def about_region_within(region: str) -> ColumnElement[bool]:
    """The alerts about a region (:data:`REGION_FIELD` of their evidence: a ``shortage``'s)
    lying within ``region``: the same subdivision, or any subdivision of a country."""
    named = AlertRow.evidence[REGION_FIELD].as_string()
    same: ColumnElement[bool] = named == region
    if len(region) == 2:  # a country: its subdivisions too (codes are checked: no wildcards)
        return or_(same, named.like(f"{region}-%"))
    return same


def alert_filters(
    session: Session,
    *,
    kind: str | None = None,
    severity: str | None = None,
    subject: str | None = None,
    within: Scope = EVERYTHING,
    region: str | None = None,
) -> list[ColumnElement[bool]]:
    """The conditions :func:`list_alerts` (and the alert stream) keeps the alerts by."""
    found: list[ColumnElement[bool]] = []
    if kind is not None:
        found.append(AlertRow.kind == kind)
    if severity is not None:
        found.append(AlertRow.severity == severity)
    if subject is not None:
        found.append(AlertRow.subject == subject)
    parties = within.participants(session)
    if parties is not None and within.region is not None:
        # an inspector: the alerts naming one of its region's participants, and those about a
        # region within its own (a shortage names a region, no participant)
        found.append(
            or_(
                *(AlertRow.evidence[f].as_string().in_(parties) for f in PARTY_FIELDS),
                about_region_within(within.region),
            )
        )
    if region is not None:
        found.append(concerning(session, region))
    return found


def list_alerts(
    session: Session,
    *,
    kind: str | None = None,
    severity: str | None = None,
    subject: str | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    within: Scope = EVERYTHING,
    region: str | None = None,
) -> Page:
    """Newest first; a region's scope (``within``) keeps the alerts naming one of its
    participants in a :data:`PARTY_FIELDS` field of their evidence. ``region`` (a subdivision
    or a country) keeps the alerts that concern it: a :data:`PARTY_FIELDS` participant lies
    there (its site's master data, else its registered region) or a :data:`LOCATION_FIELDS`
    location does (master data). Each alert lists its ``regions`` so; the page names the
    participants (with their site's master data) and the locations (name, region) it names."""
    check_limit(limit)
    after = decode_cursor("alerts", cursor, (int, str))
    query = select(AlertRow).where(
        *alert_filters(
            session, kind=kind, severity=severity, subject=subject, within=within, region=region
        )
    )
    if after is not None:
        query = query.where(
            or_(
                AlertRow.block_number < after[0],
                and_(AlertRow.block_number == after[0], AlertRow.key > after[1]),
            )
        )
    rows = list(
        session.scalars(query.order_by(AlertRow.block_number.desc(), AlertRow.key).limit(limit + 1))
    )
    page = page_of(rows, limit, "alerts", lambda r: [r.block_number, r.key], alert_json)
    named = [a for item in page.items for a in named_addresses(item)]
    parties = [str(a) for item in page.items for a in _fields(item, PARTY_FIELDS)]
    places = [str(p) for item in page.items for p in _fields(item, LOCATION_FIELDS)]
    regions = participant_regions(session, {*parties, *named})
    locations = location_facts(session, places)
    for item in page.items:
        found = {regions.get(str(a)) for a in _fields(item, PARTY_FIELDS)}
        found |= {locations.get(str(p), {}).get("region") for p in _fields(item, LOCATION_FIELDS)}
        found |= set(_fields(item, (REGION_FIELD,)))
        item["regions"] = sorted(r for r in found if r)
    registry = participants(session, named)
    sites = location_facts(session, (_SITE + p["gln"] for p in registry.values() if p["gln"]))
    for record in registry.values():
        site = sites.get(_SITE + record["gln"]) if record["gln"] else None
        record["site"] = {"name": site["name"], "region": site["region"]} if site else None
    page.extra = {
        "participants": registry,
        "locations": {
            uri: {"name": f["name"], "region": f["region"], "city": f["city"]}
            for uri, f in locations.items()
        },
    }
    return page


def _fields(alert: dict[str, Any], names: tuple[str, ...]) -> list[Any]:
    evidence = alert.get("evidence") or {}
    return [evidence[n] for n in names if isinstance(evidence.get(n), str)]
