"""Where a captured document keeps its events: EPCISDocument and EPCISQueryDocument alike."""

from __future__ import annotations

from typing import Any

import pytest

from medledger.epcis.documents import event_count, event_list, relocate
from medledger.errors import ValidationError

EVENT = {"type": "ObjectEvent"}
DOCUMENT: dict[str, Any] = {"type": "EPCISDocument", "epcisBody": {"eventList": [EVENT]}}
QUERY_DOCUMENT: dict[str, Any] = {
    "type": "EPCISQueryDocument",
    "epcisBody": {"queryResults": {"queryName": "SimpleEventQuery",
                                   "resultsBody": {"eventList": [EVENT, EVENT]}}},
}  # fmt: skip
QUERY_LIST = "/epcisBody/queryResults/resultsBody/eventList"


def test_an_epcis_document_lists_its_events_in_its_body() -> None:
    listed = event_list(DOCUMENT)
    assert (listed.events, listed.pointer) == ([EVENT], "/epcisBody/eventList")


def test_a_query_document_lists_them_in_its_query_results() -> None:
    listed = event_list(QUERY_DOCUMENT)
    assert (len(listed.events), listed.pointer) == (2, QUERY_LIST)
    assert event_count(QUERY_DOCUMENT) == 2


@pytest.mark.parametrize(
    "document",
    [{"type": "EPCISMasterDataDocument", "epcisBody": {}}, {"type": "EPCISDocument"},
     {"type": "EPCISQueryDocument", "epcisBody": {"queryResults": {}}}],
)  # fmt: skip
def test_anything_else_is_refused_as_no_capturable_document(document: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as refused:
        event_list(document)
    assert (refused.value.rule, refused.value.pointer) == ("document.type", "/type")
    assert event_count(document) == 0


def test_an_errors_pointer_is_moved_to_where_the_events_are() -> None:
    error = ValidationError("bad", rule="cbv.bizStep", pointer="/epcisBody/eventList/1/bizStep")
    assert relocate(error, QUERY_LIST).pointer == f"{QUERY_LIST}/1/bizStep"
    assert relocate(error, QUERY_LIST).pointer == f"{QUERY_LIST}/1/bizStep"  # once only
    whole = ValidationError("bad", rule="document", pointer="")
    assert relocate(whole, QUERY_LIST).pointer == ""
