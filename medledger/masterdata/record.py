"""One master data record: what a vocabulary element was said to be from a moment on.

A record is one element of a location or product vocabulary (:mod:`.vocabulary`) with an
effective time (when its attributes become true): a new record for the same element is a new
version, never an edit. Its stored form (served in batches, embedded in receipts) is
self-contained JSON::

    {"type": "MasterData", "vocabularyType": "urn:epcglobal:epcis:vtype:BusinessLocation",
     "id": "https://id.gs1.org/414/4700000000017",          # canonical GS1 Digital Link
     "effectiveTime": "2026-01-01T00:00:00.000Z",            # UTC, milliseconds
     "attributes": [{"id": "urn:epcglobal:cbv:mda#name", "attribute": "Bishkek depot"}, ...],
     "children": [...]}                                       # only when there are any

Attributes are sorted by id, then value; children (canonical ids) sorted. Known attributes are
checked and written canonically (:mod:`.attributes`). The record's digest is the SHA-256 of its
pre-hash: :data:`PREHASH_PREFIX` followed by that document as compact JSON with sorted keys
(``json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``, UTF-8). An
event's pre-hash begins ``eventType=`` and a declaration's ``errorDeclaration;``, so a master
data digest is never either. Its id is ``ni:///sha-256;<hex>?ver=CBV2.0&masterdata``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from medledger.epcis.event_hash import canonical_time
from medledger.epcis.event_id import DIGEST_SIZE, HASH_PREFIX
from medledger.epcis.identifiers import canonical_identifier
from medledger.errors import ValidationError, echo

from . import attributes as known
from .vocabulary import KIND_LOCATION, KIND_PRODUCT, kind_of

#: The first characters of every master data pre-hash (never an event's or a declaration's).
PREHASH_PREFIX = "masterData;ver=CBV2.0;"
#: The end of a master data record's id, after the digest.
ID_SUFFIX = "?ver=CBV2.0&masterdata"
#: ``type`` of a stored record; ``kind`` of its leaf in batches and receipts.
DOCUMENT_TYPE = "MasterData"
KIND_MASTERDATA = "masterdata"
#: Attributes one element may carry, and characters of one text value.
MAX_ATTRIBUTES = 256
MAX_TEXT = 4096
MAX_CHILDREN = 1024
RULE = "masterdata"
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class MasterDataRecord:
    """One version of one location or product, canonical (build with :func:`make_record`)."""

    vocabulary_type: str
    element_id: str  # canonical GS1 Digital Link URI
    effective_time: datetime  # UTC
    attributes: tuple[tuple[str, Any], ...]  # (attribute id, value), sorted
    children: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        kind = kind_of(self.vocabulary_type)
        assert kind is not None  # make_record takes no other vocabulary
        return kind

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": DOCUMENT_TYPE,
            "vocabularyType": self.vocabulary_type,
            "id": self.element_id,
            "effectiveTime": _time_text(self.effective_time),
            "attributes": [{"id": k, "attribute": v} for k, v in self.attributes],
        }
        if self.children:
            doc["children"] = list(self.children)
        return doc

    @property
    def prehash(self) -> str:
        return PREHASH_PREFIX + canonical_json(self.document())

    @property
    def digest(self) -> bytes:
        return hashlib.sha256(self.prehash.encode("utf-8")).digest()

    @property
    def id(self) -> str:
        return masterdata_id(self.digest)

    def values(self, attribute: str) -> list[Any]:
        """Every value of ``attribute`` (an attribute may repeat)."""
        return [v for k, v in self.attributes if k == attribute]

    def text(self, attribute: str) -> str | None:
        """The first text value of ``attribute``, if any."""
        return next((v for v in self.values(attribute) if isinstance(v, str)), None)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _time_text(moment: datetime) -> str:
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_time(text: object, *, pointer: str | None = None) -> datetime:
    """An xsd:dateTime (with a zone) as a UTC datetime at millisecond precision."""
    if not isinstance(text, str) or not text.strip():
        raise ValidationError(
            f"effectiveTime must be a date-time, got {echo(text)}",
            rule=f"{RULE}.effective-time",
            pointer=pointer,
        )
    try:
        canonical = canonical_time(text)
        moment = datetime.fromisoformat(canonical.replace("Z", "+00:00"))
    except (ValueError, TypeError):
        raise ValidationError(
            f"effectiveTime is not a date-time with a time zone: {echo(text)}",
            rule=f"{RULE}.effective-time",
            pointer=pointer,
        ) from None
    if moment.tzinfo is None:
        raise ValidationError(
            f"effectiveTime needs a time zone: {echo(text)}",
            rule=f"{RULE}.effective-time",
            pointer=pointer,
        )
    return moment.astimezone(UTC).replace(microsecond=moment.microsecond // 1000 * 1000)


def make_record(
    vocabulary_type: str,
    element_id: object,
    attributes: Iterable[tuple[str, Any]],
    *,
    effective_time: datetime,
    children: Iterable[object] = (),
    pointer: str = "",
) -> MasterDataRecord:
    """A checked, canonical record; a :class:`ValidationError` (rules ``masterdata.*``) naming
    ``pointer`` for anything this ledger does not take."""
    kind = kind_of(vocabulary_type)
    if kind is None:
        raise ValidationError(
            f"vocabulary type {echo(vocabulary_type)} is not kept here (locations: "
            "BusinessLocation, ReadPoint, Location; products: EPCClass)",
            rule=f"{RULE}.vocabulary-type",
            pointer=pointer,
        )
    canonical_id = element_identifier(kind, element_id, pointer=f"{pointer}/id")
    pairs: list[tuple[str, Any]] = []
    for i, (attribute, value) in enumerate(attributes):
        where = f"{pointer}/attributes/{i}"
        if len(pairs) >= MAX_ATTRIBUTES:
            raise ValidationError(
                f"an element carries at most {MAX_ATTRIBUTES} attributes",
                rule=f"{RULE}.attributes",
                pointer=where,
            )
        checked = _plain_value(value, f"{where}/attribute")
        pairs.append((attribute, known.canonical(kind, attribute, checked, where)))
    pairs = known.complete(kind, pairs, pointer)
    child_ids = sorted(
        {element_identifier(kind, c, pointer=f"{pointer}/children") for c in children}
    )
    if len(child_ids) > MAX_CHILDREN:
        raise ValidationError(
            f"an element names at most {MAX_CHILDREN} children",
            rule=f"{RULE}.children",
            pointer=f"{pointer}/children",
        )
    moment = effective_time.astimezone(UTC)
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    return MasterDataRecord(
        vocabulary_type=vocabulary_type,
        element_id=canonical_id,
        effective_time=moment,
        attributes=tuple(sorted(pairs, key=lambda p: (p[0], canonical_json(p[1])))),
        children=tuple(child_ids),
    )


def element_identifier(kind: str, value: object, *, pointer: str) -> str:
    """A location's canonical GLN URI (``https://id.gs1.org/414/<gln>[/254/<ext>]``) or a
    product's GTIN class URI (``https://id.gs1.org/01/<gtin>``), from any GS1 form."""
    try:
        canonical = canonical_identifier(value, pointer=pointer)
    except ValidationError as exc:
        raise ValidationError(str(exc), rule=f"{RULE}.id", pointer=pointer) from None
    parts = canonical.split("/")[3:]
    if kind == KIND_LOCATION and parts[0] == "414":
        return canonical
    if kind == KIND_PRODUCT and parts[0] == "01" and len(parts) == 2:
        return canonical
    wanted = (
        "a GLN (urn:epc:id:sgln:..., https://id.gs1.org/414/...)"
        if kind == KIND_LOCATION
        else "a GTIN class (urn:epc:idpat:sgtin:<cp>.<ir>.*, https://id.gs1.org/01/<gtin>)"
    )
    raise ValidationError(
        f"a {kind}'s id must be {wanted}, got {echo(value)}", rule=f"{RULE}.id", pointer=pointer
    )


def _plain_value(value: Any, pointer: str, depth: int = 0) -> Any:
    """A JSON value an attribute may hold: text, a finite number, an object or list of them."""
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise ValidationError(
                f"an attribute's text is at most {MAX_TEXT} characters, got {len(value)}",
                rule=f"{RULE}.attribute",
                pointer=pointer,
            )
        return value
    if isinstance(value, bool) or value is None:
        raise ValidationError(
            f"an attribute is text, a number or an object, got {echo(value)}",
            rule=f"{RULE}.attribute",
            pointer=pointer,
        )
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValidationError(
                f"an attribute's number must be finite, got {echo(value)}",
                rule=f"{RULE}.attribute",
                pointer=pointer,
            )
        return value
    if depth >= 16:
        raise ValidationError(
            "an attribute's value nests at most 16 deep", rule=f"{RULE}.attribute", pointer=pointer
        )
    if isinstance(value, Mapping):
        return {str(k): _plain_value(v, f"{pointer}/{k}", depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_value(v, f"{pointer}/{i}", depth + 1) for i, v in enumerate(value)]
    raise ValidationError(
        f"an attribute is text, a number or an object, got {echo(value)}",
        rule=f"{RULE}.attribute",
        pointer=pointer,
    )


def read_record(document: Any, *, pointer: str = "") -> MasterDataRecord:
    """The record a stored document holds, checked again; a :class:`ValidationError` if it is
    none or is not in its canonical form (its digest would not be what was anchored)."""
    if not isinstance(document, Mapping) or document.get("type") != DOCUMENT_TYPE:
        raise ValidationError(
            f"not a master data document (type {DOCUMENT_TYPE!r})", rule=RULE, pointer=pointer
        )
    attributes = document.get("attributes")
    if not isinstance(attributes, list) or not all(
        isinstance(a, Mapping) and isinstance(a.get("id"), str) and "attribute" in a
        for a in attributes
    ):
        raise ValidationError(
            "attributes must be a list of {id, attribute}", rule=RULE, pointer=pointer
        )
    children = document.get("children", [])
    if not isinstance(children, list):
        raise ValidationError("children must be a list", rule=RULE, pointer=pointer)
    record = make_record(
        str(document.get("vocabularyType")),
        document.get("id"),
        [(a["id"], a["attribute"]) for a in attributes],
        effective_time=parse_time(document.get("effectiveTime"), pointer=pointer),
        children=children,
        pointer=pointer,
    )
    if canonical_json(record.document()) != canonical_json(dict(document)):
        raise ValidationError(
            "a stored master data document must be in its canonical form",
            rule=RULE,
            pointer=pointer,
        )
    return record


def masterdata_digest(document: Any) -> bytes:
    """The 32-byte digest of a stored master data document (what its leaf commits to)."""
    return read_record(document).digest


def masterdata_id(digest: bytes) -> str:
    """``ni:///sha-256;<hex>?ver=CBV2.0&masterdata``: a master data record's id."""
    if len(digest) != DIGEST_SIZE:
        raise ValidationError(
            f"a master data digest is {DIGEST_SIZE} bytes, got {len(digest)}", rule=RULE
        )
    return f"{HASH_PREFIX}{digest.hex()}{ID_SUFFIX}"


def parse_masterdata_id(text: str) -> bytes:
    """The digest a master data id names (its URI or its 64 hex digits)."""
    digits = text
    if text.startswith(HASH_PREFIX) and text.endswith(ID_SUFFIX):
        digits = text[len(HASH_PREFIX) : -len(ID_SUFFIX)]
    digits = digits.removeprefix("0x").lower()
    if len(digits) != 2 * DIGEST_SIZE or not _HEX.issuperset(digits):
        raise ValidationError(
            f"a master data id is {HASH_PREFIX}<64 hex digits>{ID_SUFFIX}, got {echo(text)}",
            rule=RULE,
        )
    return bytes.fromhex(digits)


def is_masterdata_id(text: str) -> bool:
    return text.startswith(HASH_PREFIX) and text.endswith(ID_SUFFIX)
