"""EventId: the one reader and writer of EPCIS event ids."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from medledger.epcis.event_hash import event_hash, hash_prehash
from medledger.epcis.event_id import HASH_PREFIX, HASH_SUFFIX, EventId, event_id_of
from medledger.errors import ValidationError

DIGEST = hashlib.sha256(b"an event").digest()
HEX = DIGEST.hex()
URI = f"ni:///sha-256;{HEX}?ver=CBV2.0"


def test_prints_the_uri_and_its_digest_forms() -> None:
    event_id = EventId(DIGEST)
    assert str(event_id) == event_id.uri == event_id_of(DIGEST) == URI
    assert event_id.hex == HEX and event_id.hex0x == "0x" + HEX
    assert event_id.digest == DIGEST and (HASH_PREFIX, HASH_SUFFIX) == (
        "ni:///sha-256;",
        "?ver=CBV2.0",
    )


@pytest.mark.parametrize(
    "text",
    [
        URI,
        HEX,
        "0x" + HEX,
        HEX.upper(),
        "0x" + HEX.upper(),
        f"ni:///sha-256;{HEX.upper()}?ver=CBV2.0",
    ],
)
def test_parse_accepts_every_form(text: str) -> None:
    parsed = EventId.parse(text)
    assert parsed == EventId(DIGEST) and parsed.digest == DIGEST and str(parsed) == URI


def test_round_trip() -> None:
    event_id = EventId(DIGEST)
    for text in (str(event_id), event_id.hex, event_id.hex0x):
        assert EventId.parse(text) == event_id
    assert EventId.parse_uri(str(event_id)) == event_id


def test_the_event_hash_is_an_event_id() -> None:
    computed = event_hash({"type": "ObjectEvent", "eventTime": "2026-01-01T00:00:00Z"})
    assert str(EventId.parse_uri(computed)) == computed
    assert hash_prehash("x") == str(EventId(hashlib.sha256(b"x").digest()))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "urn:uuid:1",
        HEX[:-1],
        HEX + "0",
        "g" * 64,
        " " + HEX,
        HEX + "\n",
        "0X" + HEX,
        "0x0x" + HEX,
        f"ni:///sha-256;0x{HEX}?ver=CBV2.0",
        f"ni:///sha-256;{HEX}",
        f"ni:///sha-512;{HEX}?ver=CBV2.0",
        f"ni:///sha-256;{HEX}?ver=CBV2.1",
        "ni:///sha-256;abcd?ver=CBV2.0",
    ],
)
def test_parse_refuses_anything_else(text: str) -> None:
    with pytest.raises(ValidationError, match=r"an event id is ni:///sha-256;<64 hex digits>") as e:
        EventId.parse(text, rule="query.eventID", pointer="eventID")
    assert (e.value.rule, e.value.pointer) == ("query.eventID", "eventID")


def test_a_refusal_echoes_at_most_the_start_of_the_input() -> None:
    with pytest.raises(ValidationError, match=r"\(100000 characters\)") as e:
        EventId.parse("x" * 100_000)
    assert len(str(e.value)) < 400 and e.value.rule == "event-id"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (HEX, "not a CBV 2.0 event hash: '" + HEX),
        ("0x" + HEX, "not a CBV 2.0 event hash"),
        ("urn:uuid:1", "not a CBV 2.0 event hash: 'urn:uuid:1'"),
        ("ni:///sha-256;abcd?ver=CBV2.0", "event hash digest has 2 bytes, expected 32"),
        (f"ni:///sha-256;{HEX}00?ver=CBV2.0", "event hash digest has 33 bytes, expected 32"),
        ("ni:///sha-256;abc?ver=CBV2.0", "event hash digest has 3 hex digits, expected 64"),
        (f"ni:///sha-256;0x{HEX}?ver=CBV2.0", "an event hash digest is hex digits"),
        (f"ni:///sha-256;{HEX[:-2]} a?ver=CBV2.0", "an event hash digest is hex digits"),
    ],
)
def test_parse_uri_takes_only_the_uri(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("?", r"\?")):
        EventId.parse_uri(text)


@pytest.mark.parametrize("digest", [b"", b"\x00" * 31, b"\x00" * 33, HEX])
def test_the_digest_is_32_bytes(digest: object) -> None:
    with pytest.raises(ValidationError, match="an event id's digest is 32 bytes, got"):
        EventId(digest)  # type: ignore[arg-type]


def test_is_a_frozen_hashable_value() -> None:
    event_id = EventId(DIGEST)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event_id.digest = b"\x00" * 32  # type: ignore[misc]
    assert {event_id, EventId.parse(HEX)} == {event_id}
    assert not hasattr(event_id, "__dict__")
