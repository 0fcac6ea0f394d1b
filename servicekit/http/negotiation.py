"""Content negotiation shared by both services: whether an ``Accept`` header lets a JSON
answer through (both answer JSON only; EPCIS XML answers are not written yet)."""

from __future__ import annotations

JSON_TYPES = ("application/json", "application/ld+json")
_ACCEPTED_RANGES = {"*/*", "application/*", *JSON_TYPES, "application/problem+json"}
_ZERO = ("q=0", "q=0.0", "q=0.00", "q=0.000")


def accepts_json(accept: str | None) -> bool:
    """Whether ``accept`` allows a JSON answer (no header, or an empty one: anything goes)."""
    if not accept or not accept.strip():
        return True
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        refused = any(p.replace(" ", "") in _ZERO for p in params)
        if media.lower() in _ACCEPTED_RANGES and not refused:
            return True
    return False
