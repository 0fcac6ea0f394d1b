"""The round-trip invariant (issue 14, finding 4; issue 16, JSON-LD contexts): every event the
gateway accepts re-hashes to its event id from the JSON it stores and serves, an event carrying
its own ``@context`` included; an event that would not is refused (rule ``event.rehash``) and
nothing of its document is stored."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gateway import intake
from gateway.intake import REHASH_RULE, event_records, prepare, stored_event
from medledger.epcis.builders import EPCIS_CONTEXT, as_document
from medledger.epcis.event_hash import (
    context_namespaces,
    document_events,
    event_hash,
    hash_prehash,
    prehash_string,
    stored_event_digest,
)
from medledger.epcis.event_id import EventId
from medledger.epcis.normalise import NormalisedEvent, normalise_events
from medledger.epcis.schema import load_schema
from medledger.epcis.terms import MPL_NAMESPACE
from medledger.errors import ValidationError
from provenance.journey import API_MAKER, build_journey
from tests.gateway.conftest import Gateway
from tests.medledger.epcis.epcis_vectors import SKIP_REASON, vector_files

EX = "https://ex.example.org/epcis/"
VECTORS = [
    *vector_files("epcis/gs1-examples", "*.jsonld"),
    *vector_files("event-hash", "*.jsonld"),
]
PUBLISHED_CONTEXTS = [
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    "https://ref.gs1.org/standards/epcis/epcis-context.jsonld",  # unversioned
    "https://gs1.github.io/EPCIS/epcis-context.jsonld",
]


def scoped_event(step: int = 0) -> dict[str, Any]:
    """The API maker's commissioning (or, ``step=1``, its shipping), with its own @context: one
    prefix of its own used in an extension field and a CURIE value, and the document's ``mpl``
    used beside it."""
    event: dict[str, Any] = copy.deepcopy(build_journey().steps[step].events[0])
    event["@context"] = [{"ex": EX}]
    event["ex:inspection"] = "ex:passed"
    event["mpl:site"] = "plant-1"
    return event


def test_an_events_own_context_applies_within_it_on_top_of_the_documents() -> None:
    events, normalised, event_ids = prepare(as_document([scoped_event()]), load_schema())
    stored = events[0]
    assert stored["@context"] == [*EPCIS_CONTEXT, {"mpl": MPL_NAMESPACE}, {"ex": EX}]
    prehash = prehash_string(stored)
    assert f"{{{EX}}}inspection={EX}passed" in prehash
    assert f"{{{MPL_NAMESPACE}}}site=plant-1" in prehash
    [record] = event_records(events, normalised, event_ids)
    assert record.event_id == event_ids[0] == hash_prehash(prehash)
    assert stored_event_digest(json.loads(record.raw)) == record.event_hash


def test_an_events_own_prefix_overrides_the_documents_for_that_event_only() -> None:
    document = as_document([scoped_event(), scoped_event()])
    document["@context"] = [*EPCIS_CONTEXT, {"mpl": MPL_NAMESPACE, "ex": "urn:doc:"}]
    del document["epcisBody"]["eventList"][1]["@context"]
    events, _, event_ids = prepare(document, load_schema())
    assert f"{{{EX}}}inspection" in prehash_string(events[0])
    assert "{urn:doc:}inspection=urn:doc:passed" in prehash_string(events[1])
    assert [hash_prehash(prehash_string(e)) for e in events] == event_ids


def test_a_stored_context_names_each_entry_once_at_its_last_place() -> None:
    event = scoped_event()
    event["@context"] = [*EPCIS_CONTEXT, {"ex": EX}]
    [stored], _, _ = prepare(as_document([event]), load_schema())
    assert stored["@context"] == [{"mpl": MPL_NAMESPACE}, *EPCIS_CONTEXT, {"ex": EX}]


@pytest.mark.parametrize("url", PUBLISHED_CONTEXTS)
def test_every_url_gs1_publishes_the_epcis_context_under_is_accepted(url: str) -> None:
    document = as_document([scoped_event()])
    document["@context"] = [url, {"mpl": MPL_NAMESPACE}]
    [stored], _, _ = prepare(document, load_schema())
    assert stored["@context"][0] == url


def _facts(events: list[Any]) -> list[NormalisedEvent]:
    """The events' facts; placeholders where the intake refuses an identifier of a hash vector
    (``geo:`` read points), as the facts play no part in the round trip."""
    try:
        return normalise_events(events)
    except ValidationError:
        moment = datetime(2026, 1, 1, tzinfo=UTC)
        return [
            NormalisedEvent(i, e["type"], None, None, None, moment) for i, e in enumerate(events)
        ]


def _without_context_objects(document: dict[str, Any]) -> dict[str, Any]:
    """The same document with its prefix declarations moved from the document onto each event."""
    moved = copy.deepcopy(document)
    context = moved["@context"]
    entries = context if isinstance(context, list) else [context]
    moved["@context"] = [e for e in entries if isinstance(e, str)]
    declarations = [e for e in entries if isinstance(e, dict)]
    for event in document_events(moved):
        if declarations:
            event["@context"] = declarations  # type: ignore[index]
    return moved


@pytest.mark.skipif(not VECTORS, reason=SKIP_REASON)
@pytest.mark.parametrize("path", VECTORS, ids=[f"{p.parent.name}/{p.stem}" for p in VECTORS])
def test_every_vector_event_round_trips_through_its_stored_json(path: Path) -> None:
    """Hash, stored form, the stored JSON re-hashed: equal for every event of every JSON example,
    and equal again with the document's prefixes declared on each event instead."""
    document = json.loads(path.read_text(encoding="utf-8"))
    hashes = []
    for variant in (document, _without_context_objects(document)):
        context = variant["@context"]
        events = document_events(variant)
        event_ids = [event_hash(e, namespaces=context_namespaces(context)) for e in events]
        stored = [stored_event(dict(e), context) for e in events]
        records = event_records(stored, _facts(events), event_ids)
        assert [json.loads(r.raw) for r in records] == stored
        hashes.append(event_ids)
    assert hashes[0] == hashes[1], "an event's own context hashes as its document's does"


def _capture_id_statuses(gateway: Gateway, capture_id: str) -> dict[str, Any]:
    response = gateway.http.get(f"/capture/{capture_id}", headers=gateway.headers(API_MAKER))
    body: dict[str, Any] = response.json()
    return body


def test_an_event_whose_stored_json_would_not_re_hash_is_refused_and_nothing_is_stored(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A storage serialiser that loses a field (any mismatch between what is hashed and what is
    stored) is caught before the commit: 400 ``event.rehash``, no event of the document kept."""
    good, lossy = build_journey().steps[0].events[0], scoped_event(step=1)
    serialise = intake.stored_json

    def dropping_the_extension(event: Any) -> str:
        return serialise({k: v for k, v in event.items() if k != "ex:inspection"})

    monkeypatch.setattr(intake, "stored_json", dropping_the_extension)
    response = gateway.capture(API_MAKER, as_document([good, lossy]))
    assert response.status_code == 400, response.text
    problem = response.json()
    assert (problem["rule"], problem["pointer"]) == (REHASH_RULE, "/epcisBody/eventList/1")
    assert _capture_id_statuses(gateway, problem["capture_id"])["status"] == "rejected"
    for event in (good, lossy):
        event_id = event_hash(event, namespaces=context_namespaces(as_document([])["@context"]))
        digits = EventId.parse_uri(event_id).hex
        found = gateway.http.get(f"/events/{digits}", headers=gateway.headers(API_MAKER))
        assert found.status_code == 404, "an event of the refused document was stored"

    monkeypatch.undo()
    accepted = gateway.capture(API_MAKER, as_document([good, lossy]))
    assert accepted.status_code == 202 and accepted.json()["stored"] == 2
    assert gateway.http.get(f"/events/{digits}", headers=gateway.headers(API_MAKER)).is_success


@pytest.mark.parametrize(
    ("field", "value"),
    [("mpl:note", "\ud800"), ("mpl:reading", float("inf")), ("mpl:reading", float("nan"))],
    ids=["lone surrogate", "infinity", "NaN"],
)
def test_a_value_no_stored_json_can_carry_is_refused_before_anything_is_stored(
    field: str, value: object
) -> None:
    """However the body parser let it through: a string UTF-8 cannot encode, or a number JSON
    cannot write (json writes ``Infinity``, which no standard reader takes back)."""
    good, bad = build_journey().steps[0].events[0], scoped_event(step=1)
    bad[field] = value
    with pytest.raises(ValidationError) as refused:
        event_records(*prepare(as_document([good, bad]), load_schema()))
    assert (refused.value.rule, refused.value.pointer) == (REHASH_RULE, "/epcisBody/eventList/1")


def test_an_object_inside_an_event_with_its_own_context_scopes_its_fields() -> None:
    """Issue 16: a scoped context on a nested object (an extension's value) hashes as the same
    prefix declared on the document would."""
    nested, declared = scoped_event(), scoped_event()
    del nested["@context"], declared["@context"]
    nested["mpl:lab"] = {"@context": {"lab": EX}, "lab:grade": "A"}
    declared["mpl:lab"] = {"lab:grade": "A"}
    document = as_document([declared])
    document["@context"] = [*document["@context"], {"lab": EX}]
    [in_object], _, [nested_id] = prepare(as_document([nested]), load_schema())
    _, _, [declared_id] = prepare(document, load_schema())
    assert f"{{{EX}}}grade=A" in prehash_string(in_object)
    assert nested_id == declared_id


def _as_json(value: Any) -> str:
    """``value`` written by :mod:`json` (so an int and an equal float differ)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.skipif(not VECTORS, reason=SKIP_REASON)
@pytest.mark.parametrize("path", VECTORS, ids=[f"{p.parent.name}/{p.stem}" for p in VECTORS])
def test_the_stored_json_holds_what_json_would_have_stored_for_every_vector_event(
    path: Path,
) -> None:
    """orjson writes the stored JSON: for every event of every example, the text it writes
    reads back as json's own text does, value for value and type for type."""
    document = json.loads(path.read_text(encoding="utf-8"))
    for event in document_events(document):
        stored = stored_event(dict(event), document["@context"])
        raw = intake.stored_json(stored)
        assert _as_json(json.loads(raw)) == _as_json(stored)


@pytest.mark.parametrize(
    "value",
    [2**64, -(2**63) - 1, 10**30, 1e-05, 1e16, 0.1, -0.0, 5e-324, 'é\u2028\x00\x1f"\\', None],
    ids=["2^64", "below int64", "10^30", "1e-05", "1e16", "0.1", "-0.0", "tiny", "text", "null"],
)
def test_a_value_orjson_writes_otherwise_is_stored_as_json_would_read_it(
    value: object,
) -> None:
    """Integers past 64 bits (orjson refuses them), numbers it spells otherwise, escapes, null:
    read back as the same value of the same type."""
    event = {"type": "ObjectEvent", "mpl:reading": value, "mpl:list": [value, {"v": value}]}
    assert _as_json(json.loads(intake.stored_json(event))) == _as_json(event)
