"""The typed path (msgspec structs) accepts only what the GS1 schema accepts.

The reference is the schema itself as fastjsonschema compiles it (the whole schema, and the
definition of each event's type): on every event of every vector (valid and invalid), on
mutants of them (each field removed, or set to each of many values, good and bad), and on
events hypothesis draws, an event the typed path accepts is one the schema accepts, and the
document's outcome (accepted, or the first error) is the whole schema's.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medledger.epcis.resources import DEFAULT_SCHEMA_PATH
from medledger.epcis.schema import EpcisSchema, load_schema
from medledger.epcis.typed_events import MODELLED, TypedEvents, modelled_digest
from medledger.errors import ValidationError
from tests.medledger.epcis.epcis_vectors import SKIP_REASON, vector_files

ALL_DOCUMENTS = [
    *vector_files("epcis/gs1-examples", "*.jsonld"),
    *vector_files("epcis/invalid", "*.json"),
    *vector_files("event-hash", "*.jsonld"),
]


@cache
def _raw() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(Path(DEFAULT_SCHEMA_PATH).read_text(encoding="utf-8"))
    return loaded


@cache
def _whole() -> EpcisSchema:
    return EpcisSchema(_raw(), source="whole", dispatch=False)


@cache
def _typed() -> TypedEvents:
    typed = load_schema().typed
    assert typed is not None
    return typed


def _schema_accepts(event: Any) -> bool:
    """The reference: the GS1 definition of the event's type (fastjsonschema)."""
    try:
        _whole().validate_event(event, 0)
    except ValidationError:
        return False
    return True


def _outcome(schema: EpcisSchema, document: object) -> tuple[str, str, str] | None:
    try:
        schema.validate(document)
    except ValidationError as exc:
        return (str(exc.rule), str(exc.pointer), str(exc))
    return None


def _events(path: Path) -> list[Any]:
    document = json.loads(path.read_text(encoding="utf-8"))
    body = document.get("epcisBody") if isinstance(document, dict) else None
    events = body.get("eventList") if isinstance(body, dict) else None
    return list(events) if isinstance(events, list) else []


def _vector_events() -> list[Any]:
    return [event for path in ALL_DOCUMENTS for event in _events(path)]


# Values every field is set to in turn: of each JSON type, good and bad for each field.
URI = "urn:epc:id:sgtin:4700123.012345.1001"
VALUES: list[Any] = [
    None, True, False, 0, 1, -1, 1.5, 10**30, "", " ", "x", "ADD", "ADD\n", "OBSERVE", "DELETE",
    "add", "commissioning", "shipping", "in_transit", "po", "owning_party", URI, URI + "\n",
    "urn:epcglobal:cbv:bizstep:shipping", "https://ns.gs1.org/cbv/BizStep-shipping",
    "https://ns.gs1.org/voc/Bizstep-x", "https://example.org/step", "ex:step", "a b:c", ":x",
    "2026-01-05T08:00:00Z", "2026-01-05T08:00:00.5+01:00", "2026-02-30T08:00:00Z",
    "2024-02-29T23:59:60Z", "2026-01-05T08:00:00Z\n", "2026-01-05 08:00:00Z", "+00:00", "-14:00",
    "+14:01", "+1:00", "+00:00\n", "+\u0660\u0660:00", "KGM", "kg", "KGMS",
    [], [None], [URI], [URI, URI], [URI, "urn:epc:id:sgtin:4700123.012345.1002"], ["x y"], [1],
    {}, {"id": URI}, {"id": URI, "ex:more": 1}, {"id": "not a uri"}, {"id": None}, {"uri": URI},
    [{"epcClass": URI, "quantity": 2, "uom": "KGM"}], [{"epcClass": URI}],
    [{"epcClass": URI, "quantity": "2"}], [{"epcClass": URI, "quantity": True}],
    [{"epcClass": URI, "uom": "kg"}], [{"epcClass": URI, "extra": 1}], [{"quantity": 1}],
    [{"bizTransaction": URI, "type": "po"}], [{"bizTransaction": URI}],
    [{"bizTransaction": URI, "type": "urn:epcglobal:cbv:btt:po"}],
    [{"bizTransaction": URI, "type": "https://example.org/btt"}], [{"type": "po"}],
    [{"type": "owning_party", "source": URI}], [{"type": "location", "destination": URI}],
    [{"type": "owning", "source": URI}], [{"source": URI}], [{"type": "location", "source": 1}],
    {"cbvmda:lotNumber": "L1"}, {"lotNumber": "L1"}, {"ex:a": {"nested": [1, None]}},
]  # fmt: skip
FIELDS = [
    "type", "action", "eventTime", "eventTimeZoneOffset", "recordTime", "eventID", "epcList",
    "quantityList", "bizStep", "disposition", "readPoint", "bizLocation", "bizTransactionList",
    "sourceList", "destinationList", "ilmd", "parentID", "childEPCs", "childQuantityList",
    "@context", "certificationInfo", "persistentDisposition", "sensorElementList", "ex:field",
    "unknownField", "errorDeclaration",
]  # fmt: skip


def _typed_bases() -> list[dict[str, Any]]:
    """The vectors' ObjectEvents and AggregationEvents, and a commissioning event of our own."""
    bases = [
        e
        for e in _vector_events()
        if isinstance(e, dict) and e.get("type") in ("ObjectEvent", "AggregationEvent")
    ]
    bases.append(
        {
            "type": "ObjectEvent",
            "action": "ADD",
            "bizStep": "commissioning",
            "disposition": "active",
            "epcList": [URI],
            "ilmd": {"cbvmda:lotNumber": "L1", "cbvmda:itemExpirationDate": "2028-10-31"},
            "eventTime": "2026-01-05T08:00:00Z",
            "eventTimeZoneOffset": "+00:00",
            "readPoint": {"id": "urn:epc:id:sgln:4700123.10000.0"},
            "bizLocation": {"id": "urn:epc:id:sgln:4700123.10000.0"},
        }
    )
    return bases


def test_the_vendored_schema_has_the_typed_path() -> None:
    assert load_schema().typed is not None
    assert EpcisSchema(_raw(), dispatch=False).typed is None


@pytest.mark.parametrize("name", MODELLED)
def test_any_change_to_a_modelled_definition_turns_the_typed_path_off(name: str) -> None:
    changed = copy.deepcopy(_raw())
    changed["definitions"][name] = {"type": "string", "description": "changed"}
    assert modelled_digest(changed["definitions"]) != modelled_digest(_raw()["definitions"])
    assert TypedEvents.for_schema(changed) is None


def test_a_schema_without_the_modelled_definitions_validates_without_the_typed_path() -> None:
    changed = copy.deepcopy(_raw())
    changed["definitions"]["bizStep"]["anyOf"][1]["enum"].remove("commissioning")
    schema = EpcisSchema(changed)
    assert schema.dispatches and schema.typed is None


@pytest.mark.skipif(not ALL_DOCUMENTS, reason=SKIP_REASON)
def test_every_vector_event_the_typed_path_accepts_the_schema_accepts() -> None:
    accepted = 0
    for event in _vector_events():
        if _typed().accepts(event):
            accepted += 1
            assert _schema_accepts(event), event
    assert accepted >= 10  # the path is taken: the test is not empty


@pytest.mark.skipif(not ALL_DOCUMENTS, reason=SKIP_REASON)
def test_mutants_of_every_vector_event_the_typed_path_accepts_the_schema_accepts() -> None:
    """Each field of each ObjectEvent and AggregationEvent removed, or set to each value of
    :data:`VALUES`, and each field of its nested objects likewise."""
    typed, accepted, declined = _typed(), 0, 0
    for base in _typed_bases():
        for mutant in _mutants(base):
            if typed.accepts(mutant):
                accepted += 1
                assert _schema_accepts(mutant), mutant
            else:
                declined += 1
    assert accepted > 1000 and declined > 100_000  # both sides explored


def _mutants(base: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for field in {*base, *FIELDS}:
        removed = {k: v for k, v in base.items() if k != field}
        found.append(removed)
        for value in VALUES:
            found.append({**base, field: value})
    for field, value in base.items():  # one level down: readPoint.id, quantityList[0].uom ...
        inner = value[0] if isinstance(value, list) and value else value
        if not isinstance(inner, dict):
            continue
        for key in {*inner, "id", "type", "uom", "quantity", "extra"}:
            for replacement in VALUES[:45]:
                changed = {**inner, key: replacement}
                found.append({**base, field: [changed] if isinstance(value, list) else changed})
    return found


@pytest.mark.skipif(not ALL_DOCUMENTS, reason=SKIP_REASON)
@pytest.mark.parametrize("path", ALL_DOCUMENTS, ids=[p.stem for p in ALL_DOCUMENTS])
def test_documents_of_mutants_fare_as_under_the_whole_schema(path: Path) -> None:
    """A vector with its first event replaced by mutants of it: the same outcome and error."""
    document = json.loads(path.read_text(encoding="utf-8"))
    events = _events(path)
    if not events or not isinstance(events[0], dict):
        pytest.skip("no event to mutate")
    for mutant in _mutants(events[0])[::7]:
        changed = copy.deepcopy(document)
        changed["epcisBody"]["eventList"][0] = mutant
        assert _outcome(load_schema(), changed) == _outcome(_whole(), changed)


_value = st.sampled_from(VALUES)
_event = st.fixed_dictionaries(
    {"type": st.sampled_from(["ObjectEvent", "AggregationEvent"])},
    optional=dict.fromkeys(FIELDS[1:], _value),
)


@settings(max_examples=1500, deadline=None)
@given(_event)
def test_any_event_the_typed_path_accepts_the_schema_accepts(event: dict[str, Any]) -> None:
    if _typed().accepts(event):
        assert _schema_accepts(event)


@settings(max_examples=500, deadline=None)
@given(
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["ObjectEvent", "AggregationEvent"]),
            "action": st.sampled_from(["ADD", "OBSERVE", "DELETE"]),
            "eventTime": st.sampled_from(["2026-01-05T08:00:00Z", "2026-13-05T08:00:00Z"]),
            "eventTimeZoneOffset": st.sampled_from(["+00:00", "+15:00"]),
        },
        optional=dict.fromkeys(FIELDS[4:20], _value),
    )
)
def test_nearly_valid_events_the_typed_path_accepts_the_schema_accepts(
    event: dict[str, Any],
) -> None:
    """Events with the required fields, mostly right: where the typed path decides most."""
    if _typed().accepts(event):
        assert _schema_accepts(event)
