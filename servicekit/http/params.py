"""Path and query parameters several routes share, bounded before they reach a database."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

#: The largest row id a database column holds (SQLite's INTEGER and PostgreSQL's BIGINT): a
#: larger number in a URL is a 422, never an overflow inside the driver (a 500).
MAX_ROW_ID = 2**63 - 1

KeyId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="the key's id (from the list)")]
