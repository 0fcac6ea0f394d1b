"""``provenance verify``: a verdict per receipt, origin bundle or receipt bundle (one per receipt
in it, named ``FILE#N``: ``provenance export`` writes them), and an exit code a script can
trust."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from chain.client import Chain
from chain.verification import Verdict, verify_receipt
from medledger.epcis.event_hash import stored_event_digest
from medledger.errors import ChainError, ReceiptFormatError
from medledger.formats.receipt import EventHasher, Receipt
from medledger.formats.receipt_bundle import is_receipt_bundle, parse_receipt_bundle
from provenance.exits import EXIT_INVALID, EXIT_UNUSABLE, EXIT_VALID, print_unusable
from provenance.origin import (
    DEFAULT_TOLERANCE,
    Bundle,
    BundleFormatError,
    BundleVerdict,
    Strength,
    is_bundle,
    parse_bundle,
    verify_bundle,
)


def run(
    paths: list[Path],
    *,
    rpc_url: str | None,
    console: Console | None = None,
    api_per_pack: Strength | None = None,
    tolerance: Decimal = DEFAULT_TOLERANCE,
) -> int:
    console = console or Console(soft_wrap=True)  # one line per verdict: easy to grep
    receipts: list[tuple[Path, Receipt]] = []
    bundles: list[tuple[Path, Bundle]] = []
    for path in paths:
        try:
            document = read_document(path)
            if is_bundle(document):
                bundles.append((path, parse_bundle(document)))
            elif is_receipt_bundle(document):
                exported = parse_receipt_bundle(document, name=str(path))
                receipts.extend(
                    (Path(f"{path}#{at}"), receipt) for at, receipt in enumerate(exported.receipts)
                )
            else:
                receipts.append((path, Receipt.read(path)))
        except (ReceiptFormatError, BundleFormatError) as exc:
            print_unusable(console, str(exc))
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
    invalid_bundles = 0
    for path, bundle in bundles:
        try:
            bundle_verdict = verify_bundle(
                bundle,
                chain=chain,
                event_hasher=hasher,
                api_per_pack=api_per_pack,
                tolerance=tolerance,
            )
        except ChainError as exc:
            console.print(f"[red]unusable[/red] {path}: {exc}")
            return EXIT_UNUSABLE
        print_bundle_verdict(console, path, bundle, bundle_verdict, on_chain=chain is not None)
        invalid_bundles += not bundle_verdict.valid
    if receipts:
        total = len(receipts)
        colour = "green" if not invalid else "red"
        console.print(f"[{colour}]{total - invalid} of {total} receipts valid[/{colour}]")
    if bundles:
        total = len(bundles)
        colour = "green" if not invalid_bundles else "red"
        console.print(
            f"[{colour}]{total - invalid_bundles} of {total} origin bundles valid[/{colour}]"
        )
    return EXIT_INVALID if invalid or invalid_bundles else EXIT_VALID


def read_document(path: Path) -> Any:
    """The JSON in ``path`` (unreadable or not JSON: a :class:`ReceiptFormatError`)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReceiptFormatError(f"cannot read {path}: {exc.strerror}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ReceiptFormatError(f"{path} is not JSON: {exc}") from exc


def print_bundle_verdict(
    console: Console, path: Path, bundle: Bundle, verdict: BundleVerdict, *, on_chain: bool
) -> None:
    """One line for the bundle, then what failed: receipts, links, mass balance."""
    where = "offline and on-chain" if on_chain else "offline"
    subject = bundle.subject["identifier"]
    count = len(verdict.receipts)
    if verdict.valid:
        console.print(
            f"[green]VALID[/green]   {path} origin of {subject} ({where}: {count} receipts, "
            f"{len(verdict.links)} links; mass balance: {escape(verdict.mass_check.detail)})"
        )
        return
    console.print(f"[red]INVALID[/red] {path} origin of {subject}")
    for entry, receipt_verdict in verdict.receipts:
        for check in receipt_verdict.failures:
            console.print(
                f"        receipt {entry.role} {entry.event_id}: {check.name}: "
                f"{escape(check.detail)}"
            )
    for check in verdict.links:
        if not check.ok:
            console.print(f"        link {check.name}: {escape(check.detail)}")
    if verdict.mass_check.ok:
        console.print(f"        mass balance: {escape(verdict.mass_check.detail)}")
    else:
        console.print(f"        [red]{escape(verdict.mass_check.detail)}[/red]")


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

    An embedded event carries its own ``@context`` (its document's and its own, as the gateway
    stores it); its namespace prefixes then apply. The gateway refuses any event that does not
    re-hash this way from the JSON it stores.
    """
    return canonical_event_digest


def canonical_event_digest(event: dict[str, Any]) -> bytes:
    return stored_event_digest(event)
