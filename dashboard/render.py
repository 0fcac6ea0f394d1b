"""Jinja2 templates (autoescaped) with what every page needs: its language's messages, the
language switch, and where the static files are."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

from fastapi import Request
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from dashboard.i18n import LANGUAGES, messages

TEMPLATES_DIR: Final = Path(__file__).parent / "templates"
STATIC_DIR: Final = Path(__file__).parent / "static"
STATIC_PATH: Final = "/static/pages"

#: No script runs on these pages; styles and images come from the service alone; the code a
#: person typed (in the URL) is not sent on to other sites.
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@cache
def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(request: Request, template: str, language: str, **context: Any) -> str:
    """``template`` in ``language``, with the switch to the other languages on the same URL."""

    def switch_url(code: str) -> str:
        query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
        return f"{request.url.path}?{urlencode([*query, ('lang', code)])}"

    return (
        environment()
        .get_template(template)
        .render(
            lang=language,
            t=messages(language),
            languages=[(code, messages(code)["lang.name"]) for code in LANGUAGES],
            switch_url=switch_url,
            static_path=STATIC_PATH,
            **context,
        )
    )
