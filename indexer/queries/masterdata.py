"""Master data as the queries show it (docs/masterdata.md): the names and regions of locations
and the names of products, from the verified versions in ``ix_masterdata``.

What is true of an element now is its version with the latest effective time not after now
(then the latest anchored). A location without a record of its own (a sub-location
``/414/<gln>/254/<ext>``) takes its GLN's; a location without a region takes its parent site's
(``cbv:mda:site``, one step).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from indexer.queries.common import hex32, iso
from indexer.store.models import MasterDataRow
from indexer.store.state import chunks
from medledger.epcis.digital_link import gln_of
from medledger.epcis.identifiers import ID_GS1
from medledger.errors import NotFoundError, ValidationError
from medledger.masterdata.record import (
    MasterDataRecord,
    element_identifier,
    masterdata_id,
    read_record,
)
from medledger.masterdata.views import location, product
from medledger.masterdata.vocabulary import EFFECTIVE_TIME, KIND_LOCATION, KIND_PRODUCT
from medledger.regions import in_region

_SITE = ID_GS1 + "/414/"


def _current(session: Session, element_ids: Iterable[str]) -> dict[str, MasterDataRow]:
    """The current version of each element that has one."""
    now = datetime.now(UTC)
    found: dict[str, MasterDataRow] = {}
    for part in chunks(sorted(set(element_ids))):
        rows = session.scalars(
            select(MasterDataRow).where(
                MasterDataRow.element_id.in_(part), MasterDataRow.effective_time <= now
            )
        )
        for row in rows:
            best = found.get(row.element_id)
            if best is None or (row.effective_time, row.seq) > (best.effective_time, best.seq):
                found[row.element_id] = row
    return found


def current_records(session: Session, element_ids: Iterable[str]) -> dict[str, MasterDataRecord]:
    """The record true now of each element that has one."""
    return {
        element: read_record(json.loads(row.raw))
        for element, row in _current(session, element_ids).items()
    }


def location_facts(session: Session, uris: Iterable[str | None]) -> dict[str, dict[str, Any]]:
    """``{location URI: {name, region, city, latitude, longitude, gln}}`` for the locations
    with master data (their own, their GLN's, or their site's region)."""
    wanted = {u for u in uris if u}
    sites = {_SITE + g for g in (gln_of(u) for u in wanted) if g}
    current = _current(session, wanted | sites)
    parents: dict[str, str] = {}
    for record in current.values():
        parent = location(read_record(json.loads(record.raw))).parent_site
        if parent:
            parents[record.element_id] = _SITE + parent
    current.update(_current(session, set(parents.values()) - set(current)))
    out: dict[str, dict[str, Any]] = {}
    for uri in sorted(wanted):
        gln = gln_of(uri)
        found = current.get(uri) or (current.get(_SITE + gln) if gln else None)
        if found is None:
            continue
        place = location(read_record(json.loads(found.raw)))
        region = place.region
        if region is None and found.element_id in parents:
            site = current.get(parents[found.element_id])
            region = site.region if site is not None else None
        out[uri] = {
            "name": place.name,
            "region": region,
            "city": place.city,
            "latitude": place.latitude,
            "longitude": place.longitude,
            "gln": place.gln,
        }
    return out


def product_facts(session: Session, gtins: Iterable[str | None]) -> dict[str, dict[str, Any]]:
    """``{GTIN-14: {name, dosageForm, strength, packSize, atcCode, maHolder}}`` for the
    products with master data."""
    wanted = {g for g in gtins if g}
    current = _current(session, {f"{ID_GS1}/01/{g}" for g in wanted})
    out: dict[str, dict[str, Any]] = {}
    for row in current.values():
        drug = product(read_record(json.loads(row.raw)))
        out[drug.gtin] = {
            "name": drug.name,
            "dosageForm": drug.dosage_form,
            "strength": drug.strength,
            "packSize": drug.net_content,
            "atcCode": drug.atc_code,
            "maHolder": drug.ma_holder,
        }
    return out


def vocabularies(
    session: Session, locations: Iterable[str], gtins: Iterable[str]
) -> list[dict[str, Any]]:
    """The EPCIS ``vocabularyList`` (JSON binding) of the versions true now of the master data
    describing ``locations`` (canonical location URIs: each its own record, else its GLN's,
    and the parent site of either) and ``gtins`` (GTIN-14s): what an export's header carries
    (docs/exchange.md). Each element is the stored record written back: its attributes, its
    children, and its effective time as the ``mpl:mda#effectiveTime`` attribute, so whoever
    reads it (a second network's gateway) makes the same record, with the same digest and id.
    Vocabularies by type, elements by id; none when the index has no such record."""
    wanted = set(locations)
    sites = {_SITE + g for g in (gln_of(u) for u in wanted) if g}
    current = _current(session, wanted | sites)
    parents: set[str] = set()
    for row in current.values():
        if row.kind == KIND_LOCATION:
            parent = location(read_record(json.loads(row.raw))).parent_site
            if parent:
                parents.add(_SITE + parent)
    current.update(_current(session, parents - set(current)))
    current.update(_current(session, {f"{ID_GS1}/01/{g}" for g in gtins}))
    by_type: dict[str, list[dict[str, Any]]] = {}
    for element_id in sorted(current):
        row = current[element_id]
        element = _vocabulary_element(row.raw)
        if element is not None:
            by_type.setdefault(row.vocabulary_type, []).append(element)
    return [
        {"type": kind, "vocabularyElementList": elements}
        for kind, elements in sorted(by_type.items())
    ]


def _vocabulary_element(raw: str) -> dict[str, Any] | None:
    """A stored record as a vocabulary element; None for one with a list-valued attribute,
    which GS1's JSON schema has no place for (an attribute is a string, a number or an
    object), so that no export is refused for it."""
    stored = json.loads(raw)
    if any(isinstance(a["attribute"], list) for a in stored["attributes"]):
        return None
    attributes = [
        *stored["attributes"],
        {"id": EFFECTIVE_TIME, "attribute": stored["effectiveTime"]},
    ]
    element: dict[str, Any] = {"id": stored["id"], "attributes": attributes}
    if stored.get("children"):
        element["children"] = stored["children"]
    return element


def location_tree(session: Session) -> dict[str, set[str]]:
    """``{location: the locations directly within it}`` by the versions true now: an element's
    ``children`` (EPCIS 2.0 section 6.5) and the locations whose ``cbv:mda:site`` names it (CBV
    2.0 section 10.3)."""
    elements = session.scalars(
        select(MasterDataRow.element_id).where(MasterDataRow.kind == KIND_LOCATION).distinct()
    )
    below: dict[str, set[str]] = {}
    for row in _current(session, elements).values():
        record = read_record(json.loads(row.raw))
        below.setdefault(row.element_id, set()).update(record.children)
        parent = location(record).parent_site
        if parent:
            below.setdefault(_SITE + parent, set()).add(row.element_id)
    return below


def descendants(tree: dict[str, set[str]], roots: Iterable[str]) -> set[str]:
    """``roots`` and every location ``tree`` (:func:`location_tree`) places within one of them,
    at any depth: what ``WD_readPoint`` and ``WD_bizLocation`` match (docs/indexer.md)."""
    found = set(roots)
    todo = list(found)
    while todo:
        for child in tree.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def region_of(facts: dict[str, dict[str, Any]], uri: str | None) -> str | None:
    """The region ``location_facts`` found for ``uri`` (None: no master data says)."""
    found = facts.get(uri) if uri else None
    return found["region"] if found else None


def within(region: str | None, scope: str) -> bool:
    """Whether a location in ``region`` lies in ``scope`` (a subdivision or a country)."""
    return in_region(region, scope)


def element_of(value: str) -> str:
    """The canonical element id a query names: a GLN (13 digits, SGLN URN, GLN Digital Link) or a
    GTIN (8, 12 or 14 digits: a GTIN-13 as 14 with its leading 0; SGTIN pattern, GTIN Digital
    Link); a ValidationError otherwise."""
    text = value.strip()
    if text.isdigit():
        if len(text) == 13:
            return element_identifier(KIND_LOCATION, f"{ID_GS1}/414/{text}", pointer="id")
        return element_identifier(KIND_PRODUCT, f"{ID_GS1}/01/{text.zfill(14)}", pointer="id")
    try:
        return element_identifier(KIND_LOCATION, text, pointer="id")
    except ValidationError:
        return element_identifier(KIND_PRODUCT, text, pointer="id")


def versions(session: Session, element_id: str, *, at: datetime | None = None) -> dict[str, Any]:
    """Every anchored version of an element (oldest effective first) and the one in effect at
    ``at`` (default now): what it was said to be, and when (docs/masterdata.md)."""
    moment = at or datetime.now(UTC)
    rows = list(
        session.scalars(
            select(MasterDataRow)
            .where(MasterDataRow.element_id == element_id)
            .order_by(MasterDataRow.effective_time, MasterDataRow.seq)
        )
    )
    if not rows:
        raise NotFoundError(f"no master data for {element_id}")
    shown = [
        {
            "recordID": masterdata_id(r.record_hash),
            "kind": r.kind,
            "vocabularyType": r.vocabulary_type,
            "effectiveTime": iso(r.effective_time),
            "declaredBy": r.declared_by,
            "anchor": {"root": hex32(r.root), "blockNumber": r.block_number},
            "record": json.loads(r.raw),
        }
        for r in rows
    ]
    in_effect = [v for v, r in zip(shown, rows, strict=True) if r.effective_time <= moment]
    return {
        "element": element_id,
        "at": iso(moment),
        "current": in_effect[-1] if in_effect else None,
        "versions": shown,
    }
