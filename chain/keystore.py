"""Participant keys in encrypted Ethereum keystore files (Web3 Secret Storage, version 3).

The gateway signs anchoring transactions for participants that let it hold their keys
(custodial). Keys are encrypted at rest; the password comes from a secret file or an environment
variable chosen by the operator, never from a default, except in explicit development mode.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from medledger.errors import KeystoreError

#: Only the demo and tests may use this; :func:`resolve_password` refuses it otherwise.
DEVELOPMENT_PASSWORD = "development-only-insecure-password"


def resolve_password(
    *,
    password_file: Path | None = None,
    password_env: str | None = None,
    development: bool = False,
) -> str:
    """Read the keystore password from a file (first line) or an environment variable.

    In development mode, and only then, a missing password falls back to
    :data:`DEVELOPMENT_PASSWORD`. Otherwise a missing or empty password is an error, and so is the
    development password itself.
    """
    password: str | None = None
    if password_file is not None:
        try:
            password = password_file.read_text(encoding="utf-8").splitlines()[0].strip()
        except (OSError, IndexError) as exc:
            raise KeystoreError(f"cannot read keystore password file {password_file}") from exc
    elif password_env is not None:
        password = os.environ.get(password_env)
    if not password:
        if development:
            return DEVELOPMENT_PASSWORD
        raise KeystoreError(
            "no keystore password: give a password file or set the password environment variable"
        )
    if password == DEVELOPMENT_PASSWORD and not development:
        raise KeystoreError("the development keystore password is refused outside development")
    return password


def create_keystore(
    path: Path, password: str, *, private_key: bytes | None = None, fast_kdf: bool = False
) -> LocalAccount:
    """Write a new (or the given) key to ``path``, encrypted, readable by the owner only.

    ``fast_kdf`` uses cheap PBKDF2 parameters, for tests and the demo only.
    """
    account: LocalAccount = (
        Account.from_key(private_key) if private_key is not None else Account.create()
    )
    kdf_options: dict[str, Any] = {"kdf": "pbkdf2", "iterations": 1024} if fast_kdf else {}
    document = Account.encrypt(account.key, password, **kdf_options)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.exists():
        raise KeystoreError(f"refusing to overwrite keystore {path}")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document, handle)
    return account


def load_keystore(path: Path, password: str) -> LocalAccount:
    """Decrypt the keystore at ``path``; a wrong password or a broken file is a KeystoreError."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise KeystoreError(f"cannot read keystore {path}: {exc}") from exc
    try:
        key = Account.decrypt(document, password)
    except ValueError as exc:
        raise KeystoreError(f"cannot decrypt keystore {path}: wrong password?") from exc
    account: LocalAccount = Account.from_key(key)
    return account


def keystore_address(path: Path) -> str:
    """The checksummed address recorded in a keystore file, without decrypting it."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return str(to_checksum_address("0x" + str(document["address"]).removeprefix("0x")))
    except (OSError, json.JSONDecodeError, KeyError) as exc:
        raise KeystoreError(f"cannot read keystore {path}: {exc}") from exc
