"""Keyset pagination: an opaque cursor holds the sort key of the last row returned."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from medledger.errors import ValidationError

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


@dataclass
class Page:
    """One page of a list: ``next`` is the cursor of the following page, None on the last."""

    items: list[dict[str, Any]]
    next: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {**self.extra, "items": self.items, "next": self.next}


def check_limit(limit: int, maximum: int = MAX_LIMIT) -> int:
    if not 1 <= limit <= maximum:
        raise ValidationError(
            f"limit must be between 1 and {maximum}, got {limit}",
            rule="query.limit",
            pointer="limit",
        )
    return limit


def encode_cursor(kind: str, key: list[Any]) -> str:
    raw = json.dumps([kind, key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str | None, types: tuple[type, ...]) -> list[Any] | None:
    """The key a cursor of ``kind`` holds (checked against ``types``), None for no cursor."""
    if cursor is None or cursor == "":
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        decoded = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error) as exc:
        raise _bad_cursor() from exc
    if (
        not isinstance(decoded, list)
        or len(decoded) != 2
        or decoded[0] != kind
        or not isinstance(decoded[1], list)
        or len(decoded[1]) != len(types)
    ):
        raise _bad_cursor()
    key: list[Any] = decoded[1]
    for value, expected in zip(key, types, strict=True):
        if not isinstance(value, expected) or isinstance(value, bool):
            raise _bad_cursor()
    return key


def _bad_cursor() -> ValidationError:
    return ValidationError(
        "cursor is not one this list gave out", rule="query.cursor", pointer="cursor"
    )


def page_of(rows: list[Any], limit: int, kind: str, key_of: Any, render: Any) -> Page:
    """``rows`` fetched with ``limit + 1``: the page and the cursor after its last row."""
    more = len(rows) > limit
    rows = rows[:limit]
    items = [render(row) for row in rows]
    return Page(items, encode_cursor(kind, key_of(rows[-1])) if more and rows else None)
