"""Secret files: a key or token written for its owner's eyes only.

A service that makes a secret for a person (the indexer's bootstrap regulator key, the gateway's
bootstrap key) writes it to a file readable by its owner alone: 0600 from the first byte, in a
directory made 0700 if it has to be made. Nothing else is in the file but the secret and a newline.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_secret(path: Path, secret: str) -> None:
    """Write ``secret`` to ``path`` readable by its owner only (0600 from the first byte)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (secret + "\n").encode())
    finally:
        os.close(fd)
