"""``PROVENANCE_INDEXER_SHORTAGE_DAYS``: a default, then ``ATC=days`` per product class, the
longest ATC prefix winning; anything else is refused at start-up with what is wrong."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from indexer.settings import IndexerSettings
from indexer.supply_thresholds import Thresholds


@pytest.mark.parametrize(
    ("atc", "days"),
    [(None, 7.0), ("A02BC01", 7.0), ("J01CA04", 14.0), ("N02BE01", 5.0), ("n02be01", 5.0)],
)
def test_the_longest_atc_prefix_wins(atc: str | None, days: float) -> None:
    assert Thresholds.parse("7; J01=14; N02=10; N02BE=5").for_atc(atc) == days


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("J01=14", "no default"),
        ("seven", "not a number"),
        ("0", "more than 0"),
        ("7;J-01=3", "not an ATC code prefix"),
    ],
)
def test_a_bad_setting_is_refused_naming_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Thresholds.parse(text)
    with pytest.raises(ValidationError, match=message):
        IndexerSettings(shortage_days=text)
