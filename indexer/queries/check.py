"""Verifying a pack: what a scanned code says, compared with what the index knows of it.

A pharmacy or a patient scans a pack and gets one answer (``check``): is the code known, which
product and lot, its expiry and whether it passed, whether the lot is released or recalled,
whether the pack was already dispensed (when, by a pharmacy or a hospital), who holds it now,
whether the label's lot or expiry differ from the index's (a sign of a counterfeit label), whether
it was commissioned without the right to (an ``unauthorised-commissioning`` alert names it), and
the anchor that proves the pack's last event. The verdict sums it up (see :data:`VERDICTS`).

Input forms (``parse_code``), parsed with biip, check digits verified:

- a GS1 element string as a DataMatrix scanner gives it: raw, the variable-length fields ended by
  FNC1/GS (``\\x1d``; also spelled ``<GS>``, ``{GS}`` or ``\\x1d`` by keyboard-wedge scanners),
  optionally behind a symbology identifier (``]d2``); or in brackets, ``(01)...(21)...(10)...``;
- a GS1 Digital Link URI from a QR code, on any resolver domain, with or without a query string
  (``?17=281031&10=B2026-117``);
- an EPC URN (``urn:epc:id:sgtin:...``), which carries no lot or expiry.

The code must name a pack: a GTIN (AI 01) and a serial number (AI 21). Anything else is malformed
(:class:`medledger.errors.ValidationError`, rule ``check.*`` or ``gs1.checkDigit``), as is a code
biip cannot parse.

The state is read in **one** query: the pack's current version (partial index on current
versions), joined by primary key to its lot, the lot's recall-registry record, the event that made
the version, that event's anchor, and the registry records of the holder and of the event's
submitter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Final
from urllib.parse import unquote

from biip import ParseError
from biip.gs1_digital_link_uris import GS1DigitalLinkURI
from biip.gs1_messages import GS1Message
from sqlalchemy import Select, and_, select
from sqlalchemy.orm import Session, aliased

from indexer.detection.authority import KIND as UNAUTHORISED
from indexer.queries.common import declarations, hex32, iso
from indexer.queries.masterdata import location_facts, product_facts
from indexer.store.models import (
    AlertRow,
    AnchorRow,
    EventRow,
    ItemVersionRow,
    LotRow,
    ParticipantProfileRow,
    ParticipantRow,
    RecallRow,
)
from medledger.custody.state import ItemStatus
from medledger.epcis.event_id import event_id_of
from medledger.epcis.identifiers import ID_GS1, canonical_identifier
from medledger.errors import ValidationError
from medledger.recall_reasons import (
    SUSPENSION_REASONS,
    describe,
    describe_suspension,
    reason_text,
)
from medledger.roles import Role

#: Every verdict, most serious first; the answer's verdict is the first that applies.
VERDICTS: Final = ("unknown", "suspect", "recalled", "suspended", "expired", "dispensed", "ok")
#: Verdicts that are not ``ok`` but describe a known pack (``unknown`` is not among them).
WARNING_VERDICTS: Final = frozenset(VERDICTS) - {"ok"}

#: Longest code accepted (a DataMatrix of a pack holds well under 200 characters; a Digital
#: Link URI with a query string a few hundred).
MAX_CODE_LENGTH: Final = 2048

_GS = "\x1d"
_GS_SPELLINGS = ("<GS>", "{GS}", "\\x1d", "\\u001d")
_ENDED = frozenset({ItemStatus.DECOMMISSIONED.value, ItemStatus.DESTROYED.value})


@dataclass(frozen=True)
class ScannedCode:
    """What the code itself says."""

    form: str  # element-string | digital-link | epc-urn
    identifier: str  # canonical Digital Link URI of the pack
    gtin: str
    serial: str
    lot: str | None
    expiry: date | None

    def to_json(self) -> dict[str, Any]:
        return {
            "form": self.form,
            "identifier": self.identifier,
            "gtin": self.gtin,
            "serial": self.serial,
            "lot": self.lot,
            "expiry": iso(self.expiry),
        }


def _malformed(message: str, rule: str) -> ValidationError:
    return ValidationError(message, rule=rule, pointer="code")


def _clean(value: str) -> str:
    text = value.strip(" \t\r\n")
    for spelling in _GS_SPELLINGS:
        text = text.replace(spelling, _GS)
    return text.strip(_GS)  # a leading FNC1, or a GS the scanner appended


def _parse_message(text: str) -> tuple[str, GS1Message | GS1DigitalLinkURI | None]:
    try:
        if text.startswith("urn:epc:"):
            return "epc-urn", None
        if text.lower().startswith(("https://", "http://")):
            return "digital-link", GS1DigitalLinkURI.parse(text)
        if text.startswith("("):
            return "element-string", GS1Message.parse_hri(text)
        body = text[3:] if text.startswith("]") and len(text) > 3 else text
        return "element-string", GS1Message.parse(body.lstrip(_GS))
    except ParseError as exc:
        raise _malformed(f"the code is not a GS1 code biip can read: {exc}", "check.code") from None


def parse_code(value: str) -> ScannedCode:
    """GTIN, serial, lot and expiry of a scanned pack code; ValidationError if malformed."""
    text = _clean(value)
    if not text:
        raise _malformed("the code is empty", "check.code")
    if len(text) > MAX_CODE_LENGTH:
        raise _malformed(f"the code is longer than {MAX_CODE_LENGTH} characters", "check.code")
    if text.isdigit() and len(text) in (8, 12, 13, 14):  # a linear barcode: EAN/UPC, ITF-14
        raise _malformed(
            f"the code {text} is a product's linear barcode (a GTIN) with no serial number: "
            "scan the pack's DataMatrix or QR code",
            "check.serial",
        )
    form, message = _parse_message(text)
    lot: str | None = None
    expiry: date | None = None
    if message is not None:
        ais = {es.ai.ai: es for es in message.element_strings}
        if "01" not in ais:
            found = ", ".join(f"({ai})" for ai in ais) or "none"
            raise _malformed(
                f"the code carries no GTIN (AI 01); application identifiers found: {found}",
                "check.gtin",
            )
        if ais["01"].gtin_error:
            raise _malformed(f"the GTIN is wrong: {ais['01'].gtin_error}", "gs1.checkDigit")
        if "21" not in ais:
            raise _malformed(
                f"the code names product {ais['01'].value} but no serial number (AI 21): "
                "scan the pack's DataMatrix or QR code, not its linear barcode",
                "check.serial",
            )
        lot = ais["10"].value if "10" in ais else None
        expiry = ais["17"].date if "17" in ais else None
    try:
        canonical = canonical_identifier(text, pointer="code")
    except ValidationError as exc:
        raise _malformed(str(exc), exc.rule or "gs1.identifier") from None
    parts = canonical[len(ID_GS1) + 1 :].split("/")
    if len(parts) != 4 or parts[0] != "01" or parts[2] != "21":
        raise _malformed(
            f"the code names {canonical}, not a pack (a GTIN with a serial number)", "check.serial"
        )
    return ScannedCode(form, canonical, parts[1], unquote(parts[3]), lot, expiry)


def _participant(
    address: str | None,
    roles: int | None,
    gln: str | None,
    active: bool | None,
    name: str | None = None,
) -> dict[str, Any] | None:
    if address is None:
        return None
    return {
        "address": address,
        "name": name,
        "gln": gln,
        "roles": Role(roles).names() if roles is not None else [],
        "active": active,
        "registered": roles is not None,
    }


def _kind(roles: int | None) -> str | None:
    """The kind of participant that dispensed: pharmacy, hospital, else its first role."""
    if roles is None:
        return None
    mask = Role(roles)
    for role in (Role.PHARMACY, Role.HOSPITAL):
        if role in mask:
            return role.names()[0]
    names = mask.names()
    return names[0] if names else None


def _name_of(address: Any) -> Any:
    """The profile name of ``address`` as a correlated scalar subquery (a primary-key probe): a
    join would add a relation to the planner's join search, which outgrew its planning time."""
    profile = aliased(ParticipantProfileRow)
    return select(profile.name).where(profile.address == address).scalar_subquery()


def state_query(canonical: str) -> Select[*tuple[Any, ...]]:
    """The one query: the pack's current version and everything the answer needs, by key."""
    holder = aliased(ParticipantRow, name="holder_p")
    actor = aliased(ParticipantRow, name="actor_p")
    item = ItemVersionRow
    query = (
        select(
            item.status,
            item.holder,
            item.location,
            item.in_transit_to,
            item.gtin,
            item.lot,
            item.event_time,
            item.event_hash,
            LotRow.expiry,
            LotRow.commissioned_by,
            RecallRow.manufacturer,
            RecallRow.recalled,
            RecallRow.reason_code,
            RecallRow.by.label("recall_by"),
            RecallRow.changed_block,
            RecallRow.tx_hash.label("recall_tx"),
            RecallRow.suspended,
            RecallRow.suspension_reason_code,
            RecallRow.case_number,
            RecallRow.suspended_by,
            RecallRow.suspended_block,
            RecallRow.suspend_tx,
            EventRow.type,
            EventRow.biz_step,
            EventRow.submitter,
            AnchorRow.root,
            AnchorRow.tx_hash,
            AnchorRow.block_number,
            AnchorRow.block_timestamp,
            holder.roles.label("holder_roles"),
            holder.gln.label("holder_gln"),
            holder.active.label("holder_active"),
            _name_of(item.holder).label("holder_name"),
            actor.roles.label("actor_roles"),
            actor.gln.label("actor_gln"),
            _name_of(EventRow.submitter).label("actor_name"),
            select(AlertRow.key)
            .where(AlertRow.subject == item.identifier, AlertRow.kind == UNAUTHORISED)
            .exists()
            .label("unauthorised"),
        )
        .select_from(item)
        .outerjoin(LotRow, and_(LotRow.gtin == item.gtin, LotRow.lot == item.lot))
        .outerjoin(RecallRow, and_(RecallRow.gtin == item.gtin, RecallRow.lot == item.lot))
        .outerjoin(EventRow, EventRow.event_hash == item.event_hash)
        .outerjoin(AnchorRow, AnchorRow.root == EventRow.root)
        .outerjoin(holder, holder.address == item.holder)
        .outerjoin(actor, actor.address == EventRow.submitter)
        .where(item.identifier == canonical, item.valid_to.is_(None))
    )
    return query


def _state(session: Session, canonical: str) -> Any:
    return session.execute(state_query(canonical)).one_or_none()


def _warning(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


def check(session: Session, value: str, *, today: date) -> dict[str, Any]:
    """The answer for a scanned code (see the module docstring); ``today`` decides expiry.
    Where master data exists (docs/masterdata.md): ``product`` (the GTIN's name, dosage form,
    strength, pack size, ATC code, MA holder) and ``place`` (the pack's location: name, region)."""
    answer = _check(session, value, today=today)
    answer["product"] = product_facts(session, [answer["gtin"]]).get(answer["gtin"])
    location = answer.get("location")
    answer["place"] = location_facts(session, [location]).get(location) if location else None
    return answer


def _check(session: Session, value: str, *, today: date) -> dict[str, Any]:
    code = parse_code(value)
    row = _state(session, code.identifier)
    if row is None:
        expired = code.expiry is not None and today > code.expiry
        return {
            "verdict": "unknown",
            "known": False,
            "code": code.to_json(),
            "identifier": code.identifier,
            "gtin": code.gtin,
            "lot": code.lot,
            "expiry": iso(code.expiry),
            "expirySource": "code" if code.expiry else None,
            "expired": expired if code.expiry else None,
            "today": iso(today),
            "released": None,
            "recalled": None,
            "recall": None,
            "suspended": None,
            "suspension": None,
            "dispensed": None,
            "status": None,
            "since": None,
            "holder": None,
            "location": None,
            "inTransitTo": None,
            "mismatches": [],
            "warnings": [
                _warning(
                    "unknown",
                    f"{code.identifier} is not in the index: no participant recorded this pack. "
                    "Do not use it; report it to the pharmacy or the regulator.",
                )
            ],
            "lastEvent": None,
        }

    warnings: list[dict[str, str]] = []
    mismatches: list[dict[str, Any]] = []
    if code.lot is not None and row.lot is not None and code.lot != row.lot:
        mismatches.append({"field": "lot", "scanned": code.lot, "indexed": row.lot})
    if code.expiry is not None and row.expiry is not None and code.expiry != row.expiry:
        mismatches.append(
            {"field": "expiry", "scanned": iso(code.expiry), "indexed": iso(row.expiry)}
        )
    for m in mismatches:
        warnings.append(
            _warning(
                "mismatch",
                f"the label says {m['field']} {m['scanned']} but the pack was recorded with "
                f"{m['indexed']}: the label may be counterfeit",
            )
        )
    if row.status in _ENDED:
        warnings.append(
            _warning(
                row.status,
                f"the pack was {row.status} on {iso(row.event_time)}: its code should no longer "
                "be in circulation",
            )
        )
    recalled = bool(row.recalled)
    if recalled:
        warnings.append(
            _warning("recalled", f"lot {row.lot} is recalled: {describe(row.reason_code)}")
        )
    suspended = bool(row.suspended) and not recalled
    suspension = None
    if suspended:
        suspension = {
            "caseNumber": row.case_number,
            "reasonCode": row.suspension_reason_code,
            "reason": SUSPENSION_REASONS.get(row.suspension_reason_code or 0),
            "by": row.suspended_by,
            "block": row.suspended_block,
            "txHash": row.suspend_tx,
        }
        warnings.append(
            _warning(
                "suspended",
                f"lot {row.lot} is suspended pending investigation (case {row.case_number}: "
                f"{describe_suspension(row.suspension_reason_code)}): do not use it; a "
                "pharmacy does not dispense it until the suspension is lifted",
            )
        )
    expiry = row.expiry if row.expiry is not None else code.expiry
    expired = expiry is not None and today > expiry
    if expired:
        warnings.append(_warning("expired", f"the pack expired on {iso(expiry)}"))
    dispensed = None
    if row.status == ItemStatus.DISPENSED.value:
        dispensed = {
            "at": iso(row.event_time),
            "by": row.submitter,
            "name": row.actor_name,
            "gln": row.actor_gln,
            "kind": _kind(row.actor_roles),
            "roles": Role(row.actor_roles).names() if row.actor_roles is not None else [],
        }
        by = dispensed["kind"] or "a participant"
        warnings.append(
            _warning("dispensed", f"the pack was already dispensed by a {by} on {dispensed['at']}")
        )

    if row.unauthorised:
        warnings.append(
            _warning(
                UNAUTHORISED,
                "the pack was commissioned by a participant with no right to: another company's "
                "product, another manufacturer's lot, or more packs than its lot declared. Do not "
                "use it; report it to the pharmacy or the regulator.",
            )
        )
    if mismatches or row.status in _ENDED or row.unauthorised:
        verdict = "suspect"
    elif recalled:
        verdict = "recalled"
    elif suspended:
        verdict = "suspended"
    elif expired:
        verdict = "expired"
    elif dispensed is not None:
        verdict = "dispensed"
    else:
        verdict = "ok"
    last = None
    if row.root is not None:
        last = {
            "eventID": event_id_of(row.event_hash),
            "type": row.type,
            "bizStep": row.biz_step,
            "eventTime": iso(row.event_time),
            "submitter": row.submitter,
            "anchor": {
                "root": hex32(row.root),
                "txHash": row.tx_hash,
                "blockNumber": row.block_number,
                "blockTimestamp": row.block_timestamp,
            },
        }
        declared = declarations(session, [row.event_hash]).get(row.event_hash)
        if declared is not None:
            last["errorDeclaration"] = declared
            warnings.append(
                _warning(
                    "declared-erroneous",
                    "the last event recorded for this pack was declared erroneous by "
                    f"{declared['declaredBy']} ({declared['reason'] or 'no reason given'}); "
                    "its state may not be what the pack went through",
                )
            )
    recall = None
    if row.changed_block is not None:
        recall = {
            "recalled": recalled,
            "reasonCode": row.reason_code,
            "reason": reason_text(row.reason_code, recalled=recalled),
            "by": row.recall_by,
            "manufacturer": row.manufacturer,
            "changedBlock": row.changed_block,
            "txHash": row.recall_tx,
        }
    return {
        "verdict": verdict,
        "known": True,
        "code": code.to_json(),
        "identifier": code.identifier,
        "gtin": row.gtin or code.gtin,
        "lot": row.lot if row.lot is not None else code.lot,
        "expiry": iso(expiry),
        "expirySource": None if expiry is None else ("index" if row.expiry else "code"),
        "expired": expired if expiry is not None else None,
        "today": iso(today),
        "released": row.manufacturer is not None,
        "recalled": recalled,
        "recall": recall,
        "suspended": suspended,
        "suspension": suspension,
        "dispensed": dispensed,
        "status": row.status,
        "since": iso(row.event_time),
        "holder": _participant(
            row.holder, row.holder_roles, row.holder_gln, row.holder_active, row.holder_name
        ),
        "location": row.location,
        "inTransitTo": row.in_transit_to,
        "mismatches": mismatches,
        "warnings": warnings,
        "lastEvent": last,
    }


def for_caller(answer: dict[str, Any], *, full: bool) -> dict[str, Any]:
    """The answer as a caller may see it (``detail``: ``full`` or ``public``).

    A reader key (regulator, auditor) sees everything. An anonymous caller (a patient, a
    pharmacy's scanner) gets the verdict and all it needs to act on it (product, lot, expiry,
    release, recall, status, whether and by what kind of participant the pack was dispensed, the
    anchor that proves its last event), but no participant's identity and no site: the holder by
    its roles only, no location or destination, no dispenser's or submitter's address or GLN.
    Serials can be guessed, and an answer per serial would otherwise map who holds which packs
    where (docs/security.md, "Rate limits and authentication cost")."""
    if full:
        return {**answer, "detail": "full"}
    public = {
        **answer,
        "detail": "public",
        "location": None,
        "inTransitTo": None,
        "place": None,
    }
    holder = answer.get("holder")
    if holder is not None:
        public["holder"] = {**holder, "address": None, "name": None, "gln": None}
    dispensed = answer.get("dispensed")
    if dispensed is not None:
        public["dispensed"] = {**dispensed, "by": None, "name": None, "gln": None}
    suspension = answer.get("suspension")
    if suspension is not None:
        public["suspension"] = {**suspension, "by": None}  # an officer is a person's desk
    last = answer.get("lastEvent")
    if last is not None:
        public["lastEvent"] = {**last, "submitter": None}
        declared = last.get("errorDeclaration")
        if declared is not None:
            public["lastEvent"]["errorDeclaration"] = {**declared, "declaredBy": None}
    return public
