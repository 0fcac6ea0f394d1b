"""``provenance indexer``: settings from the environment, the follower, and the query API."""

from __future__ import annotations

from typing import Any

import uvicorn
from pydantic import ValidationError as SettingsError
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import DBAPIError

from indexer.service import IndexerService
from indexer.settings import IndexerSettings
from medledger.errors import ProvenanceError
from provenance.signals import serve_until_stopped
from provenance.startup import port_taken, start_failure
from servicekit.gc_policy import tune_for_long_runs
from servicekit.logs import configure_logging, wants_json


def run_indexer(overrides: dict[str, Any], console: Console | None = None) -> int:
    console = console or Console(stderr=True, soft_wrap=True)
    try:
        settings = IndexerSettings(**overrides)
    except SettingsError as exc:
        console.print(f"[red]cannot start the indexer[/red]: {escape(start_failure(exc, None))}")
        return 2
    taken = port_taken(settings.host, settings.port, "indexer", "--port")
    if taken:
        console.print(f"[red]cannot start the indexer[/red]: {escape(taken)}")
        return 2
    try:
        configure_logging(json=wants_json(settings.log_format))
        service = IndexerService(settings)
    except (ProvenanceError, DBAPIError) as exc:
        reason = start_failure(exc, settings.database_url or None)
        console.print(f"[red]cannot start the indexer[/red]: {escape(reason)}")
        return 2
    from dashboard.app import mount as mount_pages
    from dashboard.recall_gateway import RecallGateway
    from dashboard.region_map import RegionMap
    from indexer.api.app import create_app

    try:
        recall_key = settings.recall_api_key_value()
        shapes = RegionMap.load(settings.regions_geojson) if settings.regions_geojson else None
    except ProvenanceError as exc:
        console.print(f"[red]cannot start the indexer[/red]: {escape(str(exc))}")
        service.stop()
        return 2
    recalls = (
        RecallGateway.over_http(settings.gateway_url, recall_key)
        if settings.gateway_url and recall_key
        else None
    )

    tune_for_long_runs()
    console.print(
        f"indexer following chain {service.deployment.chain_id} (anchors at "
        f"{service.deployment.anchor_registry}); query API on "
        f"http://{settings.host}:{settings.port} (OpenAPI at /docs, pack check page at /check)"
    )
    app = create_app(service)
    # the pack check page, the dashboard; the browser checks receipts against this node
    mount_pages(
        app,
        node_url=settings.public_node_url or settings.chain_url,
        recalls=recalls,
        region_map=shapes,
    )
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_level="info",
            log_config=None,  # logging is configured above (servicekit/logs.py)
            access_log=False,  # the app logs one line per request, with its request id
        )
    )
    try:
        serve_until_stopped(server)
    finally:
        service.stop()
        if recalls is not None:
            recalls.close()
    return 0
