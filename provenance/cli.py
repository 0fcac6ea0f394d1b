"""``provenance``: verify receipts, run the demo, and (in later issues) run the services."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from provenance import demo as demo_module
from provenance import verify as verify_module

app = typer.Typer(
    name="provenance",
    help="Tamper-evident provenance for medicines: from molecule to pack to patient.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command()
def verify(
    receipts: Annotated[
        list[Path], typer.Argument(help="Receipt files (JSON) to check.", show_default=False)
    ],
    rpc: Annotated[
        str | None,
        typer.Option(help="JSON-RPC URL of a node of the chain: also check on-chain."),
    ] = None,
) -> None:
    """Check receipts offline and, with --rpc, on-chain.

    Exit code 0 if every receipt is valid, 1 if any is invalid, 2 if the input is unusable.
    """
    raise typer.Exit(verify_module.run(receipts, rpc_url=rpc))


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for keys, deployment and receipts.")] = Path(
        "demo-out"
    ),
) -> None:
    """Run the molecule-to-pack story on an in-process chain and verify every receipt."""
    raise typer.Exit(demo_module.run(out))


@app.command()
def gateway(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Folder for the SQLite store, keys and deployment.")
    ] = None,
    chain_url: Annotated[
        str | None, typer.Option(help="JSON-RPC node; default: an in-process chain.")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL, e.g. postgresql+psycopg://...")
    ] = None,
) -> None:
    """Run the gateway: EPCIS 2.0 capture, custody rules, batching and anchoring.

    Settings come from PROVENANCE_GATEWAY_* environment variables; options override them.
    """
    from provenance import serve

    overrides = {
        "host": host,
        "port": port,
        "data_dir": data_dir,
        "chain_url": chain_url,
        "database_url": database_url,
    }
    raise typer.Exit(serve.run_gateway({k: v for k, v in overrides.items() if v is not None}))


def main() -> None:
    app()
