"""An event's rows, and their ``COPY`` text written with each column's type known, are what the
generic ``COPY`` writer makes of the same rows; the stored JSON is the event, exactly."""

from __future__ import annotations

import json
import math
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from indexer.event_rows import event_line, event_row, item_lines, item_rows, raw_json
from indexer.store.copy_text import copy_line, copy_lines
from indexer.verification import AnchorFacts, event_digest
from medledger.epcis.normalise import normalise_event
from provenance.journey import build_journey

FACTS = AnchorFacts(
    root=bytes(range(32)),
    submitter="0x" + "ab" * 20,
    event_count=0,
    tx_hash="0x" + "cd" * 32,
    block_number=123_456,
)


def journey_events() -> list[dict[str, Any]]:
    return [event for step in build_journey(pack_count=12, packs_per_case=4).steps
            for event in step.events]  # fmt: skip


def test_every_journey_event_gives_the_same_copy_text_as_the_generic_writer() -> None:
    events = journey_events()
    assert {e["type"] for e in events} >= {"ObjectEvent", "AggregationEvent",
                                           "TransformationEvent"}  # fmt: skip
    with_quantities = 0
    for position, event in enumerate(events):
        ev = normalise_event(event, position)
        digest = event_digest(event)
        seq = 10**12 + position
        row = event_row(ev, digest, bytes(32), event, seq, FACTS)
        items = item_rows(ev, digest, seq, FACTS.block_number)
        with_quantities += any(item[5] is not None for item in items)
        assert event_line(row) == copy_line(row).encode("utf-8")
        assert item_lines(items) == copy_lines(items)
    assert with_quantities  # the API lot's kilograms went through the quantity column


def test_awkward_text_and_missing_values_are_written_as_the_generic_writer_does() -> None:
    event = {"type": "ObjectEvent", "note": "tab\there\nnewline \\ backslash Бишкек \u2028"}
    awkward = (
        b"\x01" * 32, 1, 2, b"\xff" * 32, "0xSubmitter\t", b"\x00" * 32, "ObjectEvent",
        None, "urn:x:step\\", None, datetime.fromisoformat(
            "2026-11-02T08:00:00.123456+06:00"), None, "loc\n", None, "dest", raw_json(event),
    )  # fmt: skip
    assert event_line(awkward) == copy_line(awkward).encode("utf-8")
    items = [("id\\1", 5, "epc", b"\x02" * 32, 2, None, None),
             ("id 2", 5, "quantity", b"\x02" * 32, 2, Decimal("1E+3"), "KGM")]  # fmt: skip
    assert item_lines(items) == copy_lines(items)
    assert item_lines([]) == b""


@pytest.mark.parametrize(
    "event",
    [
        {"b": 1, "a": {"z": [1.5, -0.0, 1e20], "y": "é ✓ 比"}, "c": None},
        {"quantity": 2**70, "t": "big integer"},
        {"quantity": float("nan"), "other": float("inf"), "n": -math.inf},
        {"text": 'line\u2028separator \x7f and "quotes" and \\'},
    ],
)
def test_the_stored_json_reads_back_as_the_event_with_its_keys_sorted(
    event: dict[str, Any],
) -> None:
    raw = raw_json(event)
    again = json.loads(raw)
    assert json.dumps(again, sort_keys=True) == json.dumps(event, sort_keys=True)
    assert raw == json.dumps(event, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
