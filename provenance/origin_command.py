"""``provenance origin-proof``: gather an origin bundle over HTTP (receipts from the gateway, or
from the indexer alone), write it, check it offline."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from rich.console import Console

from provenance.exits import EXIT_INVALID, EXIT_UNUSABLE, EXIT_VALID, print_unusable
from provenance.http import ServiceError, read_key
from provenance.origin import (
    GatewayClient,
    IndexerClient,
    OriginError,
    Strength,
    build_bundle,
    parse_bundle,
    parse_strength,
    parse_tolerance,
    verify_bundle,
)
from provenance.origin_http import HttpGateway, HttpIndexer
from provenance.verify import default_event_hasher, print_bundle_verdict


def run_origin_proof(
    identifier: str,
    *,
    gateway_url: str | None,
    gateway_key_file: Path | None,
    indexer_url: str,
    indexer_key_file: Path,
    out: Path,
    api_per_pack: str | None,
    tolerance: str,
    console: Console | None = None,
) -> int:
    """Receipts from the gateway given ``gateway_url`` (and its key file), else from the
    indexer itself (``GET /events/{eventID}/receipt``)."""
    console = console or Console(soft_wrap=True)
    try:
        strength = parse_strength(api_per_pack) if api_per_pack is not None else None
        fraction = parse_tolerance(tolerance)
        if gateway_url is not None and gateway_key_file is None:
            raise OriginError("--gateway needs --gateway-key-file (or leave both out)")
        if gateway_url is None and gateway_key_file is not None:
            raise OriginError("--gateway-key-file needs --gateway (or leave both out)")
        gateway_key = read_key(gateway_key_file) if gateway_key_file is not None else None
        indexer = HttpIndexer.at(indexer_url, read_key(indexer_key_file))
    except (OriginError, ServiceError) as exc:
        print_unusable(console, str(exc))
        return EXIT_UNUSABLE
    gateway: HttpGateway | HttpIndexer = indexer
    if gateway_url is not None and gateway_key is not None:
        gateway = HttpGateway.at(gateway_url, gateway_key)
    try:
        return write_origin_proof(
            identifier,
            gateway,
            indexer,
            out=out,
            api_per_pack=strength,
            tolerance=fraction,
            console=console,
        )
    finally:
        if gateway is not indexer:
            gateway.close()
        indexer.close()


def write_origin_proof(
    identifier: str,
    gateway: GatewayClient,
    indexer: IndexerClient,
    *,
    out: Path,
    api_per_pack: Strength | None,
    tolerance: Decimal,
    console: Console,
) -> int:
    """Build, write and check (offline) the bundle; the exit code of ``origin-proof``."""
    try:
        document = build_bundle(
            identifier, gateway, indexer, api_per_pack=api_per_pack, tolerance=tolerance
        )
    except OriginError as exc:
        print_unusable(console, str(exc))
        return EXIT_UNUSABLE
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        console.print(f"[red]unusable[/red] cannot write {out}: {exc.strerror}")
        return EXIT_UNUSABLE
    bundle = parse_bundle(document)
    verdict = verify_bundle(
        bundle, event_hasher=default_event_hasher(), api_per_pack=api_per_pack, tolerance=tolerance
    )
    console.print(f"wrote {out}: {len(bundle.entries)} receipts")
    print_bundle_verdict(console, out, bundle, verdict, on_chain=False)
    return EXIT_VALID if verdict.valid else EXIT_INVALID
