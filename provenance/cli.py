"""``provenance``: verify receipts, run the demo, and (in later issues) run the services."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

import typer

from indexer.alert_kinds import AlertKind, Severity
from provenance.exits import EXIT_UNUSABLE
from provenance.key_verbs import register as register_key_verbs
from provenance.keys_command import keys_app
from provenance.options import (
    DEFAULT_GATEWAY_URL,
    DEFAULT_INDEXER_URL,
    INDEXER_READER_KEY_FILES,
    MANUFACTURER_KEY_FILES,
    REGULATOR_KEY_FILES,
    DeclarerKeyFile,
    GatewayUrl,
    Gtin,
    IndexerUrl,
    Lot,
    ManufacturerKeyFile,
    ReaderKeyFile,
    ReasonCode,
    RegulatorKeyFile,
    SuspenderKeyFile,
    default_key_file,
)
from provenance.participants_command import participants_app
from provenance.usage import (
    Abort,
    ClickException,
    NoArgsIsHelpError,
    UsageError,
    usage_error_line,
)
from servicekit.interpreter import restore_recursion_limit
from servicekit.secrets import private_umask

app = typer.Typer(
    name="provenance",
    help="Tamper-evident provenance for medicines: from molecule to pack to patient.",
    no_args_is_help=True,
    add_completion=False,
)
register_key_verbs(keys_app)  # keys list|issue|rotate|revoke|audit
app.add_typer(keys_app)  # provenance keys check|reencrypt|...
app.add_typer(participants_app)  # provenance participants add|list|show|...
masterdata_app = typer.Typer(
    name="masterdata",
    help="Master data: what locations and products are (docs/masterdata.md).",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(masterdata_app)  # provenance masterdata import


@masterdata_app.command("import")
def masterdata_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV (.csv), or EPCIS master data as XML (.xml) or JSON-LD (.json, .jsonld).",
            show_default=False,
        ),
    ],
    gateway: GatewayUrl = DEFAULT_GATEWAY_URL,
    key_file: DeclarerKeyFile = None,
) -> None:
    """Declare locations and products: every record of FILE is stored and anchored, or none.

    A participant declares its own GLN and the GLNs and GTINs under its company prefixes; the
    regulator anything. Exit code 0 if stored, 1 if the gateway refuses the caller, 2 if the
    file or a row is unusable (the line and column are named) or the gateway cannot be reached.
    """
    from provenance.masterdata_command import run_import

    raise typer.Exit(
        run_import(
            file,
            gateway_url=gateway,
            key_file=default_key_file(key_file, REGULATOR_KEY_FILES, "declarer"),
            echo=typer.echo,
        )
    )


@app.command()
def verify(
    receipts: Annotated[
        list[Path],
        typer.Argument(help="Receipt or origin bundle files (JSON) to check.", show_default=False),
    ],
    rpc: Annotated[
        str | None,
        typer.Option(help="JSON-RPC URL of a node of the chain: also check on-chain."),
    ] = None,
    api_per_pack: Annotated[
        str | None,
        typer.Option(help="Bundles: API per pack (e.g. 12.5g), over the ILMD's mpl:apiPerPack."),
    ] = None,
    tolerance: Annotated[
        str, typer.Option(help="Bundles: mass-balance tolerance (5% or 0.05).")
    ] = "5%",
) -> None:
    """Check receipts and origin bundles offline and, with --rpc, on-chain.

    A bundle's links and mass balance are checked too (see docs/origin.md). Exit code 0 if
    everything is valid, 1 if anything is invalid (a mass-balance violation included), 2 if the
    input is unusable.
    """
    from provenance import verify as verify_module  # here: other commands start faster
    from provenance.origin import OriginError, parse_strength, parse_tolerance

    try:
        strength = parse_strength(api_per_pack) if api_per_pack is not None else None
        fraction = parse_tolerance(tolerance)
    except OriginError as exc:
        typer.echo(f"unusable {exc}")
        raise typer.Exit(EXIT_UNUSABLE) from exc
    raise typer.Exit(
        verify_module.run(receipts, rpc_url=rpc, api_per_pack=strength, tolerance=fraction)
    )


@app.command()
def check(
    code: Annotated[
        str,
        typer.Argument(
            help="The scanned code: GS1 element string (GS as <GS>), Digital Link URI or EPC "
            "URN; - reads one line from standard input (a scanner's raw payload).",
            show_default=False,
        ),
    ],
    indexer: IndexerUrl = DEFAULT_INDEXER_URL,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the indexer's answer as JSON.")
    ] = False,
) -> None:
    """Verify a pack: known, lot and expiry, released, recalled, dispensed, holder, label
    mismatches, and the anchor of its last event (see docs/indexer.md, "Pack check").

    Exit code 0 if the verdict is ok, 1 for any other verdict (unknown, suspect, recalled,
    expired, dispensed), 2 if the code is malformed or the indexer cannot be reached.
    """
    import sys

    from provenance.check import run as run_check

    if code == "-":
        code = sys.stdin.readline().rstrip("\r\n")
    raise typer.Exit(run_check(code, indexer_url=indexer, as_json=json_output))


@app.command()
def alerts(
    indexer: IndexerUrl = DEFAULT_INDEXER_URL,
    key_file: ReaderKeyFile = None,
    kind: Annotated[
        AlertKind | None, typer.Option(help="Only this kind (docs/detection.md).")
    ] = None,
    severity: Annotated[Severity | None, typer.Option(help="Only this severity.")] = None,
    region: Annotated[
        str | None,
        typer.Option(
            help="Only the alerts concerning this ISO 3166-2 subdivision (KG-C) or country "
            "(KG): a participant or location there (master data, else registered region)."
        ),
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many alerts (newest first).")] = 100,
    output: Annotated[
        Literal["table", "json", "csv"],
        typer.Option(
            "--format",
            help="table (a block per alert below 120 columns), json or csv.",
        ),
    ] = "table",
    json_output: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
) -> None:
    """List the indexer's alerts, newest first: kind, severity, subject, message, block (see
    docs/detection.md for the kinds).

    Exit code 0 if no alert matches, 1 if some do (so a script can alarm), 2 if an option or the
    key file is unusable, or the indexer cannot be reached or refuses the key.
    """
    from provenance.alerts import run as run_alerts

    raise typer.Exit(
        run_alerts(
            indexer_url=indexer,
            key_file=default_key_file(key_file, INDEXER_READER_KEY_FILES, "indexer reader"),
            kind=kind,
            severity=severity,
            region=region,
            limit=limit,
            as_json=json_output,
            output=output,
        )
    )


@app.command()
def report(
    first: Annotated[
        str, typer.Option("--from", help="First day of the period (UTC), YYYY-MM-DD.")
    ],
    last: Annotated[str, typer.Option("--to", help="Last day of the period (UTC), included.")],
    region: Annotated[
        str | None, typer.Option(help="Only this region: ISO 3166-2 (KG-GB) or a country.")
    ] = None,
    gtin: Annotated[str | None, typer.Option(help="Only this product (GTIN).")] = None,
    output: Annotated[
        Literal["csv", "json", "html"],
        typer.Option("--format", help="csv, json, or html (a printable page, styles inline)."),
    ] = "csv",
    out_file: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")
    ] = None,
    language: Annotated[
        Literal["en", "ru"], typer.Option("--lang", help="The HTML page's language.")
    ] = "en",
    indexer: IndexerUrl = DEFAULT_INDEXER_URL,
    key_file: ReaderKeyFile = None,
) -> None:
    """A report for a period, region and product: movements, dispensing, stock, recalls with
    their reach, alerts by kind and outcome, and the chain height and anchors the figures rest
    on (docs/indexer.md, "Reports").

    Exit code 0 when written, 2 if an option or the key file is unusable, or the indexer cannot
    be reached or refuses the key or the request.
    """
    from provenance.report import run as run_report

    raise typer.Exit(
        run_report(
            first=first,
            last=last,
            region=region,
            gtin=gtin,
            output=output,
            out_file=out_file,
            language=language,
            indexer_url=indexer,
            key_file=default_key_file(key_file, INDEXER_READER_KEY_FILES, "indexer reader"),
        )
    )


@app.command()
def export(
    id: Annotated[
        str,
        typer.Argument(
            help="Pack, case, lot or batch: EPC URN, Digital Link, element string, "
            "'GTIN LOT', or a batch's Merkle root (0x and 64 hex digits).",
            show_default=False,
        ),
    ],
    output: Annotated[
        str,
        typer.Option(
            "--format", help="jsonld (EPCIS 2.0 JSON-LD), xml (EPCIS 2.0 XML) or xml-1.2."
        ),
    ] = "jsonld",
    indexer: IndexerUrl = DEFAULT_INDEXER_URL,
    key_file: ReaderKeyFile = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Where to write the document. Default: export.jsonld, export.xml or "
            "export-1.2.xml.",
            show_default=False,
        ),
    ] = None,
    receipts: Annotated[
        Path | None,
        typer.Option(
            help="Where to write the receipt bundle. Default: beside --out, NAME.receipts.json.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write the EPCIS document of a pack, case, lot or batch (its custody chain) for another
    system to capture, and its receipts as a bundle beside it (see docs/exchange.md).

    Exit code 0 if written, 1 if the indexer has no such item, lot or batch, 2 if it cannot be
    made (a malformed id, a bad --format, the key file, the indexer unreachable or refusing).
    """
    from provenance.export import run_export

    raise typer.Exit(
        run_export(
            id,
            fmt=output,
            indexer_url=indexer,
            key_file=default_key_file(key_file, INDEXER_READER_KEY_FILES, "indexer reader"),
            out=out,
            receipts_out=receipts,
        )
    )


@app.command("origin-proof")
def origin_proof(
    id: Annotated[
        str,
        typer.Argument(
            help="Pack, case or finished batch: EPC URN, Digital Link or element string.",
            show_default=False,
        ),
    ],
    indexer: Annotated[str, typer.Option(help="Indexer query API URL (the trace).")],
    indexer_key_file: Annotated[Path, typer.Option(help="File with a reader key of the indexer.")],
    gateway: Annotated[
        str | None,
        typer.Option(help="Gateway URL (receipts); default: receipts from the indexer."),
    ] = None,
    gateway_key_file: Annotated[
        Path | None, typer.Option(help="File with a regulator or auditor key of the gateway.")
    ] = None,
    out: Annotated[Path, typer.Option(help="Where to write the bundle.")] = Path(
        "origin-bundle.json"
    ),
    api_per_pack: Annotated[
        str | None,
        typer.Option(help="API per pack (e.g. 12.5g); default: the ILMD's mpl:apiPerPack."),
    ] = None,
    tolerance: Annotated[str, typer.Option(help="Mass-balance tolerance (5% or 0.05).")] = "5%",
) -> None:
    """Write the origin bundle of a pack, case or batch: receipts back to the API lots and their
    makers, and the mass balance (see docs/origin.md). Receipts come from the gateway with
    --gateway, else from the indexer (a second, independent source).

    Exit code 0 if the bundle is written and checks out offline, 1 if it is written but a check
    fails (a mass-balance violation), 2 if it cannot be made.
    """
    from provenance.origin_command import run_origin_proof

    raise typer.Exit(
        run_origin_proof(
            id,
            gateway_url=gateway,
            gateway_key_file=gateway_key_file,
            indexer_url=indexer,
            indexer_key_file=indexer_key_file,
            out=out,
            api_per_pack=api_per_pack,
            tolerance=tolerance,
        )
    )


@app.command()
def recall(
    gtin: Gtin,
    lot: Lot,
    reason: Annotated[str, typer.Option(help="Why the lot is recalled.", show_default=False)],
    reason_code: ReasonCode = None,
    gateway: GatewayUrl = DEFAULT_GATEWAY_URL,
    key_file: RegulatorKeyFile = None,
) -> None:
    """Recall a lot (regulator): on-chain, at once at the gateway, and its holders notified.

    Exit code 0 if recalled, 1 if the gateway refuses (not the regulator, unknown lot, already
    recalled), 2 if the input is unusable or the gateway or its chain cannot be reached.
    """
    from provenance.recall import run_recall

    raise typer.Exit(
        run_recall(
            gtin,
            lot,
            reason=reason,
            reason_code=reason_code,
            gateway_url=gateway,
            key_file=default_key_file(key_file, REGULATOR_KEY_FILES, "regulator"),
            echo=typer.echo,
        )
    )


@app.command()
def release(
    gtin: Gtin,
    lot: Lot,
    reason: Annotated[str, typer.Option(help="Why the recall is lifted.")] = "",
    reason_code: ReasonCode = None,
    gateway: GatewayUrl = DEFAULT_GATEWAY_URL,
    key_file: RegulatorKeyFile = None,
) -> None:
    """Lift a lot's recall (regulator): on-chain and at the gateway; holders are notified.

    Exit code 0 if released, 1 if the gateway refuses (not recalled, unknown lot, not the
    regulator), 2 if the input is unusable or the gateway or its chain cannot be reached.
    """
    from provenance.recall import run_release

    raise typer.Exit(
        run_release(
            gtin,
            lot,
            reason=reason,
            reason_code=reason_code,
            gateway_url=gateway,
            key_file=default_key_file(key_file, REGULATOR_KEY_FILES, "regulator"),
            echo=typer.echo,
        )
    )


@app.command()
def suspend(
    gtin: Gtin,
    lot: Lot,
    case: Annotated[
        str,
        typer.Option(
            "--case", help="The investigation's case number (on chain).", show_default=False
        ),
    ],
    reason: Annotated[str, typer.Option(help="Why the lot is suspended.", show_default=False)],
    reason_code: ReasonCode = None,
    stop_shipping: Annotated[
        bool | None,
        typer.Option(
            "--stop-shipping/--dispensing-only",
            help="Refuse shipping too, or dispensing only (default: the gateway's setting).",
            show_default=False,
        ),
    ] = None,
    gateway: GatewayUrl = DEFAULT_GATEWAY_URL,
    key_file: SuspenderKeyFile = None,
) -> None:
    """Suspend a lot pending investigation (regulator or pharmacovigilance officer): on-chain,
    dispensing refused at once at the gateway, holders notified (docs/suspensions.md).

    Exit code 0 if suspended, 1 if the gateway refuses (not allowed, unknown lot, already
    suspended or recalled), 2 if the input is unusable or the gateway or its chain cannot be
    reached.
    """
    from provenance.suspension import run_suspension

    raise typer.Exit(
        run_suspension(
            "suspend",
            gtin,
            lot,
            reason=reason,
            reason_code=reason_code,
            case_number=case,
            stops_shipping=stop_shipping,
            gateway_url=gateway,
            key_file=default_key_file(key_file, REGULATOR_KEY_FILES, "regulator"),
            echo=typer.echo,
        )
    )


@app.command("lift-suspension")
def lift_suspension(
    gtin: Gtin,
    lot: Lot,
    reason: Annotated[str, typer.Option(help="Why the suspension is lifted.")] = "",
    reason_code: ReasonCode = None,
    gateway: GatewayUrl = DEFAULT_GATEWAY_URL,
    key_file: SuspenderKeyFile = None,
) -> None:
    """Lift a lot's suspension (regulator or pharmacovigilance officer): on-chain and at the
    gateway, the lot is dispensed again; holders are notified.

    Exit code 0 if lifted, 1 if the gateway refuses (not suspended, unknown lot, not allowed),
    2 if the input is unusable or the gateway or its chain cannot be reached.
    """
    from provenance.suspension import run_suspension

    raise typer.Exit(
        run_suspension(
            "lift",
            gtin,
            lot,
            reason=reason,
            reason_code=reason_code,
            gateway_url=gateway,
            key_file=default_key_file(key_file, REGULATOR_KEY_FILES, "regulator"),
            echo=typer.echo,
        )
    )


@app.command()
def escalate(
    gtin: Gtin,
    lot: Lot,
    reason: Annotated[str, typer.Option(help="Why the lot is recalled.", show_default=False)],
    reason_code: ReasonCode = None,
    gateway: GatewayUrl = DEFAULT_GATEWAY_URL,
    key_file: RegulatorKeyFile = None,
) -> None:
    """Escalate a lot's suspension to a recall (regulator), in one action: on-chain, then the
    lot stops moving at the gateway; holders are notified of the recall.

    Exit code 0 if recalled, 1 if the gateway refuses (not suspended, unknown lot, not the
    regulator), 2 if the input is unusable or the gateway or its chain cannot be reached.
    """
    from provenance.suspension import run_suspension

    raise typer.Exit(
        run_suspension(
            "escalate",
            gtin,
            lot,
            reason=reason,
            reason_code=reason_code,
            gateway_url=gateway,
            key_file=default_key_file(key_file, REGULATOR_KEY_FILES, "regulator"),
            echo=typer.echo,
        )
    )


@app.command()
def codes(
    gtin: Gtin,
    lot: Lot,
    count: Annotated[int, typer.Option(help="Codes to issue.", show_default=False)],
    out: Annotated[Path, typer.Option(help="Folder for the images.")] = Path("codes"),
    image_format: Annotated[
        Literal["png", "svg"], typer.Option("--format", help="Image format.")
    ] = "png",
    declare: Annotated[
        int | None, typer.Option(help="First declare the lot with this many packs.")
    ] = None,
    expiry: Annotated[
        str | None, typer.Option(help="The lot's expiry, YYYY-MM-DD (with --declare).")
    ] = None,
    gateway: GatewayUrl = DEFAULT_GATEWAY_URL,
    key_file: ManufacturerKeyFile = None,
) -> None:
    """Issue codes for a released lot (manufacturer) and write their QR images for stickers.

    The gateway commissions them; never more than the lot's declared packs. Exit code 0 if
    issued, 1 if the gateway refuses (not a manufacturer, lot not declared, past its packs), 2
    if the input is unusable or the gateway or its chain cannot be reached. See docs/codes.md.
    """
    from provenance.codes_command import run_codes

    raise typer.Exit(
        run_codes(
            gtin,
            lot,
            count=count,
            out=out,
            image_format=image_format,
            declare=declare,
            expiry=expiry,
            gateway_url=gateway,
            key_file=default_key_file(
                key_file, MANUFACTURER_KEY_FILES, "manufacturer", written_by_up=False
            ),
            echo=typer.echo,
        )
    )


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for keys, deployment and receipts.")] = Path(
        "demo-out"
    ),
) -> None:
    """Run the molecule-to-pack story on an in-process chain and verify every receipt."""
    private_umask()  # first: every file it makes is its owner's only
    from provenance import demo as demo_module  # the demo's TestClient, only when asked

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
    workers: Annotated[
        int | None,
        typer.Option(help="HTTP server processes on the port (PostgreSQL and --chain-url)."),
    ] = None,
) -> None:
    """Run the gateway: EPCIS 2.0 capture, custody rules, batching and anchoring.

    Settings come from PROVENANCE_GATEWAY_* environment variables; options override them.
    """
    private_umask()  # first: its database, keys and logs are its owner's only
    from provenance import serve

    overrides = {
        "host": host,
        "port": port,
        "data_dir": data_dir,
        "chain_url": chain_url,
        "database_url": database_url,
        "workers": workers,
    }
    raise typer.Exit(serve.run_gateway({k: v for k, v in overrides.items() if v is not None}))


@app.command()
def indexer(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port of the query API.")] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Folder for the SQLite index and the reader key.")
    ] = None,
    chain_url: Annotated[str | None, typer.Option(help="JSON-RPC node to follow.")] = None,
    database_url: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL, e.g. postgresql+psycopg://...")
    ] = None,
    deployment_file: Annotated[
        Path | None, typer.Option(help="Contract addresses (the gateway's deployment.json).")
    ] = None,
    gateway_url: Annotated[
        str | None, typer.Option(help="Gateway to fetch batch contents from.")
    ] = None,
    gateway_api_key_file: Annotated[
        Path | None, typer.Option(help="File with a regulator or auditor key of the gateway.")
    ] = None,
    batch_dir: Annotated[
        Path | None, typer.Option(help="Offline audit: a folder of batch files instead.")
    ] = None,
) -> None:
    """Run the indexer: follow the chain, verify every batch against its root, serve queries.

    Settings come from PROVENANCE_INDEXER_* environment variables; options override them.
    """
    private_umask()  # first: its database, keys and logs are its owner's only
    from provenance import serve_indexer

    overrides = {
        "host": host,
        "port": port,
        "data_dir": data_dir,
        "chain_url": chain_url,
        "database_url": database_url,
        "deployment_file": deployment_file,
        "gateway_url": gateway_url,
        "gateway_api_key_file": gateway_api_key_file,
        "batch_dir": batch_dir,
    }
    raise typer.Exit(
        serve_indexer.run_indexer({k: v for k, v in overrides.items() if v is not None})
    )


@app.command()
def simulate(
    gateway: GatewayUrl = DEFAULT_GATEWAY_URL,
    key_file: RegulatorKeyFile = None,
    seed: Annotated[int, typer.Option(help="Seed: the same seed, the same scenario.")] = 1,
    packs: Annotated[int, typer.Option(help="Packs to move (rounded up to whole lots).")] = 2000,
    frauds: Annotated[int, typer.Option(help="Cases injected of each kind of fraud.")] = 1,
) -> None:
    """Build a seeded network through the gateway, move packs through it and inject frauds.

    Prints one JSON line per injected case (kind, subject, eventID) for the indexer's alerts
    to be compared with (docs/detection.md). Exit code 0 when done, 2 if the gateway refuses
    or cannot be reached. Registers new participants: use a fresh seed on a gateway that ran
    one before.
    """
    import json

    import httpx

    from provenance.progress import counters
    from provenance.simulate import SimulationError, run_against

    key_file = default_key_file(key_file, REGULATOR_KEY_FILES, "regulator")
    try:
        regulator_key = key_file.read_text(encoding="utf-8").strip()
        kinds = {"participants": "participants registered", "events": "events captured"}
        with counters(kinds) as bars:
            scenario = run_against(
                gateway, regulator_key, seed=seed, packs=packs, frauds=frauds, report=bars.report
            )
    except (OSError, httpx.HTTPError, SimulationError) as exc:
        typer.echo(f"simulation failed: {exc}", err=True)
        raise typer.Exit(EXIT_UNUSABLE) from exc
    for case in scenario.cases:
        typer.echo(json.dumps(case.to_json()))
    typer.echo(
        f"{scenario.packs} packs, {scenario.events} events, {len(scenario.cases)} cases injected",
        err=True,
    )


@app.command()
def up(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Folder for the chain, stores and keys. Default: data; with --embedded, a "
            "temporary folder removed on exit.",
            show_default=False,
        ),
    ] = None,
    chain_url: Annotated[
        str | None, typer.Option(help="Use this JSON-RPC node instead of a local ganache.")
    ] = None,
    embedded: Annotated[
        bool,
        typer.Option(help="In-process chain: the ledger does not survive the process."),
    ] = False,
    database_url: Annotated[
        str | None,
        typer.Option(help="One PostgreSQL database for both, e.g. postgresql+psycopg://..."),
    ] = None,
    host: Annotated[str, typer.Option(help="Address every service binds to.")] = "127.0.0.1",
    chain_port: Annotated[int, typer.Option(help="Port of the local ganache.")] = 8545,
    gateway_port: Annotated[int, typer.Option(help="Port of the gateway.")] = 8000,
    indexer_port: Annotated[int, typer.Option(help="Port of the indexer's query API.")] = 8001,
    log_format: Annotated[
        Literal["auto", "text", "json"],
        typer.Option(help="Log lines on stderr: auto is text on a terminal, else JSON."),
    ] = "auto",
) -> None:
    """Start the whole network: chain, contracts, gateway, indexer. Ctrl-C stops; data is kept.

    Prints each start-up step, then one log line per request and per anchored batch. Exit code
    0 after Ctrl-C, 1 if a part died, 2 if it cannot start (one line naming the cause).
    """
    private_umask()  # first: the chain's seed and log, databases, keys: owner-only
    from provenance.up import UpOptions, configure_up_logging, run_up

    configure_up_logging(log_format)
    if embedded and chain_url is not None:
        typer.echo("provenance up: --embedded and --chain-url exclude each other", err=True)
        raise typer.Exit(EXIT_UNUSABLE)
    options = UpOptions(
        data_dir=data_dir,
        chain_url=chain_url,
        embedded=embedded,
        database_url=database_url,
        host=host,
        chain_port=chain_port,
        gateway_port=gateway_port,
        indexer_port=indexer_port,
        log_format=log_format,
    )
    raise typer.Exit(run_up(options))


def main() -> None:
    """The console script: usage errors are one line on stderr and exit code 2 (not typer's
    framed panel); everything else as the commands decide."""
    restore_recursion_limit()  # py_ecc raised it on import (see servicekit/interpreter.py)
    try:
        code = app(prog_name="provenance", standalone_mode=False)
    except NoArgsIsHelpError as exc:
        exc.show()  # `provenance` alone: the help
        sys.exit(EXIT_UNUSABLE)
    except UsageError as exc:
        typer.echo(usage_error_line(exc), err=True)
        sys.exit(EXIT_UNUSABLE)
    except ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except Abort:
        typer.echo("Aborted!", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
