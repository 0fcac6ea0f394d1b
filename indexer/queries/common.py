"""What several queries share: identifiers in, event steps with anchors and participants out."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from eth_utils.address import to_checksum_address
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from indexer.store.models import (
    AnchorRow,
    ErrorDeclarationRow,
    EventRow,
    ItemVersionRow,
    ParticipantProfileRow,
    ParticipantRow,
    RecallRow,
)
from indexer.store.state import chunks
from medledger.epcis import gs1
from medledger.epcis.error_declaration import declaration_id
from medledger.epcis.event_id import event_id_of
from medledger.epcis.identifiers import ID_GS1, canonical_identifier
from medledger.errors import ValidationError
from medledger.roles import Role

_ADDRESS_CHARS = frozenset("0123456789abcdefABCDEF")


def hex32(value: bytes) -> str:
    return "0x" + value.hex()


def iso(value: datetime | date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value.isoformat()


def decimal_text(value: Decimal | None) -> str | None:
    """A quantity as text without float rounding or trailing zeros (``12.5``, ``50``)."""
    if value is None:
        return None
    text = format(value.normalize(), "f")
    return text


def identifier(value: str, *, pointer: str = "id") -> str:
    """The canonical GS1 Digital Link URI of an EPC URN, DL URI or element string."""
    try:
        return canonical_identifier(value.strip(), pointer=pointer)
    except ValidationError as exc:
        raise ValidationError(str(exc), rule=exc.rule or "gs1.identifier", pointer=pointer) from exc


def gtin14(value: str, *, pointer: str = "gtin") -> str:
    """A GTIN (8, 12, 13 or 14 digits, check digit verified) as 14 digits."""
    return gs1.gtin(value.strip(), pointer=pointer)


def lot_text(value: str, *, pointer: str = "lot") -> str:
    """A lot (GS1 AI 10: 1 to 20 characters of character set 82)."""
    return gs1.lot(value, pointer=pointer)


def address(value: str, *, pointer: str = "participant") -> str:
    """A 0x-prefixed 20-byte address in any case, checksummed as the index stores it."""
    text = value.strip()
    if len(text) != 42 or not text.startswith("0x") or not set(text[2:]) <= _ADDRESS_CHARS:
        raise ValidationError(
            f"{pointer} must be a 0x address of 40 hex digits, got {value!r}",
            rule="query.address",
            pointer=pointer,
        )
    return str(to_checksum_address(text))


def lot_class_id(gtin: str, lot: str) -> str:
    """The canonical class identifier of a lot: ``https://id.gs1.org/01/<gtin>/10/<lot>``."""
    return canonical_identifier(f"{ID_GS1}/01/{gtin}/10/{quote(lot, safe='')}")


#: Events with their anchors (built once: a query's Python, not its SQL, was most of a state
#: call's time, and building this select was the largest part of it).
_STEPS = (
    select(
        EventRow.event_hash,
        EventRow.seq,
        EventRow.type,
        EventRow.action,
        EventRow.biz_step,
        EventRow.disposition,
        EventRow.event_time,
        EventRow.submitter,
        EventRow.read_point,
        EventRow.biz_location,
        EventRow.source,
        EventRow.destination,
        AnchorRow.root,
        AnchorRow.tx_hash,
        AnchorRow.block_number,
        AnchorRow.block_timestamp,
    )
    .join(AnchorRow, AnchorRow.root == EventRow.root)
    .where(EventRow.event_hash.in_(bindparam("hashes", expanding=True)))
)


def steps(session: Session, hashes: Iterable[bytes]) -> dict[bytes, dict[str, Any]]:
    """Each event's facts and the anchor that put it on chain, in one query per 500 events."""
    out: dict[bytes, dict[str, Any]] = {}
    for part in chunks(sorted(set(hashes))):
        for r in session.execute(_STEPS, {"hashes": part}):
            out[r.event_hash] = {
                "eventID": event_id_of(r.event_hash),
                "type": r.type,
                "action": r.action,
                "bizStep": r.biz_step,
                "disposition": r.disposition,
                "eventTime": iso(r.event_time),
                "submitter": r.submitter,
                "readPoint": r.read_point,
                "bizLocation": r.biz_location,
                "source": r.source,
                "destination": r.destination,
                "seq": r.seq,
                "anchor": {
                    "root": hex32(r.root),
                    "txHash": r.tx_hash,
                    "blockNumber": r.block_number,
                    "blockTimestamp": r.block_timestamp,
                },
            }
    for event_hash, declared in declarations(session, out).items():
        out[event_hash]["errorDeclaration"] = declared
    return out


def declarations(session: Session, hashes: Iterable[bytes]) -> dict[bytes, dict[str, Any]]:
    """The error declaration of each of these events that has one (the latest anchored, if
    several), as the ``errorDeclaration`` shown on the event."""
    out: dict[bytes, dict[str, Any]] = {}
    for part in chunks(sorted(set(hashes))):
        rows = session.scalars(
            select(ErrorDeclarationRow)
            .where(ErrorDeclarationRow.event_hash.in_(part))
            .order_by(ErrorDeclarationRow.seq)
        )
        for r in rows:
            out[r.event_hash] = declaration_json(r)
    return out


def declaration_json(row: ErrorDeclarationRow) -> dict[str, Any]:
    return {
        "declarationID": declaration_id(row.declaration_hash),
        "declarationTime": iso(row.declaration_time),
        "reason": row.reason,
        "correctiveEventIDs": list(row.corrective_ids),
        "declaredBy": row.declared_by,
        "anchor": {"root": hex32(row.root), "blockNumber": row.block_number},
    }


def participant_json(
    row: ParticipantRow, profile: ParticipantProfileRow | None = None
) -> dict[str, Any]:
    """The registry's record, with the name and region the gateway gave (null when unknown)."""
    return {
        "address": row.address,
        "name": profile.name if profile is not None else None,
        "region": profile.region if profile is not None else None,
        "roles": Role(row.roles).names(),
        "gln": row.gln,
        "active": row.active,
        "registeredBlock": row.registered_block,
        "updatedBlock": row.updated_block,
        "companyPrefixes": row.company_prefixes.split() if row.company_prefixes else [],
    }


#: The registry's rows with their profiles (a join on the primary key; no profile: None).
WITH_PROFILES = select(ParticipantRow, ParticipantProfileRow).outerjoin(
    ParticipantProfileRow, ParticipantProfileRow.address == ParticipantRow.address
)
_PARTICIPANTS = WITH_PROFILES.where(
    ParticipantRow.address.in_(bindparam("addresses", expanding=True))
)


def participants(session: Session, addresses: Iterable[str | None]) -> dict[str, dict[str, Any]]:
    """The registry's record of each address (addresses the registry does not know are left out)."""
    wanted = sorted({a for a in addresses if a})
    out: dict[str, dict[str, Any]] = {}
    for part in chunks(wanted):
        for row, profile in session.execute(_PARTICIPANTS, {"addresses": part}):
            out[row.address] = participant_json(row, profile)
    return out


def recall_json(row: RecallRow | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "gtin": row.gtin,
        "lot": row.lot,
        "recalled": row.recalled,
        "reasonCode": row.reason_code,
        "by": row.by,
        "manufacturer": row.manufacturer,
        "packs": row.packs,
        "changedBlock": row.changed_block,
        "txHash": row.tx_hash,
        "suspended": bool(row.suspended),
        "caseNumber": row.case_number if row.suspended else None,
    }


def version_json(row: ItemVersionRow, step: dict[str, Any] | None) -> dict[str, Any]:
    """One state version of an item and the event that made it."""
    return {
        "identifier": row.identifier,
        "status": row.status,
        "holder": row.holder,
        "location": row.location,
        "parent": row.parent,
        "inTransitTo": row.in_transit_to,
        "gtin": row.gtin,
        "lot": row.lot,
        "eventTime": iso(row.event_time),
        "event": step,
    }
