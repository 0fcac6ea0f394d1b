"""``provenance gateway``: settings from the environment, the service, and uvicorn."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import uvicorn
from pydantic import ValidationError as SettingsError
from rich.console import Console

from chain.errors import ProvenanceError
from gateway.api.app import create_app
from gateway.service import GatewayService
from gateway.settings import GatewaySettings


def run_gateway(overrides: dict[str, Any], console: Console | None = None) -> int:
    console = console or Console(stderr=True)
    if "chain_url" not in overrides and "data_dir" not in overrides:
        # The in-process chain is new each run, so its store must be too.
        overrides["data_dir"] = Path(tempfile.mkdtemp(prefix="provenance-gateway-"))
    try:
        settings = GatewaySettings(**overrides)
        service = GatewayService(settings)
    except SettingsError as exc:
        console.print(f"[red]invalid settings[/red]: {exc}")
        return 2
    except ProvenanceError as exc:
        console.print(f"[red]cannot start the gateway[/red]: {exc}")
        return 2
    if service.chain.kind == "embedded":
        console.print(
            "[yellow]in-process chain: anchors live only as long as this process; "
            "use --chain-url for a persistent node[/yellow]"
        )
    console.print(
        f"gateway on http://{settings.host}:{settings.port} (OpenAPI at /docs); "
        f"anchor registry {service.ledger.anchors.address} on chain "
        f"{service.chain.chain_id}"
    )
    if service.regulator_api_key:
        console.print(f"regulator API key written to {settings.data_dir / 'regulator.api-key'}")
    try:
        uvicorn.run(create_app(service), host=settings.host, port=settings.port, log_level="info")
    finally:
        service.stop()
    return 0
