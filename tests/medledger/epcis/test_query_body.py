"""A named query's definition (GS1's query-schema.json object) read as the parameters of
GET /events, and refused as GET /events refuses them."""

from __future__ import annotations

from typing import Any

import pytest

from medledger.epcis.query_body import query_name, query_params
from medledger.errors import QueryParameterError


def test_lists_numbers_booleans_and_presence_become_parameter_values() -> None:
    query = {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "eventType": ["ObjectEvent", "AggregationEvent"],
        "GE_quantity": 5,
        "EXISTS_errorDeclaration": 1,
        "EXISTS_ILMD_cbvmda:lotNumber": None,
        "GE_errorDeclaration_Time": "2026-11-02T00:00:00Z",
    }
    assert query_params(query) == [
        ("eventType", "ObjectEvent|AggregationEvent"),
        ("GE_quantity", "5"),
        ("EXISTS_errorDeclaration", "true"),
        ("EXISTS_ILMD_cbvmda:lotNumber", ""),
        ("GE_errorDeclarationTime", "2026-11-02T00:00:00Z"),
    ]


@pytest.mark.parametrize(
    ("query", "pointer"),
    [
        ({"EQ_bizStepp": ["shipping"]}, "EQ_bizStepp"),
        ({"LT_eventTime": "2026-11-02"}, "LT_eventTime"),
        ({"nextPageToken": "x"}, "/query/nextPageToken"),
        ({"EQ_action": []}, "/query/EQ_action"),
        ({"EQ_action": [["ADD"]]}, "/query/EQ_action"),
        ("eventType=ObjectEvent", "/query"),
    ],
)
def test_what_get_events_refuses_is_refused(query: Any, pointer: str) -> None:
    with pytest.raises(QueryParameterError) as refused:
        query_params(query)
    assert refused.value.pointer == pointer


@pytest.mark.parametrize("name", ["", "a/b", "-x", "x" * 101, 5, None, "a b"])
def test_a_query_name_is_a_path_segment_without_escaping(name: Any) -> None:
    with pytest.raises(QueryParameterError):
        query_name(name)
    assert query_name("shipped.from-chuy_2~") == "shipped.from-chuy_2~"
