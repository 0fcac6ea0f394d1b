"""``provenance alerts``: the indexer's alerts (``GET /alerts``, newest first), as a table or
JSON, with an exit code a script can alarm on.

Exit codes: **0** no alert matches; **1** some do; **2** unusable input (a bad option, an
unreadable key file), an indexer that cannot be reached, refuses the key (401, 403) or answers
something else.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import httpx
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from indexer.alert_kinds import ALERT_KINDS, SEVERITIES
from provenance.exits import EXIT_NONE, EXIT_SOME, EXIT_UNUSABLE, print_unusable
from provenance.http import (
    ALERTS_TIMEOUT,
    Service,
    ServiceError,
    problem,
    read_key,
)
from provenance.options import DEFAULT_INDEXER_URL, INDEXER_READER_KEY_FILES

DEFAULT_KEY_FILE = INDEXER_READER_KEY_FILES[0]
DEFAULT_LIMIT = 100
PAGE_MAX = 1000  # the indexer's largest page

_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


class AlertsError(Exception):
    """The alerts cannot be listed (exit code 2)."""


@dataclass
class Listing:
    items: list[dict[str, Any]] = field(default_factory=list)
    more: bool = False  # the indexer has more matching alerts than --limit
    #: who the alerts name, by lower-case address (name, GLN, roles: each page's `participants`)
    participants: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the locations they name with master data (name, region, city: each page's `locations`)
    locations: dict[str, dict[str, Any]] = field(default_factory=dict)


def fetch(
    indexer: Service,
    *,
    kind: str | None = None,
    severity: str | None = None,
    region: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Listing:
    """Up to ``limit`` matching alerts (``region``: those concerning it), following the
    ``next`` cursors (raises AlertsError, or ServiceError if the indexer does not answer)."""
    listing = Listing()
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": min(PAGE_MAX, limit - len(listing.items))}
        if kind is not None:
            params["kind"] = kind
        if severity is not None:
            params["severity"] = severity
        if region is not None:
            params["region"] = region
        if cursor is not None:
            params["cursor"] = cursor
        response = indexer.get("/alerts", params=params)
        if response.status_code in (401, 403):
            raise AlertsError(
                f"the indexer refuses the key ({response.status_code}): {problem(response)}"
            )
        if response.status_code != 200:
            raise AlertsError(f"the indexer answered {response.status_code}: {problem(response)}")
        try:
            body = response.json()
        except ValueError as exc:
            raise AlertsError("the indexer's answer is not JSON") from exc
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise AlertsError("the indexer's answer has no list of alerts")
        listing.items.extend(i for i in items if isinstance(i, dict))
        named = body.get("participants")
        if isinstance(named, dict):
            for address, record in named.items():
                if isinstance(address, str) and isinstance(record, dict):
                    listing.participants[address.lower()] = record
        places = body.get("locations")
        if isinstance(places, dict):
            listing.locations.update(
                (uri, record) for uri, record in places.items() if isinstance(record, dict)
            )
        cursor = body.get("next")
        if not isinstance(cursor, str) or not items:
            return listing
        if len(listing.items) >= limit:
            listing.items = listing.items[:limit]
            listing.more = True
            return listing


ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
#: Below this many columns an alert is a block of lines (a terminal of 80 columns showed 4
#: alerts in 45 wrapped lines of a five-column table); at or above, a table.
TABLE_MIN_WIDTH = 120
CSV_COLUMNS = (
    "key", "kind", "severity", "blockNumber", "subject", "message", "participants", "regions",
)  # fmt: skip


def fetch_participants(indexer: Service) -> dict[str, dict[str, Any]]:
    """Every participant of the registry by lower-case address (GLN, roles); empty if the
    indexer will not say (the alerts are shown anyway, with bare addresses)."""
    found: dict[str, dict[str, Any]] = {}
    cursor: str | None = None
    for _ in range(100):  # at most 100,000 participants
        params: dict[str, Any] = {"limit": PAGE_MAX}
        if cursor is not None:
            params["cursor"] = cursor
        try:
            response = indexer.get("/participants", params=params)
            body = response.json() if response.status_code == 200 else {}
        except (ServiceError, ValueError):
            return found
        for item in body.get("items") or []:
            if isinstance(item, dict) and isinstance(item.get("address"), str):
                found[item["address"].lower()] = item
        cursor = body.get("next")
        if not isinstance(cursor, str):
            return found
    return found


def who(address: str, participants: dict[str, dict[str, Any]]) -> str:
    """``Kyrgyz Pharm, GLN 4700123100002 manufacturer, KG-C (0x99c3…7d60)`` (the registered
    name, else its site's master data name; none known: ``GLN 4700123100002 manufacturer
    (0x99c3…7d60)``; the region its site's master data gives, else its registered one, when
    known), or the short address alone."""
    short = f"{address[:6]}…{address[-4:]}"
    known = participants.get(address.lower())
    if not known:
        return short
    roles = "/".join(str(r) for r in known.get("roles") or [])
    site = known.get("site") if isinstance(known.get("site"), dict) else {}
    called = known.get("name") or (site or {}).get("name")  # else its site's master data name
    name = f"{called}, " if called else ""
    region = (site or {}).get("region") or known.get("region")
    where = f", {region}" if region else ""
    return f"{name}GLN {known.get('gln')} {roles}{where} ({short})".replace("  ", " ")


def regions(alert: dict[str, Any]) -> str:
    """The regions an alert concerns (the indexer's ``regions``), or ``-``."""
    found = alert.get("regions")
    return ", ".join(str(r) for r in found) if isinstance(found, list) and found else "-"


def readable(text: str, participants: dict[str, dict[str, Any]]) -> str:
    """Every address in ``text`` with the GLN and roles of its participant beside it."""
    return ADDRESS.sub(lambda m: who(m.group(0), participants), text)


def named(alert: dict[str, Any]) -> list[str]:
    """The addresses an alert names (message, evidence), in order, each once."""
    text = f"{alert.get('message')} {json.dumps(alert.get('evidence'))}"
    return list(dict.fromkeys(a.lower() for a in ADDRESS.findall(text)))


def render(
    console: Console, listing: Listing, participants: dict[str, dict[str, Any]] | None = None
) -> None:
    """For a person: a table on a wide terminal, a block of lines per alert on a narrow one;
    addresses with the GLN and roles of their participant."""
    participants = participants or {}
    if not listing.items:
        console.print("[green]no alerts match[/green]")
        return
    if console.width >= TABLE_MIN_WIDTH:
        _table(console, listing, participants)
    else:
        for alert in listing.items:
            _block(console, alert, participants)
    count = len(listing.items)
    tail = f" (more beyond --limit {count})" if listing.more else ""
    console.print(f"{count} alert{'s' if count != 1 else ''}{tail}")


def _severity(alert: dict[str, Any]) -> str:
    severity = str(alert.get("severity"))
    style = _STYLE.get(severity, "")
    return f"[{style}]{escape(severity)}[/{style}]" if style else escape(severity)


def _table(console: Console, listing: Listing, participants: dict[str, dict[str, Any]]) -> None:
    table = Table(show_lines=False, highlight=False)
    for name in ("kind", "severity", "subject", "message", "regions", "block"):
        table.add_column(name, overflow="fold", justify="right" if name == "block" else "left")
    for alert in listing.items:
        table.add_row(
            escape(str(alert.get("kind"))),
            _severity(alert),
            escape(str(alert.get("subject") or "-")),
            escape(readable(str(alert.get("message")), participants)),
            escape(regions(alert)),
            str(alert.get("blockNumber")),
        )
    console.print(table)


def _block(console: Console, alert: dict[str, Any], participants: dict[str, Any]) -> None:
    """``critical  clone  block 31`` / the subject / the message, indented."""
    head = f"{_severity(alert)}  [bold]{escape(str(alert.get('kind')))}[/bold]"
    console.print(f"{head}  block {alert.get('blockNumber')}", highlight=False)
    if alert.get("subject"):
        console.print(f"  {escape(str(alert['subject']))}", highlight=False, overflow="fold")
    message = readable(str(alert.get("message")), participants)
    console.print(f"  {escape(message)}", highlight=False, overflow="fold")
    if alert.get("regions"):
        console.print(f"  regions: {escape(regions(alert))}", highlight=False)


def write_csv(out: IO[str], listing: Listing, participants: dict[str, dict[str, Any]]) -> None:
    """One row per alert; ``participants``: who the alert names, GLN and roles beside each."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for alert in listing.items:
        writer.writerow(
            [
                alert.get("key"),
                alert.get("kind"),
                alert.get("severity"),
                alert.get("blockNumber"),
                alert.get("subject") or "",
                alert.get("message"),
                "; ".join(who(a, participants) for a in named(alert)),
                "; ".join(str(r) for r in alert.get("regions") or []),
            ]
        )


Format = Literal["table", "json", "csv"]


def run(
    *,
    indexer_url: str = DEFAULT_INDEXER_URL,
    key_file: Path = DEFAULT_KEY_FILE,
    kind: str | None = None,
    severity: str | None = None,
    region: str | None = None,
    limit: int = DEFAULT_LIMIT,
    as_json: bool = False,
    output: Format = "table",
    client: httpx.Client | None = None,
    console: Console | None = None,
) -> int:
    """List the alerts; print them (``output``; ``as_json`` is ``output="json"``); return the
    exit code."""
    console = console or Console(soft_wrap=True, highlight=False)
    output = "json" if as_json else output
    participants: dict[str, dict[str, Any]] = {}
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
        with Service.using(
            "indexer", client, indexer_url, timeout=ALERTS_TIMEOUT, api_key=api_key
        ) as indexer:
            listing = fetch(indexer, kind=kind, severity=severity, region=region, limit=limit)
            participants = listing.participants
            if output != "json" and not participants and any(map(named, listing.items)):
                participants = fetch_participants(indexer)  # an indexer without the map
    except (AlertsError, ServiceError) as exc:
        print_unusable(console, str(exc), as_json=output == "json")
        return EXIT_UNUSABLE
    if output == "json":
        body = {"items": listing.items, "more": listing.more}
        named_places = {"participants": participants, "locations": listing.locations}
        console.print_json(json.dumps(body | named_places))
    elif output == "csv":
        write_csv(console.file, listing, participants)
    else:
        render(console, listing, participants)
    return EXIT_SOME if listing.items else EXIT_NONE
