"""``provenance keys``: the keys and secrets of a network's data folder.

- ``keys check [DATA_DIR]``: every secret file under the folder (keystores, ``*.api-key``,
  ``*.password``, the chain's ``seed``, SQLite databases, logs) that group or others may read,
  or that sits in a folder they may open. Exit 0 if none, 1 if any, 2 if the folder is unusable.
- ``keys reencrypt DATA_DIR``: the gateway's keystores with a weak KDF (written by earlier
  versions on the public development password) re-encrypted with scrypt under the configured or
  generated password, each atomically. Exit 0 when done (or nothing to do), 2 if a keystore
  cannot be opened or the settings are unusable.

``keys_app`` is a typer sub-app: further verbs (listing, issuing, rotating keys) are added to it
with ``@keys_app.command()``. Heavy imports stay inside the commands (the CLI starts faster).
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from provenance.exits import EXIT_OK, EXIT_UNUSABLE

keys_app = typer.Typer(
    name="keys",
    help="API keys (list, issue, rotate, revoke, audit) and the secrets of a data folder "
    "(check their permissions, re-encrypt keystores).",
    no_args_is_help=True,
    add_completion=False,
)

#: ``keys check``: some secret is open to group or others.
EXIT_EXPOSED = 1

#: Secret files by name: exact names, and endings (SQLite's -wal/-shm/-journal included).
SECRET_NAMES = frozenset({"seed"})
SECRET_SUFFIXES = (".api-key", ".password", ".log")
DATABASE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
DATABASE_SIDE_FILES = ("", "-wal", "-shm", "-journal")
#: A JSON file this small or smaller is opened to see whether it is a keystore.
KEYSTORE_MAX_BYTES = 64 * 1024


@dataclass(frozen=True)
class Exposure:
    """A secret file that group or others may read (or reach through an open folder)."""

    path: Path
    kind: str
    mode: int
    open_folders: tuple[tuple[Path, int], ...]

    def as_json(self, root: Path) -> dict[str, object]:
        """The exposure for ``keys check --json``: paths under ``root``, modes in octal."""
        return {
            "path": str(self.path.relative_to(root) if self.path != root else self.path),
            "kind": self.kind,
            "mode": f"{self.mode:04o}",
            "openToOthers": bool(self.mode & 0o077),
            "openFolders": [
                {"path": str(folder), "mode": f"{mode:04o}"} for folder, mode in self.open_folders
            ],
        }

    def line(self, root: Path) -> str:
        where = self.path.relative_to(root) if self.path != root else self.path
        reasons = []
        if self.mode & 0o077:
            reasons.append(f"mode {self.mode:04o}")
        reasons += [f"in folder {folder} ({mode:04o})" for folder, mode in self.open_folders]
        return f"{where} ({self.kind}): {', '.join(reasons)}"


def secret_kind(path: Path) -> str | None:
    """What secret ``path`` holds, by its name (or, for JSON, its content); None if none."""
    name = path.name
    if name in SECRET_NAMES:
        return "chain wallet seed"
    for suffix in SECRET_SUFFIXES:
        if name.endswith(suffix):
            return {".api-key": "API key", ".password": "password", ".log": "log"}[suffix]
    for suffix in DATABASE_SUFFIXES:
        for side in DATABASE_SIDE_FILES:
            if name.endswith(suffix + side):
                return "SQLite database"
    if name.endswith(".json") and _is_keystore(path):
        return "keystore"
    return None


def _is_keystore(path: Path) -> bool:
    try:
        if path.stat().st_size > KEYSTORE_MAX_BYTES:
            return False
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(document, dict) and ("crypto" in document or "Crypto" in document)


def exposures(root: Path) -> list[Exposure]:
    """Every secret file under ``root`` open to group or others, itself or through a folder
    between ``root`` (included) and it. Symbolic links are not followed."""
    found: list[Exposure] = []
    folder_modes: dict[Path, int] = {}
    for folder, folders, files in os.walk(root, followlinks=False):
        here = Path(folder)
        folder_modes[here] = stat.S_IMODE(os.lstat(here).st_mode)
        folders.sort()
        for name in sorted(files):
            path = here / name
            info = os.lstat(path)
            if not stat.S_ISREG(info.st_mode):
                continue
            kind = secret_kind(path)
            if kind is None:
                continue
            mode = stat.S_IMODE(info.st_mode)
            open_folders: list[tuple[Path, int]] = []
            folder_path = here
            while True:  # os.walk is top-down: every folder above is known
                if folder_modes[folder_path] & 0o077:
                    open_folders.insert(0, (folder_path, folder_modes[folder_path]))
                if folder_path == root or folder_path.parent == folder_path:
                    break
                folder_path = folder_path.parent
            if mode & 0o077 or open_folders:
                found.append(Exposure(path, kind, mode, tuple(open_folders)))
    return found


@keys_app.command()
def check(
    data_dir: Annotated[
        Path,
        typer.Argument(help="The data folder (of `provenance up`, or of one service)."),
    ] = Path("data"),
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help='One JSON object on stdout: {"folder", "exposed": [{"path", "kind", "mode", '
            '"openToOthers", "openFolders"}]} (for monitoring); the exit codes are the same.',
        ),
    ] = False,
) -> None:
    """Report every secret file group or others may read: keystores, *.api-key, *.password,
    the chain's seed, SQLite databases, logs (or one in a folder they may open).

    Exit code 0 if none, 1 if any, 2 if the folder cannot be read.
    """
    if not data_dir.is_dir():
        typer.echo(f"unusable {data_dir}: not a folder", err=True)
        raise typer.Exit(EXIT_UNUSABLE)
    try:
        found = exposures(data_dir)
    except OSError as exc:
        typer.echo(f"unusable {data_dir}: {exc}", err=True)
        raise typer.Exit(EXIT_UNUSABLE) from exc
    if as_json:
        exposed = [exposure.as_json(data_dir) for exposure in found]
        typer.echo(json.dumps({"folder": str(data_dir), "exposed": exposed}))
        raise typer.Exit(EXIT_EXPOSED if found else EXIT_OK)
    for exposure in found:
        typer.echo(f"open to group/others: {exposure.line(data_dir)}")
    if found:
        typer.echo(
            f"{len(found)} secret file(s) in {data_dir} open to group/others: "
            "chmod 600 the files and 700 the folders"
        )
        raise typer.Exit(EXIT_EXPOSED)
    typer.echo(f"every secret file in {data_dir} is readable by its owner only")
    raise typer.Exit(EXIT_OK)


def gateway_data_dir(data_dir: Path) -> Path:
    """The gateway's data folder: ``data_dir`` itself, or its ``gateway`` folder (``up``)."""
    if not (data_dir / "keys").is_dir() and (data_dir / "gateway").is_dir():
        return data_dir / "gateway"
    return data_dir


@keys_app.command()
def reencrypt(
    data_dir: Annotated[
        Path,
        typer.Argument(
            help="The gateway's data folder (or `provenance up`'s, holding gateway/).",
            show_default=False,
        ),
    ],
    old_password_file: Annotated[
        Path | None,
        typer.Option(
            help="File holding the keystores' current password, if neither the public "
            "development one nor the new one.",
        ),
    ] = None,
) -> None:
    """Re-encrypt the gateway's weak keystores (a fast KDF, e.g. on the public development
    password) with scrypt under the configured password.

    The password is PROVENANCE_GATEWAY_KEYSTORE_PASSWORD or _KEYSTORE_PASSWORD_FILE, else the
    generated DATA_DIR/keystore.password (made now if missing), as the gateway will use it.
    Each keystore is replaced atomically. Stop the gateway first. Exit code 0 when done (or
    nothing to do), 2 if the settings are unusable or a keystore cannot be opened.
    """
    from pydantic import ValidationError as SettingsError

    from chain.keystore import DEVELOPMENT_PASSWORD, reencrypt_keystore, weak_keystores
    from gateway.settings import GatewaySettings
    from medledger.errors import ProvenanceError

    if not data_dir.is_dir():
        typer.echo(f"unusable {data_dir}: not a folder", err=True)
        raise typer.Exit(EXIT_UNUSABLE)
    try:
        settings = GatewaySettings(data_dir=gateway_data_dir(data_dir))
        password = settings.keystore_password_value()
        old = [DEVELOPMENT_PASSWORD, password]
        if old_password_file is not None:
            old.insert(0, old_password_file.read_text(encoding="utf-8").strip())
    except (SettingsError, ProvenanceError, OSError) as exc:
        typer.echo(f"unusable settings: {exc}", err=True)
        raise typer.Exit(EXIT_UNUSABLE) from exc
    weak = weak_keystores(settings.resolved_keystore_dir)
    if not weak:
        typer.echo(f"nothing to re-encrypt: no weak keystore in {settings.resolved_keystore_dir}")
        raise typer.Exit(EXIT_OK)
    failed = 0
    for path in weak:
        try:
            account = reencrypt_keystore(path, old, password)
        except ProvenanceError as exc:
            failed += 1
            typer.echo(f"cannot re-encrypt {path}: {exc}", err=True)
            continue
        typer.echo(f"re-encrypted {path} ({account.address}) with scrypt")
    if failed:
        typer.echo(f"{failed} of {len(weak)} keystore(s) not re-encrypted", err=True)
        raise typer.Exit(EXIT_UNUSABLE)
    typer.echo(f"{len(weak)} keystore(s) re-encrypted under the configured password")
