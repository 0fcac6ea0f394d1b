from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path

import pytest

from medledger.epcis.resources import DEFAULT_SCHEMA_PATH
from medledger.epcis.schema import EpcisSchema, event_index, load_schema
from medledger.errors import ValidationError
from tests.medledger.epcis.epcis_vectors import SKIP_REASON, VECTORS, vector_files

# Expected (rule, pointer) of the first error for each invalid document.
EXPECTED_INVALID = {
    "Combination_of_events_with_missing_mandatory_fields.json": (
        "schema.required", "/epcisBody/eventList/0"),
    "Combination_of_multiple_invalid_fields.json": (
        "schema.anyOf", "/epcisBody/eventList/0/bizStep"),
    "Combination_of_non_standard_bizStep_and_disposition.json": (
        "schema.anyOf", "/epcisBody/eventList/0/bizStep"),
    "EPCISDocument_without_context.json": ("schema.required", "/"),
    "ObjectEvent_with_ilmd_field_without_namespace.json": (
        "schema.propertyNames", "/epcisBody/eventList/0/ilmd"),
    "ObjectEvent_with_invalid_action.json": ("schema.enum", "/epcisBody/eventList/0/action"),
    "ObjectEvent_with_invalid_certificationInfo.json": (
        "schema.anyOf", "/epcisBody/eventList/0/certificationInfo"),
    "ObjectEvent_with_invalid_eventTime_format.json": (
        "schema.format", "/epcisBody/eventList/0/eventTime"),
    "ObjectEvent_with_non_standard_bizStep.json": (
        "schema.anyOf", "/epcisBody/eventList/0/bizStep"),
    "ObjectEvent_with_non_standard_bizStep_in_second_event.json": (
        "schema.anyOf", "/epcisBody/eventList/1/bizStep"),
    "ObjectEvent_with_non_standard_disposition.json": (
        "schema.anyOf", "/epcisBody/eventList/0/disposition"),
    "ObjectEvent_with_quantity_as_text.json": (
        "schema.type", "/epcisBody/eventList/0/quantityList/0/quantity"),
    "ObjectEvent_with_unknown_field_in_quantityList.json": (
        "schema.additionalProperties", "/epcisBody/eventList/0/quantityList/0"),
    "ObjectEvent_without_action_and_eventTime.json": ("schema.required", "/epcisBody/eventList/0"),
    "ObjectEvent_without_identifier_list.json": ("schema.anyOf", "/epcisBody/eventList/0"),
}  # fmt: skip

INVALID = vector_files("epcis/invalid", "*.json")
EXAMPLES = vector_files("epcis/gs1-examples", "*.jsonld")


def _load(path: Path) -> object:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.skipif(not INVALID, reason=SKIP_REASON)
@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_documents_are_rejected(path: Path) -> None:
    with pytest.raises(ValidationError) as info:
        load_schema().validate(_load(path))
    rule, pointer = EXPECTED_INVALID[path.name]
    assert (info.value.rule, info.value.pointer) == (rule, pointer)
    index = event_index(pointer)
    if index is not None:
        assert str(info.value).startswith(f"event {index}: {pointer}")


@pytest.mark.skipif(not INVALID, reason=SKIP_REASON)
def test_every_invalid_vector_has_an_expectation() -> None:
    assert {p.name for p in INVALID} == set(EXPECTED_INVALID)


@pytest.mark.skipif(not EXAMPLES, reason=SKIP_REASON)
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_gs1_examples_are_accepted(path: Path) -> None:
    load_schema().validate(_load(path))


@pytest.mark.skipif(not INVALID, reason=SKIP_REASON)
def test_iter_errors_reports_every_bad_event() -> None:
    doc = _load(VECTORS / "epcis/invalid/Combination_of_multiple_invalid_fields.json")
    errors = list(load_schema().iter_errors(doc))
    assert [e.pointer for e in errors] == [
        "/epcisBody/eventList/0/bizStep",
        "/epcisBody/eventList/1/disposition",
        "/epcisBody/eventList/2/sourceList/0/type",
        "/epcisBody/eventList/3/ilmd",
        "/epcisBody/eventList/4/eventTime",
    ]


def _document(events: list[dict[str, object]]) -> dict[str, object]:
    return {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2024-01-01T00:00:00Z",
        "epcisBody": {"eventList": events},
    }


EVENT: dict[str, object] = {
    "type": "ObjectEvent",
    "eventTime": "2024-01-01T10:00:00+01:00",
    "eventTimeZoneOffset": "+01:00",
    "epcList": ["https://id.gs1.org/01/09521141123454/21/1"],
    "action": "OBSERVE",
    "bizStep": "shipping",
}


def test_vendored_schema_accepts_and_names_the_event_index() -> None:
    schema = load_schema()
    events = [copy.deepcopy(EVENT) for _ in range(5)]
    schema.validate(_document(events))
    events[3]["bizStep"] = "not_a_cbv_step"
    with pytest.raises(ValidationError, match=r"^event 3: /epcisBody/eventList/3/bizStep .*CBV"):
        schema.validate(_document(events))


def test_schema_is_compiled_once_per_path() -> None:
    assert load_schema() is load_schema()


# --- the fast path: events validated by the definition their type names ----------------------

EVENT_TYPES = (
    "ObjectEvent",
    "AggregationEvent",
    "TransactionEvent",
    "TransformationEvent",
    "AssociationEvent",
)


@cache
def _whole_schema() -> EpcisSchema:
    """The vendored schema validating every document whole (no dispatch of events)."""
    raw = json.loads(Path(DEFAULT_SCHEMA_PATH).read_text(encoding="utf-8"))
    return EpcisSchema(raw, source="whole", dispatch=False)


def _outcome(schema: EpcisSchema, document: object) -> tuple[str, str, str] | None:
    try:
        schema.validate(document)
    except ValidationError as exc:
        return (str(exc.rule), str(exc.pointer), str(exc))
    return None


def _variants(document: dict[str, object]) -> list[object]:
    """The document, and copies whose first event has each other type, no type, a type that is
    not a string, an extension type, or is not an object at all."""
    found: list[object] = [document]
    body = document.get("epcisBody")
    events = body.get("eventList") if isinstance(body, dict) else None
    if not isinstance(events, list) or not events:
        return found
    for kind in (*EVENT_TYPES, "ex:CustomEvent", 5, None, "missing"):
        changed = copy.deepcopy(document)
        first = changed["epcisBody"]["eventList"][0]  # type: ignore[index]
        if kind == "missing":
            first.pop("type", None)
        else:
            first["type"] = kind
        found.append(changed)
    not_object = copy.deepcopy(document)
    not_object["epcisBody"]["eventList"][0] = ["ObjectEvent"]  # type: ignore[index]
    found.append(not_object)
    return found


ALL_DOCUMENTS = [
    *vector_files("epcis/gs1-examples", "*.jsonld"),
    *vector_files("epcis/invalid", "*.json"),
    *vector_files("event-hash", "*.jsonld"),
]


def test_the_vendored_schema_takes_the_fast_path() -> None:
    assert load_schema().dispatches
    assert not _whole_schema().dispatches


def test_the_fast_path_checks_an_events_field_names_against_one_list() -> None:
    """Each event type's names and the common ones (``eventTime`` ...) merged: the fast
    schema names ``common-event-properties`` only where it defines it."""
    from medledger.epcis.schema import _merged_property_names, _without_event_dispatch

    raw = json.loads(Path(DEFAULT_SCHEMA_PATH).read_text(encoding="utf-8"))
    fast = _without_event_dispatch(raw)
    assert fast is not None
    merged = _merged_property_names(fast, fast["definitions"])
    assert json.dumps(merged).count("#/definitions/common-event-properties") == 0
    names = merged["definitions"]["ObjectEvent"]["allOf"][1]["propertyNames"]["anyOf"][0]["enum"]
    assert {"action", "epcList", "eventTime", "type", "@context"} <= set(names)


@pytest.mark.skipif(not ALL_DOCUMENTS, reason=SKIP_REASON)
@pytest.mark.parametrize(
    "path", ALL_DOCUMENTS, ids=[f"{p.parent.name}/{p.stem}" for p in ALL_DOCUMENTS]
)
def test_the_fast_path_accepts_and_refuses_as_the_whole_schema_does(path: Path) -> None:
    """Every vector, and each with its first event's type changed (to every other type, to an
    extension's, to a number, removed, the event not an object): the same outcome, and for a
    refused document the same first error (rule, pointer, message)."""
    fast, whole = load_schema(), _whole_schema()
    for document in _variants(json.loads(path.read_text(encoding="utf-8"))):
        assert _outcome(fast, document) == _outcome(whole, document)


@pytest.mark.skipif(not ALL_DOCUMENTS, reason=SKIP_REASON)
@pytest.mark.parametrize(
    "path", ALL_DOCUMENTS[:8], ids=[f"{p.parent.name}/{p.stem}" for p in ALL_DOCUMENTS[:8]]
)
def test_a_query_documents_events_are_checked_as_the_whole_schema_does(path: Path) -> None:
    """The same events in an EPCISQueryDocument (``resultsBody.eventList``), types changed too."""
    for document in _variants(json.loads(path.read_text(encoding="utf-8"))):
        if not isinstance(document, dict) or "epcisBody" not in document:
            continue
        query = {
            **{k: v for k, v in document.items() if k != "epcisBody"},
            "type": "EPCISQueryDocument",
            "epcisBody": {
                "queryResults": {
                    "queryName": "SimpleEventQuery",
                    "resultsBody": document["epcisBody"],
                }
            },
        }
        assert _outcome(load_schema(), query) == _outcome(_whole_schema(), query)
