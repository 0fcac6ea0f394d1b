"""EPCIS event ids, parsed and printed in one place.

An event's id is its CBV 2.0 event hash as an RFC 6920 'ni' URI,
``ni:///sha-256;<64 lowercase hex digits>?ver=CBV2.0``
(:func:`~medledger.epcis.event_hash.event_hash` computes it). Where an id travels in a URL path
its 64 hex digits stand for it, and the chain and the receipts write the digest as ``0x`` and
64 hex digits. :class:`EventId` reads all three forms and prints the URI; anything else is a
:class:`~medledger.errors.ValidationError`.
"""

from __future__ import annotations

from dataclasses import dataclass

from medledger.errors import ValidationError, echo

HASH_PREFIX = "ni:///sha-256;"
HASH_SUFFIX = "?ver=CBV2.0"
#: Bytes of a SHA-256 digest.
DIGEST_SIZE = 32

_HEX = frozenset("0123456789abcdefABCDEF")
_FORMS = f"{HASH_PREFIX}<64 hex digits>{HASH_SUFFIX} or its 64 hex digits"


@dataclass(frozen=True, slots=True)
class EventId:
    """The id of one EPCIS event: the 32-byte SHA-256 digest its URI names."""

    digest: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.digest, bytes) or len(self.digest) != DIGEST_SIZE:
            raise ValidationError(
                f"an event id's digest is {DIGEST_SIZE} bytes, got {echo(self.digest)}",
                rule="event-id",
            )

    @classmethod
    def parse(cls, text: str, *, rule: str = "event-id", pointer: str | None = None) -> EventId:
        """The id ``text`` writes as its URI, its 64 hex digits or ``0x`` and its 64 hex digits.

        Hex digits may be upper or lower case; nothing else is accepted (no spaces, no ``0x``
        inside the URI). ``rule`` and ``pointer`` go into the :class:`ValidationError`."""
        if text.startswith(HASH_PREFIX) and text.endswith(HASH_SUFFIX):
            digits = text[len(HASH_PREFIX) : -len(HASH_SUFFIX)]
        else:
            digits = text.removeprefix("0x")
        if len(digits) != 2 * DIGEST_SIZE or not _HEX.issuperset(digits):
            raise ValidationError(
                f"an event id is {_FORMS} ('0x' allowed before them), got {echo(text)}",
                rule=rule,
                pointer=pointer,
            )
        return cls(bytes.fromhex(digits))

    @classmethod
    def parse_uri(cls, text: str, *, rule: str = "event-id", pointer: str | None = None) -> EventId:
        """The id ``text`` writes as its URI, and only so (the form stored with every event)."""
        if not (text.startswith(HASH_PREFIX) and text.endswith(HASH_SUFFIX)):
            raise ValidationError(
                f"not a CBV 2.0 event hash: {echo(text)}", rule=rule, pointer=pointer
            )
        digits = text[len(HASH_PREFIX) : -len(HASH_SUFFIX)]
        if not _HEX.issuperset(digits):
            raise ValidationError(
                f"an event hash digest is hex digits: {echo(text)}", rule=rule, pointer=pointer
            )
        if len(digits) != 2 * DIGEST_SIZE:
            if len(digits) % 2:
                size = f"{len(digits)} hex digits, expected {2 * DIGEST_SIZE}"
            else:
                size = f"{len(digits) // 2} bytes, expected {DIGEST_SIZE}"
            raise ValidationError(
                f"event hash digest has {size}: {echo(text)}", rule=rule, pointer=pointer
            )
        return cls(bytes.fromhex(digits))

    @property
    def hex(self) -> str:
        """The 64 lowercase hex digits (the form a URL path carries)."""
        return self.digest.hex()

    @property
    def hex0x(self) -> str:
        """``0x`` and the 64 lowercase hex digits (the form of the chain and the receipts)."""
        return "0x" + self.digest.hex()

    @property
    def uri(self) -> str:
        """``ni:///sha-256;<hex>?ver=CBV2.0``, the canonical form (also ``str(id)``)."""
        return f"{HASH_PREFIX}{self.digest.hex()}{HASH_SUFFIX}"

    def __str__(self) -> str:
        return self.uri


def event_id_of(digest: bytes) -> str:
    """The URI of the event whose hash is ``digest`` (32 bytes; written out directly: the
    indexer calls this for every event it serves)."""
    if len(digest) != DIGEST_SIZE:
        return EventId(digest).uri  # refuses it
    return f"{HASH_PREFIX}{digest.hex()}{HASH_SUFFIX}"
