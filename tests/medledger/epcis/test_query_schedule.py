"""A scheduled subscription's schedule: fields, their lists, ranges and steps, what an omitted
field means, and the next time it runs (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from medledger.epcis.query_schedule import parse_schedule
from medledger.errors import SubscriptionControlsError

NOW = datetime(2026, 12, 4, 15, 0, 0, tzinfo=UTC)  # a Friday


@pytest.mark.parametrize(
    ("schedule", "after", "runs_at"),
    [
        ({"hour": "1", "minute": "5"}, NOW, datetime(2026, 12, 5, 1, 5, tzinfo=UTC)),
        ({"second": "0/30"}, NOW, datetime(2026, 12, 4, 15, 0, 30, tzinfo=UTC)),
        ({"minute": "[10-12],40"}, NOW, datetime(2026, 12, 4, 15, 10, tzinfo=UTC)),
        ({"minute": "10-12"}, datetime(2026, 12, 4, 15, 12, tzinfo=UTC),
         datetime(2026, 12, 4, 16, 10, tzinfo=UTC)),
        ({"dayOfWeek": "1", "hour": "9"}, NOW, datetime(2026, 12, 7, 9, tzinfo=UTC)),
        ({"month": "2"}, NOW, datetime(2027, 2, 1, tzinfo=UTC)),
        ({"dayOfMonth": "31"}, NOW, datetime(2026, 12, 31, tzinfo=UTC)),
        ({"month": "2", "dayOfMonth": "29"}, NOW, datetime(2028, 2, 29, tzinfo=UTC)),
        ({"second": 0, "minute": 0}, NOW, datetime(2026, 12, 4, 16, tzinfo=UTC)),
    ],
)  # fmt: skip
def test_the_next_run_is_the_first_matching_second_after(
    schedule: dict[str, Any], after: datetime, runs_at: datetime
) -> None:
    assert parse_schedule(schedule, NOW).next_after(after) == runs_at


@pytest.mark.parametrize(
    ("schedule", "pointer"),
    [
        ({}, "/schedule"),
        ([], "/schedule"),
        ({"hour": "24"}, "/schedule/hour"),
        ({"minute": "five"}, "/schedule/minute"),
        ({"second": "[5-1]"}, "/schedule/second"),
        ({"dayOfWeek": "0"}, "/schedule/dayOfWeek"),
        ({"minute": ""}, "/schedule/minute"),
        ({"minute": True}, "/schedule/minute"),
        ({"year": "2027"}, "/schedule/year"),
        ({"month": "2", "dayOfMonth": "30"}, "/schedule"),
    ],
)
def test_a_malformed_or_never_due_schedule_is_refused(schedule: Any, pointer: str) -> None:
    with pytest.raises(SubscriptionControlsError) as refused:
        parse_schedule(schedule, NOW)
    assert refused.value.pointer == pointer
