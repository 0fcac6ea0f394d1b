"""The pages' languages: English and Russian, chosen by ``?lang=``, else the browser's
Accept-Language, else English. Messages live in ``locales/<lang>.json``, one flat table each;
a test keeps the tables' keys equal."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Final

LOCALES_DIR: Final = Path(__file__).parent / "locales"
LANGUAGES: Final = ("en", "ru")
DEFAULT: Final = "en"


@cache
def messages(language: str) -> dict[str, str]:
    """The message table of ``language`` (one of :data:`LANGUAGES`)."""
    table: dict[str, str] = json.loads((LOCALES_DIR / f"{language}.json").read_text("utf-8"))
    return table


def choose(asked: str | None, accept_language: str) -> str:
    """``asked`` (the page's switch) if we have it, else the browser's first language we have."""
    if asked in LANGUAGES:
        return asked
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and weight > 0:
            ranked.append((-weight, position, primary))
    return min(ranked)[2] if ranked else DEFAULT
