"""A scheduled subscription's schedule (the EPCIS 2.0 REST binding's ``schedule``, EPCIS's
QuerySchedule), read and run forward (pure).

Six fields, each a string: ``second`` (0-59), ``minute`` (0-59), ``hour`` (0-23),
``dayOfMonth`` (1-31), ``month`` (1-12), ``dayOfWeek`` (1-7, 1 is Monday). A field's value is a
comma-separated list of elements, each a number (``5``), a range (``[1-5]``, as the standard
writes it, or ``1-5``) or a start and step (``0/30``: 0, 30; as the binding's example writes
it). A time matches when every field matches, in UTC.

A field left out matches every value when it is coarser than the finest field given, and only
its first value (second 0, minute 0, hour 0, day 1) when it is finer: ``{"hour": "1", "minute":
"5"}`` is every day at 01:05:00 (the binding's "every morning at 1.05am"), ``{"dayOfWeek": "1"}``
every Monday at 00:00:00. ``dayOfMonth`` and ``dayOfWeek`` given together must both match. A
schedule that never matches (``{"month": "2", "dayOfMonth": "30"}``) is refused, as is anything
malformed: :class:`SubscriptionControlsError` with pointer ``/schedule/<field>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from medledger.errors import SubscriptionControlsError, echo

#: field -> (lowest, highest), finest first
FIELDS: dict[str, tuple[int, int]] = {
    "second": (0, 59),
    "minute": (0, 59),
    "hour": (0, 23),
    "dayOfMonth": (1, 31),
    "dayOfWeek": (1, 7),
    "month": (1, 12),
}
#: how fine each field is (dayOfMonth and dayOfWeek alike)
_RANK = {"second": 0, "minute": 1, "hour": 2, "dayOfMonth": 3, "dayOfWeek": 3, "month": 4}
_ELEMENT = re.compile(r"^(?:(\d{1,2})|\[?(\d{1,2})-(\d{1,2})\]?|(\d{1,2})/(\d{1,2}))$")
#: the farthest a next run may be (a leap day on a Monday is rarer than that: 28 years)
_HORIZON_DAYS = 366 * 29


def _fail(name: str, message: str) -> SubscriptionControlsError:
    return SubscriptionControlsError(
        message, rule="subscription.schedule", pointer=f"/schedule/{name}".rstrip("/")
    )


def _values(name: str, text: Any) -> frozenset[int]:
    low, high = FIELDS[name]
    if isinstance(text, int) and not isinstance(text, bool):
        text = str(text)
    if not isinstance(text, str) or not text.strip():
        raise _fail(name, f"{name}: a string of numbers, ranges [a-b] and steps a/b")
    out: set[int] = set()
    for part in text.replace(" ", "").split(","):
        m = _ELEMENT.match(part)
        if m is None:
            raise _fail(name, f"{name}: {echo(part)} is not a number, a range [a-b] or a/b")
        if m.group(1) is not None:
            first, last, step = int(m.group(1)), int(m.group(1)), 1
        elif m.group(2) is not None:
            first, last, step = int(m.group(2)), int(m.group(3)), 1
        else:
            first, last, step = int(m.group(4)), high, int(m.group(5))
        if not low <= first <= last <= high or step < 1:
            raise _fail(name, f"{name}: {echo(part)} is outside {low} to {high}")
        out.update(range(first, last + 1, step))
    return frozenset(out)


@dataclass(frozen=True)
class Schedule:
    """The values each field matches (see the module docstring for omitted fields)."""

    second: frozenset[int]
    minute: frozenset[int]
    hour: frozenset[int]
    day_of_month: frozenset[int]
    day_of_week: frozenset[int]
    month: frozenset[int]

    def _day(self, day: date) -> bool:
        return (
            day.month in self.month
            and day.day in self.day_of_month
            and day.isoweekday() in self.day_of_week
        )

    def next_after(self, moment: datetime) -> datetime | None:
        """The first matching time strictly after ``moment`` (UTC, whole seconds), or None if
        there is none within 29 years."""
        moment = moment.astimezone(UTC)
        start = moment.replace(microsecond=0)
        day = start.date()
        for _ in range(_HORIZON_DAYS):
            if self._day(day):
                for h in sorted(self.hour):
                    for m in sorted(self.minute):
                        for s in sorted(self.second):
                            at = datetime(day.year, day.month, day.day, h, m, s, tzinfo=UTC)
                            if at > moment:
                                return at
            day += timedelta(days=1)
        return None


def parse_schedule(given: Any, now: datetime | None = None) -> Schedule:
    """The :class:`Schedule` of the binding's ``schedule`` object (refused if malformed or if
    it never matches)."""
    if not isinstance(given, dict) or not given:
        raise _fail("", "schedule: an object of second, minute, hour, dayOfMonth, month, dayOfWeek")
    unknown = sorted(set(given) - set(FIELDS))
    if unknown:
        raise _fail(unknown[0][:50], f"not a schedule field: {echo(unknown[0])}")
    finest = min(_RANK[name] for name in given)
    fields: dict[str, frozenset[int]] = {}
    for name, (low, high) in FIELDS.items():
        if name in given:
            fields[name] = _values(name, given[name])
        elif _RANK[name] < finest and name != "dayOfWeek":
            fields[name] = frozenset({low})
        else:
            fields[name] = frozenset(range(low, high + 1))
    schedule = Schedule(
        second=fields["second"],
        minute=fields["minute"],
        hour=fields["hour"],
        day_of_month=fields["dayOfMonth"],
        day_of_week=fields["dayOfWeek"],
        month=fields["month"],
    )
    if schedule.next_after(now or datetime.now(UTC)) is None:
        raise _fail("", "this schedule never matches a day of the calendar")
    return schedule
