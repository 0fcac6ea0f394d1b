"""Reason codes read as text beside the number."""

from __future__ import annotations

from medledger.recall_reasons import describe, describe_suspension, reason_text


def test_codes_read_as_text_and_unknown_codes_as_numbers() -> None:
    assert describe(7) == "out of specification (code 7)"
    assert describe(2, recalled=False) == "cleared after testing (code 2)"
    assert describe(412) == "code 412" and reason_text(412) is None
    assert describe(None) == "no reason code"


def test_suspension_codes_read_as_text() -> None:
    assert describe_suspension(1) == "adverse reactions reported (code 1)"
    assert describe_suspension(3, lifted=True) == "suspended in error (code 3)"
    assert describe_suspension(99) == "code 99" and describe_suspension(None) == "no reason code"
