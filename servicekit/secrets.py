"""Secret files: a key or token written for its owner's eyes only.

A service that makes a secret for a person (the indexer's bootstrap regulator key, the gateway's
bootstrap key) writes it to a file readable by its owner alone: 0600 from the first byte, in a
directory made 0700 if it has to be made. Nothing else is in the file but the secret and a newline.
The secret goes to a fresh file next to ``path`` (created exclusively) that then replaces
``path`` in one rename: a symlink or a wider-open file left at ``path`` is replaced, never
written through, and a crash leaves the old file or the new one, never half of one.

:func:`ensure_secret` makes a secret once (the gateway's generated keystore password) and reads
it back ever after; :func:`private_umask` makes everything a process creates owner-only.
"""

from __future__ import annotations

import os
import secrets
from contextlib import suppress
from pathlib import Path


def write_secret(path: Path, secret: str) -> None:
    """Write ``secret`` to ``path`` readable by its owner only (0600 from the first byte)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fresh = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (secret + "\n").encode())
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        fresh.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.replace(fresh, path)


def ensure_secret(path: Path, *, nbytes: int = 32) -> str:
    """The secret kept in ``path``, made once: ``nbytes`` random bytes (URL-safe text), 0600.

    The first caller writes a fresh file (0600 from the first byte) and links it to ``path``,
    which fails if ``path`` exists: so two processes starting at once agree on one secret, and a
    secret once made is never replaced. An empty or unreadable file is an error (OSError or
    ValueError), never a reason to make a new secret: keys encrypted with the old one would be
    lost.
    """
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        secret = (secrets.token_urlsafe(nbytes) + "\n").encode()
        fresh = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        _write_new(fresh, secret)
        try:
            os.link(fresh, path)  # never replaces: the first writer wins
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links: create it in place, exclusively
            with suppress(FileExistsError):
                _write_new(path, secret)
        finally:
            fresh.unlink(missing_ok=True)
    value = path.read_text(encoding="utf-8").strip()
    if not value:
        raise ValueError(f"{path} is empty")
    return value


def _write_new(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


#: Files and folders made from here on are for their owner only (``0o077`` masks group/other).
PRIVATE_UMASK = 0o077


def private_umask() -> int:
    """Make every file and folder this process creates from now on owner-only (umask 077):
    databases, logs, key and password files, whatever library creates them. Returns the old
    umask. The first thing ``provenance gateway|indexer|up|demo`` do."""
    return os.umask(PRIVATE_UMASK)
