"""``provenance masterdata import FILE``: locations and products into the gateway.

The file (CSV with the columns of docs/masterdata.md, ``.csv``; an EPCISMasterDataDocument or an
EPCIS document with master data in its header, as XML ``.xml`` or JSON-LD ``.json``/``.jsonld``)
goes to ``POST /masterdata`` with the declarer's key. The gateway stores every record or none.
Exit codes: 0 stored; 1 refused by the gateway (a suspended participant); 2 unusable input (an
unreadable file, an unknown suffix, a row or record the gateway refuses with its rule and pointer,
``masterdata.not-yours`` included) or an unreachable gateway.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from provenance.exits import EXIT_OK, EXIT_UNUSABLE
from provenance.http import GATEWAY_WRITE_TIMEOUT, Service, ServiceError, accepted, read_key
from provenance.options import DEFAULT_GATEWAY_URL

Echo = Callable[[str], None]
MEDIA_TYPES = {
    ".csv": "text/csv",
    ".xml": "application/xml",
    ".json": "application/ld+json",
    ".jsonld": "application/ld+json",
}


def run_import(
    path: Path,
    *,
    gateway_url: str = DEFAULT_GATEWAY_URL,
    key_file: Path,
    client: httpx.Client | None = None,
    echo: Echo = print,
) -> int:
    """Import ``path``; ``client`` (a TestClient in tests) overrides ``gateway_url``."""
    media = MEDIA_TYPES.get(path.suffix.lower())
    if media is None:
        echo(
            f"unusable input: {path} is neither .csv, .xml, .json nor .jsonld (docs/masterdata.md)"
        )
        return EXIT_UNUSABLE
    try:
        key = read_key(key_file)
        body = path.read_bytes()
    except ServiceError as exc:
        echo(f"unusable input: {exc}")
        return EXIT_UNUSABLE
    except OSError as exc:
        echo(f"unusable input: cannot read {path}: {exc.strerror}")
        return EXIT_UNUSABLE
    gateway = Service.using(
        "gateway", client, gateway_url, timeout=GATEWAY_WRITE_TIMEOUT, api_key=key
    )
    try:
        answer = accepted(
            gateway.post("/masterdata", content=body, headers={"Content-Type": media})
        ).json()
    except ServiceError as exc:
        echo(f"{path}: {exc}")
        return exc.exit_code
    finally:
        gateway.close()
    echo(
        f"{path}: {len(answer['masterdataIDs'])} master data records, {answer['stored']} new, "
        f"{answer['duplicates']} already known; anchored with the next batch"
    )
    for record_id in answer["masterdataIDs"]:
        echo(f"  {record_id}")
    return EXIT_OK
