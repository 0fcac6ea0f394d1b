"""Participant keys in encrypted Ethereum keystore files (Web3 Secret Storage, version 3).

The gateway signs anchoring transactions for participants that let it hold their keys
(custodial). Keys are encrypted at rest with scrypt (n=2^18, r=8, p=1: eth-account's default,
about a second per file); the password comes from a secret file or an environment variable
chosen by the operator, never from a default, except in explicit development mode (the demo and
the in-process chain of ``up --embedded``), which also uses a fast KDF.

A keystore whose KDF is weaker than that (the fast development KDF, or another tool's light
parameters) is *weak*: :func:`weak_keystores` finds them without decrypting anything, and
:func:`reencrypt_keystore` replaces one, atomically, by the same key under a new password.
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
#: The KDF of every keystore written outside development: scrypt, eth-account's (and geth's
#: standard) cost, n=2^18, r=8, p=1.
SCRYPT_OPTIONS: dict[str, Any] = {"kdf": "scrypt", "iterations": 2**18}
#: The development KDF (demo, tests): cheap PBKDF2, a few milliseconds.
FAST_KDF_OPTIONS: dict[str, Any] = {"kdf": "pbkdf2", "iterations": 1024}
#: Below these a keystore is weak (:func:`is_weak`): eth-keyfile's defaults.
MIN_SCRYPT_N = 2**18
MIN_PBKDF2_ITERATIONS = 1_000_000


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
    kdf_options = FAST_KDF_OPTIONS if fast_kdf else SCRYPT_OPTIONS
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


def is_weak(document: dict[str, Any]) -> bool:
    """Whether a keystore document's KDF is cheaper than scrypt n=2^18 (or PBKDF2 with 10^6
    iterations): the development KDF, or an unknown one. Nothing is decrypted."""
    crypto = document.get("crypto") or document.get("Crypto") or {}
    kdf, params = crypto.get("kdf"), crypto.get("kdfparams") or {}
    try:
        if kdf == "scrypt":
            return int(params["n"]) < MIN_SCRYPT_N
        if kdf == "pbkdf2":
            return int(params["c"]) < MIN_PBKDF2_ITERATIONS
    except (KeyError, TypeError, ValueError):
        return True
    return True


def keystore_files(directory: Path) -> list[Path]:
    """The keystore files (``*.json``) in ``directory``, sorted; none if it does not exist."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob("*.json") if p.is_file())


def weak_keystores(directory: Path) -> list[Path]:
    """The keystores in ``directory`` with a weak KDF (see :func:`is_weak`); a file that is not
    a keystore document is reported as weak too (it cannot be trusted to be strong)."""
    weak: list[Path] = []
    for path in keystore_files(directory):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            weak.append(path)
            continue
        if not isinstance(document, dict) or is_weak(document):
            weak.append(path)
    return weak


def reencrypt_keystore(path: Path, old_passwords: list[str], new_password: str) -> LocalAccount:
    """Replace the keystore at ``path`` by the same key under ``new_password`` with scrypt.

    The first of ``old_passwords`` that opens it is used (a KeystoreError if none does). The new
    document goes to a fresh 0600 file next to ``path`` that then replaces it in one rename: a
    crash leaves the old keystore or the new one, never half of one.
    """
    account: LocalAccount | None = None
    for password in old_passwords:
        try:
            account = load_keystore(path, password)
            break
        except KeystoreError:
            continue
    if account is None:
        raise KeystoreError(f"cannot decrypt keystore {path} with any password given")
    document = Account.encrypt(account.key, new_password, **SCRYPT_OPTIONS)
    fresh = path.with_name(f".{path.name}.{os.getpid()}.reencrypt")
    fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle)
            handle.flush()
            os.fsync(handle.fileno())
        if load_keystore(fresh, new_password).address != account.address:
            raise KeystoreError(f"re-encrypting {path} did not give back the same key")
        os.replace(fresh, path)
    finally:
        fresh.unlink(missing_ok=True)
    return account
