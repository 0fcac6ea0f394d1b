"""``provenance report``: a regulator's report for a period, region and product, from the
indexer (``GET /reports``: docs/indexer.md, "Reports"), written as CSV, JSON or printable HTML
(the dashboard's page, its styles inline) to stdout or a file. Every form carries the chain
height and the anchors the figures rest on.

Exit code 0 when written; 2 when an option or the key file is unusable, or the indexer cannot
be reached, refuses the key or the request (its problem's words are printed)."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Any, Literal

import httpx
from rich.console import Console

from dashboard.report_html import printable
from indexer.queries.reports import as_csv
from provenance.exits import EXIT_OK, EXIT_UNUSABLE, print_unusable
from provenance.http import Service, ServiceError, problem, read_key
from provenance.options import DEFAULT_INDEXER_URL, INDEXER_READER_KEY_FILES

Format = Literal["csv", "json", "html"]
#: A month of a million-event network takes seconds (docs/benchmarks.md): allow a minute.
REPORT_TIMEOUT = 60.0


class ReportError(Exception):
    """The report cannot be made (exit code 2)."""


def fetch(
    indexer: Service, first: date, last: date, region: str | None, gtin: str | None
) -> dict[str, Any]:
    params = {"from": first.isoformat(), "to": last.isoformat()}
    params |= {k: v for k, v in (("region", region), ("gtin", gtin)) if v}
    response = indexer.get("/reports", params=params)
    if response.status_code != 200:
        raise ReportError(f"the indexer answered {response.status_code}: {problem(response)}")
    try:
        body = response.json()
    except ValueError as exc:
        raise ReportError("the indexer's answer is not JSON") from exc
    if not isinstance(body, dict) or "chain" not in body:
        raise ReportError("the indexer's answer is not a report")
    return body


def run(
    *,
    first: str,
    last: str,
    region: str | None = None,
    gtin: str | None = None,
    output: Format = "csv",
    out_file: Path | None = None,
    language: str = "en",
    indexer_url: str = DEFAULT_INDEXER_URL,
    key_file: Path = INDEXER_READER_KEY_FILES[0],
    client: httpx.Client | None = None,
    console: Console | None = None,
) -> int:
    """Fetch and write the report; the exit code."""
    console = console or Console(stderr=True, highlight=False)
    try:
        try:
            start, end = date.fromisoformat(first), date.fromisoformat(last)
        except ValueError as exc:
            raise ReportError(f"--from and --to are dates (YYYY-MM-DD): {exc}") from exc
        api_key = read_key(key_file)
        with Service.using(
            "indexer", client, indexer_url, timeout=REPORT_TIMEOUT, api_key=api_key
        ) as indexer:
            found = fetch(indexer, start, end, region, gtin)
    except (ReportError, ServiceError) as exc:
        print_unusable(console, str(exc))
        return EXIT_UNUSABLE
    if output == "json":
        text = json.dumps(found, indent=2) + "\n"
    elif output == "html":
        text = printable(found, language, standalone=True)
    else:
        text = as_csv(found)
    if out_file is None:
        sys.stdout.write(text)
    else:
        out_file.write_text(text, encoding="utf-8", newline="")
        console.print(
            f"report written to {out_file} (chain height {found['chain']['blockNumber']})"
        )
    return EXIT_OK
