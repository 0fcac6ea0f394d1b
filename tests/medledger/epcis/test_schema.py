from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from medledger.epcis.schema import event_index, load_schema
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
