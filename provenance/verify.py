"""``provenance verify``: a verdict per receipt, and an exit code a script can trust."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from rich.console import Console

from chain.client import Chain
from chain.errors import ChainError, ReceiptFormatError
from chain.receipts import EventHasher, Receipt
from chain.verification import Verdict, verify_receipt
from gateway.epcis.event_hash import context_namespaces, prehash_string

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_UNUSABLE = 2


def run(paths: list[Path], *, rpc_url: str | None, console: Console | None = None) -> int:
    console = console or Console(soft_wrap=True)  # one line per verdict: easy to grep
    receipts: list[tuple[Path, Receipt]] = []
    for path in paths:
        try:
            receipts.append((path, Receipt.read(path)))
        except ReceiptFormatError as exc:
            console.print(f"[red]unusable[/red] {exc}")
            return EXIT_UNUSABLE
    chain: Chain | None = None
    if rpc_url is not None:
        try:
            chain = Chain.from_url(rpc_url)
        except ChainError as exc:
            console.print(f"[red]unusable[/red] {exc}")
            return EXIT_UNUSABLE
    hasher = default_event_hasher()
    invalid = 0
    for path, receipt in receipts:
        try:
            verdict = verify_receipt(receipt, chain=chain, event_hasher=hasher)
        except ChainError as exc:
            console.print(f"[red]unusable[/red] {path}: {exc}")
            return EXIT_UNUSABLE
        print_verdict(console, path, verdict, on_chain=chain is not None)
        invalid += not verdict.valid
    total = len(receipts)
    colour = "green" if not invalid else "red"
    console.print(f"[{colour}]{total - invalid} of {total} receipts valid[/{colour}]")
    return EXIT_INVALID if invalid else EXIT_VALID


def print_verdict(console: Console, path: Path, verdict: Verdict, *, on_chain: bool) -> None:
    where = "offline and on-chain" if on_chain else "offline"
    if verdict.valid:
        console.print(
            f"[green]VALID[/green]   {path} ({where}: {', '.join(c.name for c in verdict.checks)})"
        )
        return
    console.print(f"[red]INVALID[/red] {path}")
    for check in verdict.failures:
        console.print(f"        {check.name}: {check.detail}")


def default_event_hasher() -> EventHasher:
    """The canonical CBV 2.0 event hash, as the gateway computes it, as 32 raw bytes.

    An embedded event may carry its own ``@context``; its namespace prefixes then apply.
    """
    return canonical_event_digest


def canonical_event_digest(event: dict[str, Any]) -> bytes:
    context = event.get("@context")
    namespaces = context_namespaces(context) if context is not None else None
    return hashlib.sha256(prehash_string(event, namespaces=namespaces).encode("utf-8")).digest()
