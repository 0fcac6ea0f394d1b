"""Reason codes read as text beside the number."""

from __future__ import annotations

from medledger.recall_reasons import describe, reason_text


def test_codes_read_as_text_and_unknown_codes_as_numbers() -> None:
    assert describe(7) == "out of specification (code 7)"
    assert describe(2, recalled=False) == "cleared after testing (code 2)"
    assert describe(412) == "code 412" and reason_text(412) is None
    assert describe(None) == "no reason code"
