"""A report as printable HTML (:mod:`indexer.queries.reports`): one page, every section, the
chain height and the anchors, for the dashboard (``/dashboard/reports/print``) and for
``provenance report --format html`` (which writes a file: its styles inline)."""

from __future__ import annotations

from typing import Any

from dashboard.i18n import messages
from dashboard.render import STATIC_DIR, STATIC_PATH, environment
from dashboard.stock_page import region_name
from dashboard.stock_view import UNKNOWN
from indexer.queries.reports import totals


def context(found: dict[str, Any], language: str) -> dict[str, Any]:
    """What ``report_body.html`` reads besides the messages."""
    unknown = messages(language)["stock.no_region"]
    return {
        "found": found,
        "totals": totals(found),
        "region_label": lambda code: region_name(code or UNKNOWN, unknown),
    }


def printable(found: dict[str, Any], language: str, *, standalone: bool) -> str:
    """The whole page; ``standalone``: styles inline (a file read without the service)."""
    css = (STATIC_DIR / "pages.css").read_text(encoding="utf-8") if standalone else None
    return (
        environment()
        .get_template("report_print.html")
        .render(
            lang=language,
            t=messages(language),
            static_path=STATIC_PATH,
            inline_css=css,
            **context(found, language),
        )
    )
