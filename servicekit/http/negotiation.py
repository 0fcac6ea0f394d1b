"""Content negotiation shared by both services: whether an ``Accept`` header lets a JSON
answer through, and, where an answer also has an EPCIS XML form (the indexer's event queries),
which of the two it prefers."""

from __future__ import annotations

from typing import Literal

JSON_TYPES = ("application/json", "application/ld+json")
XML_TYPES = ("application/xml", "text/xml")
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


def preferred_format(accept: str | None) -> Literal["json", "xml"] | None:
    """``json`` or ``xml``, whichever ``accept`` weighs higher (JSON on a tie, and when there is
    no header or an empty one); None when it allows neither."""
    if not accept or not accept.strip():
        return "json"
    best = {"json": 0.0, "xml": 0.0}
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        weight = 1.0
        for param in params:
            name, _, value = param.replace(" ", "").partition("=")
            if name.lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        media = media.lower()
        kinds = {"*/*": ("json", "xml"), "application/*": ("json", "xml"), "text/*": ("xml",)}.get(
            media,
            ("json",) if media in _ACCEPTED_RANGES else ("xml",) if media in XML_TYPES else (),
        )
        for kind in kinds:
            best[kind] = max(best[kind], weight)
    if best["json"] > 0 and best["json"] >= best["xml"]:
        return "json"
    return "xml" if best["xml"] > 0 else None
