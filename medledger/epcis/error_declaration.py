"""EPCIS error declarations (EPCIS 2.0 section 7.4.1.4) and their own digest.

A trading partner declares an event it captured erroneous by sending the event again with an
``errorDeclaration`` (``declarationTime``, an optional ``reason``, optional
``correctiveEventIDs``, extension fields). The CBV 2.0 event hash leaves ``errorDeclaration``
out, so the declaration is a fact of its own: stored, anchored as its own Merkle leaf and proved
by its own receipt.

The stored declaration (served in batches and embedded in receipts) is self-contained JSON::

    {"@context": <the event's stored @context>, "type": "ErrorDeclaration",
     "eventID": "ni:///sha-256;<hex>?ver=CBV2.0",      # the declared event's hash
     "errorDeclaration": {...as sent...}}

Its digest is the SHA-256 of a canonical pre-hash in the style of CBV 2.0 section 8.9, which
begins with :data:`PREHASH_PREFIX` (an event's pre-hash begins ``eventType=``, so no declaration's
pre-hash is ever an event's)::

    errorDeclaration;ver=CBV2.0;eventID=<declared event id>declarationTime=<UTC, ms, Z>
    reason=<CBV Web URI or as given>correctiveEventIDs<correctiveEventID=<id>, sorted>
    <extension fields as {namespace}local=value, sorted>

(one line, no separators; an absent reason or empty corrective list writes nothing). Its id is
``ni:///sha-256;<hex>?ver=CBV2.0&declaration`` (:func:`declaration_id`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from medledger.epcis.event_hash import (
    canonical_fields,
    canonical_time,
    canonical_value,
    context_namespaces,
)
from medledger.epcis.event_id import DIGEST_SIZE, HASH_PREFIX, EventId
from medledger.epcis.terms import bare_term, default_vocabulary
from medledger.errors import ValidationError, echo

#: The first characters of every declaration pre-hash (never those of an event's).
PREHASH_PREFIX = "errorDeclaration;ver=CBV2.0;"
#: The end of a declaration id, after the digest.
ID_SUFFIX = "?ver=CBV2.0&declaration"
#: ``type`` of a stored declaration document.
DOCUMENT_TYPE = "ErrorDeclaration"
#: Kinds of anchored leaves (receipts, batches).
KIND_EVENT = "event"
KIND_DECLARATION = "errorDeclaration"
KINDS = (KIND_EVENT, KIND_DECLARATION)
#: Fields of ``errorDeclaration`` the standard defines; any other is an extension.
STANDARD_FIELDS = frozenset({"declarationTime", "reason", "correctiveEventIDs"})
_RULE = "errorDeclaration"
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class ErrorDeclaration:
    """One declaration, read and canonicalised from its stored document."""

    event_id: str  # the declared event (its CBV 2.0 hash URI)
    declaration_time: datetime  # UTC
    reason: str | None  # the CBV Web URI for a standard reason, else as given
    corrective_event_ids: tuple[str, ...]
    prehash: str
    document: dict[str, Any]

    @property
    def digest(self) -> bytes:
        return hashlib.sha256(self.prehash.encode("utf-8")).digest()

    @property
    def id(self) -> str:
        return declaration_id(self.digest)


def declaration_document(
    event_id: str, error_declaration: Mapping[str, Any], context: Any
) -> dict[str, Any]:
    """The stored declaration of event ``event_id`` (``context``: the event's stored one)."""
    return {
        "@context": context,
        "type": DOCUMENT_TYPE,
        "eventID": event_id,
        "errorDeclaration": dict(error_declaration),
    }


def standard_object(
    declaration_time: datetime, reason: str | None, corrective_event_ids: tuple[str, ...]
) -> dict[str, Any]:
    """The standard ``errorDeclaration`` object (EPCIS 2.0 section 7.4.1.4) of a stored
    declaration, as served on the event it declares: ``declarationTime`` (UTC, ``Z``; a naive
    time is UTC), ``reason`` as a bare CBV term where it is one, ``correctiveEventIDs`` if any.
    It is no part of the event hash, so the event still hashes to its eventID."""
    moment = declaration_time if declaration_time.tzinfo else declaration_time.replace(tzinfo=UTC)
    shown: dict[str, Any] = {
        "declarationTime": moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    }
    if reason is not None:
        shown["reason"] = bare_term("errorReason", reason) or reason
    if corrective_event_ids:
        shown["correctiveEventIDs"] = list(corrective_event_ids)
    return shown


def read_declaration(document: Any, *, pointer: str | None = None) -> ErrorDeclaration:
    """The declaration a stored document holds; a :class:`ValidationError` (rule
    ``errorDeclaration``) if it is none."""
    if not isinstance(document, Mapping) or document.get("type") != DOCUMENT_TYPE:
        raise ValidationError(
            f"not an error declaration document (type {DOCUMENT_TYPE!r})",
            rule=_RULE,
            pointer=pointer,
        )
    event_id = EventId.parse_uri(str(document.get("eventID")), rule=_RULE, pointer=pointer).uri
    declaration = document.get("errorDeclaration")
    if not isinstance(declaration, Mapping):
        raise ValidationError("errorDeclaration must be an object", rule=_RULE, pointer=pointer)
    namespaces = context_namespaces(document.get("@context"))
    inner = declaration.get("@context")
    if inner is not None:
        namespaces = context_namespaces(inner, base=namespaces)
    time_text = declaration.get("declarationTime")
    if not isinstance(time_text, str):
        raise ValidationError(
            f"errorDeclaration needs a declarationTime, got {echo(time_text)}",
            rule=_RULE,
            pointer=pointer,
        )
    canonical = canonical_time(time_text)
    try:
        moment = datetime.fromisoformat(canonical.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        raise ValidationError(
            f"declarationTime is not a date-time: {echo(time_text)}", rule=_RULE, pointer=pointer
        ) from None
    reason_value = declaration.get("reason")
    reason: str | None = None
    if reason_value is not None:
        if not isinstance(reason_value, str):
            raise ValidationError(
                f"reason must be a string, got {echo(reason_value)}", rule=_RULE, pointer=pointer
            )
        reason = _reason(reason_value, namespaces)
    correctives = declaration.get("correctiveEventIDs", [])
    if not isinstance(correctives, list) or not all(isinstance(c, str) for c in correctives):
        raise ValidationError(
            "correctiveEventIDs must be a list of strings", rule=_RULE, pointer=pointer
        )
    corrective_ids = tuple(canonical_value(c) for c in correctives)
    extensions = {
        k: v for k, v in declaration.items() if k not in STANDARD_FIELDS and k != "@context"
    }
    prehash = (
        PREHASH_PREFIX
        + f"eventID={event_id}declarationTime={canonical}"
        + (f"reason={reason}" if reason else "")
        + (
            "correctiveEventIDs" + "".join(f"correctiveEventID={c}" for c in sorted(corrective_ids))
            if corrective_ids
            else ""
        )
        + (canonical_fields(extensions, namespaces=namespaces) if extensions else "")
    )
    return ErrorDeclaration(
        event_id=event_id,
        declaration_time=moment,
        reason=reason,
        corrective_event_ids=corrective_ids,
        prehash=prehash,
        document=dict(document),
    )


def _reason(value: str, namespaces: Mapping[str, str]) -> str:
    text = value.strip()
    expanded = default_vocabulary().expand("errorReason", text)
    if expanded is not text:
        return expanded
    prefix, sep, rest = text.partition(":")
    if sep and prefix in namespaces:
        text = namespaces[prefix] + rest
    return canonical_value(text)


def declaration_digest(document: Any) -> bytes:
    """The 32-byte digest of a stored declaration document (what its leaf commits to)."""
    return read_declaration(document).digest


def declaration_id(digest: bytes) -> str:
    """``ni:///sha-256;<hex>?ver=CBV2.0&declaration``: a declaration's id."""
    if len(digest) != DIGEST_SIZE:
        raise ValidationError(
            f"a declaration digest is {DIGEST_SIZE} bytes, got {len(digest)}", rule=_RULE
        )
    return f"{HASH_PREFIX}{digest.hex()}{ID_SUFFIX}"


def parse_declaration_id(text: str) -> bytes:
    """The digest a declaration id names (its URI or its 64 hex digits)."""
    digits = text
    if text.startswith(HASH_PREFIX) and text.endswith(ID_SUFFIX):
        digits = text[len(HASH_PREFIX) : -len(ID_SUFFIX)]
    digits = digits.removeprefix("0x").lower()
    if len(digits) != 2 * DIGEST_SIZE or not _HEX.issuperset(digits):
        raise ValidationError(
            f"a declaration id is {HASH_PREFIX}<64 hex digits>{ID_SUFFIX}, got {echo(text)}",
            rule=_RULE,
        )
    return bytes.fromhex(digits)


def is_declaration_id(text: str) -> bool:
    return text.startswith(HASH_PREFIX) and text.endswith(ID_SUFFIX)
