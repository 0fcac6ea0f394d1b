"""indexer/api/epcis_routes.json_answer: the EPCIS answers' JSON is written by orjson, byte for
byte what Starlette's JSONResponse writes; what orjson would write otherwise (a ``null``, which
is how it writes ``NaN``; integers past 64 bits) goes the JSONResponse way, as before. A page of
events (indexer/queries/events.EventsAnswer.json_body) is spliced from the stored events' text:
the same JSON as the document read and written, or None where that cannot be."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.responses import JSONResponse

from indexer.api.epcis_routes import json_answer
from indexer.queries.events import EPCIS_CONTEXT, EventsAnswer, _Row, event_of

DOCUMENT: dict[str, Any] = {
    "type": "EPCISQueryDocument",
    "epcisBody": {
        "eventList": [
            {"bizLocation": {"id": "urn:epc:id:sgln:4700123.10000.0"}, "ilmd": {"é": "Бишкек"}},
            {"quantityList": [{"quantity": 12.5, "uom": "KGM"}, {"quantity": 1e16}]},
        ]
    },
}


def test_the_bytes_are_json_response_s_bytes() -> None:
    answer = json_answer(DOCUMENT, {"GS1-EPCIS-Version": "2.0.0"})
    expected = JSONResponse(DOCUMENT, headers={"GS1-EPCIS-Version": "2.0.0"})
    assert answer.body == expected.body
    assert answer.media_type == "application/json"
    assert answer.headers["gs1-epcis-version"] == "2.0.0"


@pytest.mark.parametrize("value", [None, 2**70])
def test_a_null_or_a_huge_integer_goes_the_json_response_way(value: Any) -> None:
    document = {"eventList": [{"quantity": value}]}
    answer = json_answer(document, {})
    assert isinstance(answer, JSONResponse)
    assert answer.body == JSONResponse(document).body


def test_a_nan_is_refused_as_before() -> None:
    with pytest.raises(ValueError):
        json_answer({"eventList": [{"quantity": math.nan}]}, {})


def test_an_event_orjson_cannot_read_is_read_by_json() -> None:
    assert event_of('{"quantity":1180591620717411303424}') == {"quantity": 2**70}
    assert math.isnan(event_of('{"quantity":NaN}')["quantity"])
    assert event_of('{"a":"Бишкек","b":12.5}') == {"a": "Бишкек", "b": 12.5}


def _row(
    n: int, raw: str, *, declared: bool = False, block_timestamp: int | None = 1_700_000_000
) -> _Row:
    when = datetime(2026, 11, 2, tzinfo=UTC)
    return _Row(n, bytes([n]) * 32, raw, when, block_timestamp, declared)


CONTEXT = json.dumps(EPCIS_CONTEXT, separators=(",", ":"))
STORED = [
    '{"action":"ADD","bizStep":"commissioning","ilmd":{"é":"Бишкек"},"type":"ObjectEvent"}',
    '{"@context":' + CONTEXT + ',"type":"ObjectEvent"}',  # the document's context: dropped
    '{"@context":[{"ex":"https://example.org/ns/"}],"ex:t":5,"type":"ObjectEvent"}',
    '{"eventID":"urn:uuid:captured-with-one","type":"ObjectEvent"}',
    '{"quantity":1180591620717411303424,"type":"ObjectEvent"}',
    '{"quantityList":[{"quantity":12.5,"uom":"KGM"}],"type":"ObjectEvent","x":null}',
    "{}",
]


def answers(rows: list[_Row], declared: dict[bytes, list[dict[str, Any]]]) -> tuple[Any, Any]:
    spliced = EventsAnswer([(r, None) for r in rows], declared, None)
    read = EventsAnswer([(r, None) for r in rows], declared, None)
    read.created = spliced.created
    return spliced.json_body(), read.document


def test_a_page_spliced_from_the_stored_text_is_the_document_read_and_written() -> None:
    rows = [_row(i, raw) for i, raw in enumerate(STORED[:4])]
    rows += [_row(4, STORED[6], block_timestamp=None)]
    declaration = {"declarationTime": "2026-11-03T00:00:00Z", "reason": "incorrect_data"}
    rows += [_row(5, STORED[0], declared=True)]  # declared later: read, the declaration added
    body, document = answers(rows, {bytes([5]) * 32: [declaration]})
    assert body is not None
    assert json.loads(body) == document
    events = document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert "@context" not in events[1] and events[2]["@context"] == [
        {"ex": "https://example.org/ns/"}
    ]
    assert events[3]["eventID"] == "urn:uuid:captured-with-one"
    assert events[5]["errorDeclaration"] == declaration


@pytest.mark.parametrize(
    "raw", ['{"quantity":NaN,"type":"ObjectEvent"}', '{"eventID":"x","quantity":NaN}']
)
def test_what_orjson_would_write_otherwise_is_left_to_the_document(raw: str) -> None:
    body, _document = answers([_row(1, raw)], {})
    assert body is None


def test_a_huge_integer_or_a_null_as_stored_is_spliced_as_it_is() -> None:
    body, document = answers([_row(1, STORED[4]), _row(2, STORED[5])], {})
    assert body is not None and b"1180591620717411303424" in body
    assert json.loads(body) == document
