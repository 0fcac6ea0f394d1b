"""Secret files: a key or token written for its owner's eyes only.

A service that makes a secret for a person (the indexer's bootstrap regulator key, the gateway's
bootstrap key) writes it to a file readable by its owner alone: 0600 from the first byte, in a
directory made 0700 if it has to be made. Nothing else is in the file but the secret and a newline.
The secret goes to a fresh file next to ``path`` (created exclusively) that then replaces
``path`` in one rename: a symlink or a wider-open file left at ``path`` is replaced, never
written through, and a crash leaves the old file or the new one, never half of one.
"""

from __future__ import annotations

import os
import secrets
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
