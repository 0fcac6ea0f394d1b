"""The options and arguments several verbs share, declared once (``cli.py`` uses them as
types: ``gateway: GatewayUrl = DEFAULT_GATEWAY_URL``), and where the key files are looked for.

Imported at start-up by every command: nothing heavy here (no httpx, no rich).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from provenance.exits import EXIT_UNUSABLE

#: Where ``provenance up`` (and each service alone) listens by default.
DEFAULT_GATEWAY_URL = "http://127.0.0.1:8000"
DEFAULT_INDEXER_URL = "http://127.0.0.1:8001"

#: Default key files, the first that exists: the layout of ``provenance up`` (``data/gateway/``,
#: ``data/indexer/``), then that of a standalone ``provenance gateway --data-dir data`` (or
#: ``provenance indexer``). ``up`` writes the regulator's and the reader's keys itself; a
#: manufacturer's key is the one ``POST /participants`` answered, saved by hand.
REGULATOR_KEY_FILES = (Path("data/gateway/regulator.api-key"), Path("data/regulator.api-key"))
MANUFACTURER_KEY_FILES = (
    Path("data/gateway/manufacturer.api-key"),
    Path("data/manufacturer.api-key"),
)
INDEXER_READER_KEY_FILES = (
    Path("data/indexer/indexer-reader.api-key"),
    Path("data/indexer-reader.api-key"),
)


def default_key_file(
    given: Path | None, candidates: tuple[Path, ...], what: str, *, written_by_up: bool = True
) -> Path:
    """``given`` if the user passed --key-file, else the first of ``candidates`` that exists.

    None exists: exit with code 2 and a message naming every place looked at.
    """
    if given is not None:
        return given
    for path in candidates:
        if path.is_file():
            return path
    looked = " nor ".join(str(path) for path in candidates)
    hint = "`provenance up` writes the first" if written_by_up else "save the key in one of them"
    typer.echo(
        f"unusable input: no {what} key file: neither {looked} exists ({hint}); pass --key-file",
        err=True,
    )
    raise typer.Exit(EXIT_UNUSABLE)


def _key_file_help(what: str, candidates: tuple[Path, ...], *, written_by_up: bool = True) -> str:
    first, *others = candidates
    where = " (where `provenance up` writes it)" if written_by_up else ""
    rest = ", else ".join(str(p) for p in others)
    return f"File with the {what}. Default: {first}{where} if it exists, else {rest}."


def _key_file(help: str) -> typer.models.OptionInfo:
    option: typer.models.OptionInfo = typer.Option("--key-file", help=help, show_default=False)
    return option


# --- services and their keys (resolve a key file with default_key_file) -----------------------

#: Environment variables a shell (or a runbook) sets once instead of --gateway / --indexer.
GATEWAY_URL_VARIABLE = "PROVENANCE_GATEWAY_URL"
INDEXER_URL_VARIABLE = "PROVENANCE_INDEXER_URL"

GatewayUrl = Annotated[
    str, typer.Option("--gateway", envvar=GATEWAY_URL_VARIABLE, help="Gateway URL.")
]
IndexerUrl = Annotated[
    str, typer.Option("--indexer", envvar=INDEXER_URL_VARIABLE, help="Indexer query API URL.")
]
RegulatorKeyFile = Annotated[
    Path | None,
    _key_file(_key_file_help("regulator's API key of the gateway", REGULATOR_KEY_FILES)),
]
DeclarerKeyFile = Annotated[
    Path | None,
    _key_file(
        _key_file_help(
            "API key of the gateway of the participant that declares it (the regulator's by "
            "default)",
            REGULATOR_KEY_FILES,
        )
    ),
]
SuspenderKeyFile = Annotated[
    Path | None,
    _key_file(
        _key_file_help(
            "API key of the gateway of the regulator or a pharmacovigilance officer (the "
            "regulator's by default)",
            REGULATOR_KEY_FILES,
        )
    ),
]
ManufacturerKeyFile = Annotated[
    Path | None,
    _key_file(
        _key_file_help(
            "manufacturer's API key of the gateway", MANUFACTURER_KEY_FILES, written_by_up=False
        )
    ),
]
ReaderKeyFile = Annotated[
    Path | None,
    _key_file(_key_file_help("indexer reader key", INDEXER_READER_KEY_FILES)),
]

# --- a lot: recall, release, codes --------------------------------------------------------------

Gtin = Annotated[str, typer.Argument(help="GTIN-14 of the product.", show_default=False)]
Lot = Annotated[str, typer.Argument(help="Lot (batch) number.", show_default=False)]
ReasonCode = Annotated[
    int | None, typer.Option(help="On-chain reason code, 0 to 65535 (docs/recalls.md).")
]
