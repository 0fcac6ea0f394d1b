"""``provenance alerts``: the indexer's alerts (``GET /alerts``, newest first), as a table or
JSON, with an exit code a script can alarm on.

Exit codes: **0** no alert matches; **1** some do; **2** unusable input (a bad option, an
unreadable key file), an indexer that cannot be reached, refuses the key (401, 403) or answers
something else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from indexer.alert_kinds import ALERT_KINDS, SEVERITIES

DEFAULT_INDEXER = "http://127.0.0.1:8001"
DEFAULT_KEY_FILE = Path("data/indexer/indexer-reader.api-key")
DEFAULT_LIMIT = 100
PAGE_MAX = 1000  # the indexer's largest page
TIMEOUT = 10.0

EXIT_NONE = 0
EXIT_SOME = 1
EXIT_UNUSABLE = 2

_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


class AlertsError(Exception):
    """The alerts cannot be listed (exit code 2)."""


@dataclass
class Listing:
    items: list[dict[str, Any]] = field(default_factory=list)
    more: bool = False  # the indexer has more matching alerts than --limit


def read_key(path: Path) -> str:
    try:
        key = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise AlertsError(f"cannot read the key file {path}: {exc.strerror}") from exc
    if not key:
        raise AlertsError(f"the key file {path} is empty")
    return key


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or body)[:300]
    return str(body)[:300]


def fetch(
    client: httpx.Client,
    api_key: str,
    *,
    kind: str | None = None,
    severity: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Listing:
    """Up to ``limit`` matching alerts, following the ``next`` cursors (raises AlertsError)."""
    listing = Listing()
    headers = {"Authorization": f"Bearer {api_key}"}
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": min(PAGE_MAX, limit - len(listing.items))}
        if kind is not None:
            params["kind"] = kind
        if severity is not None:
            params["severity"] = severity
        if cursor is not None:
            params["cursor"] = cursor
        try:
            response = client.get("/alerts", params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise AlertsError(f"the indexer does not answer: {exc}") from exc
        if response.status_code in (401, 403):
            raise AlertsError(
                f"the indexer refuses the key ({response.status_code}): {_problem(response)}"
            )
        if response.status_code != 200:
            raise AlertsError(f"the indexer answered {response.status_code}: {_problem(response)}")
        try:
            body = response.json()
        except ValueError as exc:
            raise AlertsError("the indexer's answer is not JSON") from exc
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise AlertsError("the indexer's answer has no list of alerts")
        listing.items.extend(i for i in items if isinstance(i, dict))
        cursor = body.get("next")
        if not isinstance(cursor, str) or not items:
            return listing
        if len(listing.items) >= limit:
            listing.items = listing.items[:limit]
            listing.more = True
            return listing


def render(console: Console, listing: Listing) -> None:
    """A table for a person: kind, severity, subject, message, block."""
    if not listing.items:
        console.print("[green]no alerts match[/green]")
        return
    table = Table(show_lines=False, highlight=False)
    for name in ("kind", "severity", "subject", "message", "block"):
        table.add_column(name, overflow="fold", justify="right" if name == "block" else "left")
    for alert in listing.items:
        severity = str(alert.get("severity"))
        style = _STYLE.get(severity, "")
        table.add_row(
            escape(str(alert.get("kind"))),
            f"[{style}]{escape(severity)}[/{style}]" if style else escape(severity),
            escape(str(alert.get("subject") or "-")),
            escape(str(alert.get("message"))),
            str(alert.get("blockNumber")),
        )
    console.print(table)
    count = len(listing.items)
    tail = f" (more beyond --limit {count})" if listing.more else ""
    console.print(f"{count} alert{'s' if count != 1 else ''}{tail}")


def run(
    *,
    indexer_url: str = DEFAULT_INDEXER,
    key_file: Path = DEFAULT_KEY_FILE,
    kind: str | None = None,
    severity: str | None = None,
    limit: int = DEFAULT_LIMIT,
    as_json: bool = False,
    client: httpx.Client | None = None,
    console: Console | None = None,
) -> int:
    """List the alerts; print them; return the exit code."""
    console = console or Console(soft_wrap=True, highlight=False)
    try:
        if severity is not None and severity not in SEVERITIES:
            allowed = ", ".join(SEVERITIES)
            raise AlertsError(f"--severity must be one of {allowed}, got {severity!r}")
        if limit < 1:
            raise AlertsError(f"--limit must be at least 1, got {limit}")
        if kind is not None and kind not in ALERT_KINDS:
            allowed = ", ".join(ALERT_KINDS)
            raise AlertsError(f"--kind must be one of {allowed}, got {kind!r}")
        api_key = read_key(key_file)
        own = client is None
        http = client or httpx.Client(base_url=indexer_url.rstrip("/"), timeout=TIMEOUT)
        try:
            listing = fetch(http, api_key, kind=kind, severity=severity, limit=limit)
        finally:
            if own:
                http.close()
    except AlertsError as exc:
        if as_json:
            console.print_json(json.dumps({"error": str(exc)}))
        else:
            console.print(f"[red]unusable[/red] {escape(str(exc))}")
        return EXIT_UNUSABLE
    if as_json:
        console.print_json(json.dumps({"items": listing.items, "more": listing.more}))
    else:
        render(console, listing)
    return EXIT_SOME if listing.items else EXIT_NONE
