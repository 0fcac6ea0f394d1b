"""``provenance export``: the EPCIS record of a pack, case, lot or batch for another system, and
its receipts as a bundle beside it (docs/exchange.md).

It reads the indexer over HTTP with a reader key (each key its own view: a regulator or
auditor every event, a participant its custody chain's): ``GET /exports/{id}`` gives the events
of the item's custody chain as an EPCISDocument (JSON-LD, each event as anchored), and
``GET /exports/{id}/receipts`` their receipts, issued by the index from the batches it verified
against their on-chain roots. The document is written as JSON-LD, EPCIS 2.0
XML (:mod:`medledger.epcis.xml_write`) or EPCIS 1.2 XML (GS1's 2.0 to 1.2 stylesheet,
:func:`medledger.epcis.legacy.to_1_2`), and checked before it is written: GS1's JSON schema, or
its 2.0 or 1.2 XSD. The receipts are checked offline (each event re-hashed, leaf and proof to the
root) and their events must be the document's, one for one.

Exit codes: **0** written; **1** the index has no such item, lot or batch (404); **2** unusable:
a malformed id (422), a bad ``--format``, an unreadable key file, the indexer unreachable or
refusing the key, a document that fails GS1's schema, a file that cannot be written.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import quote, unquote

import httpx
from lxml import etree
from rich.console import Console
from rich.markup import escape

from chain.verification import verify_receipt
from medledger.epcis import legacy, xml_header, xml_read, xsd
from medledger.epcis.event_hash import document_hashes
from medledger.epcis.event_id import EventId
from medledger.epcis.schema import validate_document
from medledger.epcis.xml_capture import read_capture
from medledger.epcis.xml_write import write_document
from medledger.errors import ProvenanceError, ReceiptFormatError, ValidationError
from medledger.formats.receipt import Receipt
from medledger.formats.receipt_bundle import receipt_bundle
from medledger.masterdata.documents import records_from_document
from medledger.masterdata.xml import records_from_xml
from provenance.exits import EXIT_OK, EXIT_UNUSABLE, print_unusable
from provenance.http import Service, ServiceError, problem, read_key
from provenance.verify import default_event_hasher

Format = Literal["jsonld", "xml", "xml-1.2"]
FORMATS: Final[tuple[Format, ...]] = ("jsonld", "xml", "xml-1.2")
SUFFIXES: Final[dict[Format, str]] = {"jsonld": ".jsonld", "xml": ".xml", "xml-1.2": ".xml"}
#: ``export``: the index has no such item, lot or batch.
EXIT_UNKNOWN: Final = 1
#: Seconds to wait for the indexer: one export and a receipt per event.
EXPORT_TIMEOUT: Final = 60.0


class ExportError(Exception):
    """The export cannot be made: ``str()`` for the user, ``exit_code`` to exit with."""

    def __init__(self, message: str, exit_code: int = EXIT_UNUSABLE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def default_out(fmt: Format) -> Path:
    return Path(f"export{'-1.2' if fmt == 'xml-1.2' else ''}{SUFFIXES[fmt]}")


def receipts_path(out: Path) -> Path:
    """Where the receipts go by default: beside the document, ``NAME.receipts.json``."""
    return out.with_name(f"{out.stem}.receipts.json")


def run_export(
    identifier: str,
    *,
    fmt: str,
    indexer_url: str,
    key_file: Path,
    out: Path | None = None,
    receipts_out: Path | None = None,
    console: Console | None = None,
    client: httpx.Client | None = None,
) -> int:
    """Export (see the module docstring); the exit code. ``client``: a TestClient in tests."""
    console = console or Console(soft_wrap=True)
    try:
        if fmt not in FORMATS:
            raise ExportError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        chosen: Format = fmt  # narrowed by the check above
        target = out or default_out(chosen)
        bundle_target = receipts_out or receipts_path(target)
        if bundle_target.resolve() == target.resolve():
            raise ExportError("--receipts must name another file than --out")
        key = read_key(key_file)
        with Service.using(
            "indexer", client, indexer_url, timeout=EXPORT_TIMEOUT, api_key=key
        ) as indexer:
            document, subject = fetch_document(indexer, identifier)
            receipts = fetch_receipts(indexer, identifier, document)
        document, dropped = faithful_master_data(document, chosen)
        body = render(document, chosen, sender=sender_of(receipts))
        bundle = receipt_bundle(
            subject,
            {
                "file": target.name,
                "format": chosen,
                "sha256": hashlib.sha256(body).hexdigest(),
                "events": len(receipts),
            },
            receipts,
        )
        _write(target, body)
        _write(bundle_target, (json.dumps(bundle, indent=2) + "\n").encode("utf-8"))
    except ServiceError as exc:
        print_unusable(console, str(exc))
        return exc.exit_code
    except ExportError as exc:
        if exc.exit_code == EXIT_UNKNOWN:
            console.print(f"[yellow]unknown[/yellow] {escape(str(exc))}")
        else:
            print_unusable(console, str(exc))
        return exc.exit_code
    described = len(master_data_ids(document))
    console.print(
        f"wrote {target}: {len(receipts)} events of {subject['kind']} "
        f"{escape(subject['identifier'])} ({chosen}), {described} master data elements"
    )
    if dropped:
        console.print(
            f"[yellow]left out[/yellow] the master data of {len(dropped)} element(s) that "
            f"{chosen} cannot carry unchanged (export as jsonld to keep them): "
            + escape(", ".join(dropped[:5]))
        )
    console.print(
        f"wrote {bundle_target}: {len(receipts)} receipts, each valid offline "
        f"(check them on-chain: provenance verify {bundle_target} --rpc URL)"
    )
    return EXIT_OK


def fetch_document(indexer: Service, identifier: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The export's EPCISDocument (JSON-LD) and its subject (canonical identifier, kind)."""
    path = f"/exports/{quote(identifier.strip(), safe='')}"
    response = indexer.get(path, headers={"Accept": "application/ld+json"})
    if response.status_code == 404:
        raise ExportError(f"the indexer has no {identifier!r}: {problem(response)}", EXIT_UNKNOWN)
    if response.status_code != 200:
        raise ExportError(
            f"the indexer answered {response.status_code} to GET {path}: {problem(response)}"
        )
    try:
        document = response.json()
    except ValueError as exc:
        raise ExportError(f"the indexer answered GET {path} with no JSON") from exc
    if not isinstance(document, dict) or document.get("type") != "EPCISDocument":
        raise ExportError(f"the indexer answered GET {path} with no EPCISDocument")
    subject = {
        "identifier": unquote(response.headers.get("Export-Subject", identifier)),
        "kind": response.headers.get("Export-Kind", "unknown"),
    }
    return document, subject


def fetch_receipts(
    indexer: Service, identifier: str, document: dict[str, Any]
) -> list[dict[str, Any]]:
    """Each event's receipt, from the index (``GET /exports/{id}/receipts``), in the document's
    order; each checked offline (its embedded event re-hashed, leaf and proof to its root) and
    proving that event."""
    path = f"/exports/{quote(identifier.strip(), safe='')}/receipts"
    response = indexer.get(path)
    if response.status_code != 200:
        raise ExportError(
            f"no receipts (the indexer answered {response.status_code} to GET {path}: "
            f"{problem(response)})"
        )
    try:
        listed = response.json()["receipts"]
        by_hash = {Receipt.from_json(body).event_hash: body for body in listed}
    except (ValueError, KeyError, TypeError, ReceiptFormatError) as exc:
        raise ExportError(f"the indexer's receipts are malformed: {exc}") from exc
    hasher = default_event_hasher()
    out: list[dict[str, Any]] = []
    for at, event in enumerate(_events(document)):
        event_id = event.get("eventID")
        if not isinstance(event_id, str):
            raise ExportError(f"event {at} of the indexer's document has no eventID")
        body = by_hash.get(EventId.parse(event_id).digest)
        if body is None:
            raise ExportError(
                f"no receipt for {event_id}: the index changed between the document and its "
                "receipts (a new block, a reorganisation); run the export again"
            )
        verdict = verify_receipt(Receipt.from_json(body), event_hasher=hasher)
        if not verdict.valid:
            failed = "; ".join(f"{c.name}: {c.detail}" for c in verdict.failures)
            raise ExportError(f"the receipt of {event_id} does not verify: {failed}")
        out.append(body)
    return out


def sender_of(receipts: list[dict[str, Any]]) -> str | None:
    """Who sends an export, for EPCIS 1.2's header: the ledger that anchored its events, as a
    CAIP-10 account id (``eip155:<chain id>:<anchor contract>``)."""
    if not receipts:
        return None
    first = receipts[0]
    return f"eip155:{first['chain_id']}:{first['contract']}"


def master_data_ids(document: dict[str, Any]) -> list[str]:
    """The element ids of the document's header master data, in order."""
    return [
        str(element.get("id"))
        for vocabulary in xml_header.vocabulary_list(document) or []
        for element in vocabulary.get("vocabularyElementList") or []
    ]


def faithful_master_data(document: dict[str, Any], fmt: Format) -> tuple[dict[str, Any], list[str]]:
    """The document without the header master data ``fmt`` cannot carry unchanged, and the ids
    of what was left out. XML has text only: an attribute whose value is a number (or an
    object XML names differently) reads back as another record, with another digest, so a
    receiving network would hold a record the first never declared; JSON-LD carries all."""
    vocabularies = xml_header.vocabulary_list(document)
    if fmt == "jsonld" or vocabularies is None:
        return document, []
    now = datetime.now(UTC)
    header_only = {**document, "epcisBody": {"eventList": []}}
    try:
        read = records_from_xml(write_document(header_only), received=now)
        ours = records_from_document(document, received=now)
    except ValidationError as exc:
        raise ExportError(f"the master data cannot be written as {fmt}: {exc}") from exc
    kept = {r.digest for r in read}
    lost = {r.element_id for r in ours if r.digest not in kept}
    if not lost:
        return document, []
    trimmed: list[dict[str, Any]] = []
    dropped: list[str] = []
    for vocabulary in vocabularies:
        elements = []
        for element in vocabulary.get("vocabularyElementList") or []:
            if element.get("id") in lost:  # the index writes records' canonical ids
                dropped.append(str(element.get("id")))
            else:
                elements.append(element)
        if elements:
            trimmed.append({**vocabulary, "vocabularyElementList": elements})
    out = {k: v for k, v in document.items() if k != "epcisHeader"}
    if trimmed:
        out["epcisHeader"] = {"epcisMasterData": {"vocabularyList": trimmed}}
    return out, dropped


def render(document: dict[str, Any], fmt: Format, *, sender: str | None = None) -> bytes:
    """The document in ``fmt``, checked against GS1's schema of that format; an XML document is
    read back as a capturing gateway reads it (:func:`medledger.epcis.xml_capture.read_capture`)
    and must give every event its hash again, or it is refused: a document whose events would
    not keep their ids would not match its receipts (docs/exchange.md lists what 1.2 loses)."""
    try:
        if fmt == "jsonld":
            validate_document(document)
            return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        xml = write_document(document)
        root = xml_read.parse(xml)
        xsd.validate(root, "2.0")
        body = xml
        if fmt == "xml-1.2":
            legacy_root = legacy.to_1_2(root, sender=sender)
            xsd.validate(legacy_root, "1.2")
            body = etree.tostring(legacy_root, xml_declaration=True, encoding="UTF-8")
        _same_hashes(document, read_capture(body), fmt)
        return body
    except ValidationError as exc:
        where = f" at {exc.pointer}" if exc.pointer else ""
        raise ExportError(f"the {fmt} document is not valid ({exc.rule}{where}): {exc}") from exc
    except ProvenanceError as exc:
        raise ExportError(f"the {fmt} document cannot be made: {exc}") from exc


def _same_hashes(document: dict[str, Any], read: dict[str, Any], fmt: Format) -> None:
    ours = document_hashes(document)
    theirs = document_hashes(read)
    changed = [at for at, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b]
    if len(ours) != len(theirs) or changed:
        events = _events(document)
        named = ", ".join(
            f"{events[at].get('eventID')} ({events[at].get('type')})" for at in changed[:3]
        )
        raise ExportError(
            f"in {fmt}, {len(changed) or 'some'} event(s) would not keep their hash "
            f"(the format has no place for a field they carry): {named or 'events lost'}; "
            "export them as jsonld or xml"
        )


def _events(document: dict[str, Any]) -> list[dict[str, Any]]:
    body = document.get("epcisBody")
    events = body.get("eventList") if isinstance(body, dict) else None
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise ExportError("the indexer's document has no event list")
    return events


def _write(path: Path, body: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror}") from exc
