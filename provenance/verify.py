"""``provenance verify``: a verdict per receipt, origin bundle or receipt bundle (one per receipt
in it, named ``FILE#N``: ``provenance export`` writes them, and one for the exported document
when it lies beside the bundle), and an exit code a script can trust."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from chain.client import Chain
from chain.verification import Verdict, verify_receipt
from medledger.epcis.event_hash import document_hashes, stored_event_digest
from medledger.epcis.event_id import event_id_of
from medledger.errors import ChainError, ProvenanceError, ReceiptFormatError
from medledger.formats.receipt import Check, EventHasher, Receipt
from medledger.formats.receipt_bundle import (
    ReceiptBundle,
    is_receipt_bundle,
    parse_receipt_bundle,
)
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
    exports: list[tuple[Path, ReceiptBundle]] = []
    for path in paths:
        try:
            document = read_document(path)
            if is_bundle(document):
                bundles.append((path, parse_bundle(document)))
            elif is_receipt_bundle(document):
                exported = parse_receipt_bundle(document, name=str(path))
                exports.append((path, exported))
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
    for path, exported in exports:
        check = exported_document_check(path, exported)
        if check is None:
            console.print(
                f"        {path}: {exported.document.get('file')!s} not found beside it: "
                "its receipts checked alone"
            )
        elif check.ok:
            console.print(f"[green]VALID[/green]   {path} document: {escape(check.detail)}")
        else:
            console.print(f"[red]INVALID[/red] {path} document: {escape(check.detail)}")
            invalid += 1
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


def exported_document_check(path: Path, bundle: ReceiptBundle) -> Check | None:
    """The document a receipt bundle was written with (``document.file``, beside the bundle):
    its SHA-256 is the bundle's, and its events, re-hashed from the document itself (an XML one
    read as a capturing gateway reads it), are those the receipts prove, one for one, in order.
    None when the file is not beside the bundle."""
    name = bundle.document.get("file")
    if not isinstance(name, str) or not name or Path(name).name != name:
        return None
    found = path.parent / name
    if not found.is_file():
        return None
    body = found.read_bytes()
    if hashlib.sha256(body).hexdigest() != bundle.document.get("sha256"):
        return Check("document", False, f"{found}: its SHA-256 is not the one the bundle states")
    try:
        if bundle.document.get("format") == "jsonld":
            hashes = document_hashes(json.loads(body))
        else:
            from medledger.epcis.xml_capture import read_capture  # SaxonC for 1.2, on use only

            hashes = document_hashes(read_capture(body))
    except (ValueError, ProvenanceError) as exc:
        return Check("document", False, f"{found} cannot be read: {exc}")
    proven = [event_id_of(r.event_hash) for r in bundle.receipts]
    if hashes != proven:
        unproven = [h for h in hashes if h not in proven]
        return Check(
            "document",
            False,
            f"{found}: {len(hashes)} events, {len(proven)} receipts; not proven: "
            + (", ".join(unproven[:3]) or "the order differs"),
        )
    return Check("document", True, f"{found}: each of its {len(hashes)} events proven")


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
