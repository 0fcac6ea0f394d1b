"""indexer/api/epcis_routes.json_answer: the EPCIS answers' JSON is written by orjson, byte for
byte what Starlette's JSONResponse writes; what orjson would write otherwise (a ``null``, which
is how it writes ``NaN``; integers past 64 bits) goes the JSONResponse way, as before."""

from __future__ import annotations

import math
from typing import Any

import pytest
from fastapi.responses import JSONResponse

from indexer.api.epcis_routes import json_answer
from indexer.queries.events import event_of

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
