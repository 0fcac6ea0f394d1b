"""``provenance check CODE``: verify a pack against the indexer's public ``/check``, print a
readable verdict, and exit with a code a script can trust.

Exit codes: **0** verdict ``ok``; **1** any other verdict (``unknown``, ``suspect``,
``recalled``, ``expired``, ``dispensed``); **2** a malformed code (the indexer's 422) or an
indexer that cannot be reached or answers something else.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape

from medledger.recall_reasons import describe, describe_suspension
from provenance.exits import EXIT_OK, EXIT_UNUSABLE, EXIT_WARNING, print_unusable
from provenance.http import CHECK_TIMEOUT, Service, ServiceError, problem
from provenance.options import DEFAULT_INDEXER_URL

_STYLE = {
    "ok": "bold green",
    "dispensed": "bold yellow",
    "expired": "bold red",
    "recalled": "bold red",
    "suspended": "bold red",
    "suspect": "bold red",
    "unknown": "bold red",
}
_HEADLINE = {
    "ok": "OK: a known pack, not recalled, not expired, not dispensed",
    "dispensed": "DISPENSED: this pack was already dispensed",
    "expired": "EXPIRED",
    "recalled": "RECALLED: do not use",
    "suspended": "SUSPENDED pending investigation: do not use or dispense",
    "suspect": "SUSPECT: the label does not match the record, or the code is out of circulation",
    "unknown": "UNKNOWN: no participant recorded this pack",
}


def fetch(indexer: Service, code: str) -> tuple[int, dict[str, Any] | str]:
    """POST the code to /check (JSON keeps control characters): (exit code, answer or error)."""
    try:
        response = indexer.post("/check", json={"code": code})
    except ServiceError as exc:
        return exc.exit_code, str(exc)
    if response.status_code == 422:
        return EXIT_UNUSABLE, f"malformed code: {problem(response)}"
    if response.status_code != 200:
        return EXIT_UNUSABLE, f"the indexer answered {response.status_code}: {problem(response)}"
    try:
        body = response.json()
    except ValueError:
        return EXIT_UNUSABLE, "the indexer's answer is not JSON"
    if not isinstance(body, dict) or "verdict" not in body:
        return EXIT_UNUSABLE, "the indexer's answer has no verdict"
    return (EXIT_OK if body["verdict"] == "ok" else EXIT_WARNING), body


def _line(console: Console, label: str, value: object) -> None:
    if value is None or value == "":
        return
    console.print(f"  [dim]{label:<11}[/dim] {escape(str(value))}")


def render(console: Console, body: dict[str, Any]) -> None:
    """The answer, for a person at a counter."""
    verdict = str(body["verdict"])
    style = _STYLE.get(verdict, "bold")
    console.print(f"[{style}]{escape(_HEADLINE.get(verdict, verdict.upper()))}[/{style}]")
    code = body.get("code") or {}
    _line(console, "pack", body.get("identifier"))
    _line(console, "GTIN", body.get("gtin"))
    _line(console, "lot", body.get("lot"))
    expiry = body.get("expiry")
    if expiry:
        passed = " (passed)" if body.get("expired") else ""
        _line(console, "expiry", f"{expiry}{passed}, from the {body.get('expirySource')}")
    if body.get("known"):
        _line(console, "released", "yes" if body.get("released") else "no (not registered)")
        recall = body.get("recall") or {}
        if body.get("recalled"):
            _line(console, "recalled", f"yes: {describe(recall.get('reasonCode'))}")
        else:
            _line(console, "recalled", "no")
        suspension = body.get("suspension")
        if body.get("suspended") and suspension:
            why = describe_suspension(suspension.get("reasonCode"))
            _line(console, "suspended", f"yes: case {suspension.get('caseNumber')}, {why}")
        _line(console, "status", f"{body.get('status')} since {body.get('since')}")
        holder = body.get("holder") or {}
        if holder:
            roles = ", ".join(holder.get("roles") or []) or "not in the registry"
            if holder.get("address"):
                name = f"{holder['name']}, " if holder.get("name") else ""
                who = f"{holder['address']} ({name}GLN {holder.get('gln')}, {roles})"
            else:  # a public answer names no participant
                who = f"a participant with roles {roles}"
            _line(console, "holder", who)
        dispensed = body.get("dispensed")
        if dispensed:
            _line(console, "dispensed", f"{dispensed.get('at')} by a {dispensed.get('kind')}")
        last = body.get("lastEvent")
        if last:
            anchor = last["anchor"]
            _line(console, "last event", f"{last.get('bizStep')} {last.get('eventID')}")
            _line(
                console,
                "anchored",
                f"root {anchor['root']} tx {anchor['txHash']} block {anchor['blockNumber']}",
            )
    for mismatch in body.get("mismatches") or []:
        console.print(
            f"  [bold red]mismatch[/bold red]    {escape(str(mismatch['field']))}: label says "
            f"{escape(str(mismatch['scanned']))}, record says {escape(str(mismatch['indexed']))}"
        )
    for warning in body.get("warnings") or []:
        console.print(f"  [yellow]warning[/yellow]     {escape(str(warning['message']))}")
    if code.get("form"):
        _line(console, "read as", code["form"])


def run(
    code: str,
    *,
    indexer_url: str = DEFAULT_INDEXER_URL,
    as_json: bool = False,
    client: httpx.Client | None = None,
    console: Console | None = None,
) -> int:
    """Check ``code`` at the indexer; print the answer; return the exit code; ``client`` (a
    TestClient in tests) overrides ``indexer_url``."""
    console = console or Console(soft_wrap=True, highlight=False)
    with Service.using("indexer", client, indexer_url, timeout=CHECK_TIMEOUT) as indexer:
        status, answer = fetch(indexer, code)
    if isinstance(answer, str):
        print_unusable(console, answer, as_json=as_json)
        return status
    if as_json:
        console.print_json(json.dumps(answer))
    else:
        render(console, answer)
    return status
