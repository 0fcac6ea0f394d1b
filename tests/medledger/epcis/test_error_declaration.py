"""Error declarations: a digest of their own over the declared event's hash, the time, the reason,
the corrective events and any extension, never equal to an event hash."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import datetime
from typing import Any

import pytest

from medledger.epcis.error_declaration import (
    PREHASH_PREFIX,
    declaration_digest,
    declaration_document,
    declaration_id,
    parse_declaration_id,
    read_declaration,
    standard_object,
)
from medledger.epcis.event_hash import document_hashes, stored_event_digest
from medledger.errors import ValidationError
from tests.medledger.epcis.epcis_vectors import require_vectors, vector_files

EVENT = "ni:///sha-256;" + "ab" * 32 + "?ver=CBV2.0"
CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"ex": "urn:ex:"}]
DECLARATION = {
    "declarationTime": "2020-01-15T00:00:00+01:00",
    "reason": "incorrect_data",
    "ex:note": "typo",
    "correctiveEventIDs": ["urn:uuid:2", "urn:uuid:1"],
}


def _document(**changes: Any) -> dict[str, Any]:
    declaration = {**DECLARATION, **changes}
    return declaration_document(EVENT, declaration, CONTEXT)


def test_the_prehash_is_canonical_and_prefixed() -> None:
    declared = read_declaration(_document())
    assert declared.prehash == (
        f"{PREHASH_PREFIX}eventID={EVENT}declarationTime=2020-01-14T23:00:00.000Z"
        "reason=https://ref.gs1.org/cbv/ER-incorrect_data"
        "correctiveEventIDscorrectiveEventID=urn:uuid:1correctiveEventID=urn:uuid:2"
        "{urn:ex:}note=typo"
    )
    assert declared.digest == hashlib.sha256(declared.prehash.encode()).digest()
    assert declared.id == declaration_id(declared.digest)
    assert declared.id.endswith("?ver=CBV2.0&declaration")
    assert parse_declaration_id(declared.id) == declared.digest
    assert declared.reason == "https://ref.gs1.org/cbv/ER-incorrect_data"
    assert declared.corrective_event_ids == ("urn:uuid:2", "urn:uuid:1")


@pytest.mark.parametrize(
    "same",
    [
        {"declarationTime": "2020-01-14T23:00:00.000Z"},
        {"reason": "urn:epcglobal:cbv:er:incorrect_data"},
        {"reason": "https://ref.gs1.org/cbv/ER-incorrect_data"},
        {"correctiveEventIDs": ["urn:uuid:1", "urn:uuid:2"]},
    ],
)
def test_equal_declarations_written_otherwise_have_one_digest(same: dict[str, Any]) -> None:
    assert declaration_digest(_document(**same)) == declaration_digest(_document())


@pytest.mark.parametrize(
    "other",
    [
        {"declarationTime": "2020-01-15T00:00:00Z"},
        {"reason": "did_not_occur"},
        {"correctiveEventIDs": ["urn:uuid:1"]},
        {"ex:note": "another"},
    ],
)
def test_every_field_is_covered(other: dict[str, Any]) -> None:
    assert declaration_digest(_document(**other)) != declaration_digest(_document())
    moved = _document()
    moved["eventID"] = "ni:///sha-256;" + "cd" * 32 + "?ver=CBV2.0"
    assert declaration_digest(moved) != declaration_digest(_document())


@pytest.mark.parametrize(
    "broken",
    [
        {"type": "ObjectEvent"},
        {"eventID": "urn:uuid:1"},
        {"errorDeclaration": "no"},
        {"errorDeclaration": {"reason": "incorrect_data"}},
        {"errorDeclaration": {"declarationTime": "yesterday"}},
        {"errorDeclaration": {"declarationTime": "2020-01-01T00:00:00Z", "reason": 3}},
        {"errorDeclaration": {"declarationTime": "2020-01-01T00:00:00Z", "correctiveEventIDs": 1}},
    ],
)
def test_what_is_no_declaration_is_refused(broken: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as raised:
        read_declaration({**_document(), **broken})
    assert raised.value.rule == "errorDeclaration"


def test_gs1s_declarations_digest_apart_from_their_events() -> None:
    require_vectors()
    paths = vector_files("epcis/gs1-examples", "WithErrorDeclaration__*.jsonld")
    paths += vector_files("event-hash", "*ErrorDeclaration.jsonld")
    assert len(paths) == 3
    for path in paths:
        document = json.loads(path.read_text(encoding="utf-8"))
        for event, event_id in zip(
            document["epcisBody"]["eventList"], document_hashes(document), strict=True
        ):
            if "errorDeclaration" not in event:
                continue
            declared = read_declaration(
                declaration_document(event_id, event["errorDeclaration"], document["@context"])
            )
            stored = {"@context": document["@context"], **copy.deepcopy(event)}
            assert declared.digest != stored_event_digest(stored)
            assert not declared.prehash.startswith("eventType=")


def test_the_standard_object_shown_on_a_declared_event() -> None:
    naive = datetime(2020, 1, 14, 23, 0)  # as SQLite gives it back: UTC
    assert standard_object(naive, "https://ref.gs1.org/cbv/ER-did_not_occur", ("urn:uuid:1",)) == {
        "declarationTime": "2020-01-14T23:00:00Z",
        "reason": "did_not_occur",
        "correctiveEventIDs": ["urn:uuid:1"],
    }
    assert standard_object(naive, "https://example.org/er/mine", ()) == {
        "declarationTime": "2020-01-14T23:00:00Z",
        "reason": "https://example.org/er/mine",
    }
