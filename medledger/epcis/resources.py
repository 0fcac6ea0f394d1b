"""Where the vendored GS1 artefacts live.

The gateway configuration may point at other copies; these defaults let the library run without
``../shared`` (see ``schema/README.md`` for provenance and licence).
"""

from __future__ import annotations

from pathlib import Path

VENDORED_DIR = Path(__file__).resolve().parent / "schema"
DEFAULT_SCHEMA_PATH = VENDORED_DIR / "EPCIS-JSON-Schema.json"
DEFAULT_CONTEXT_DIR = VENDORED_DIR / "jsonld-context"
