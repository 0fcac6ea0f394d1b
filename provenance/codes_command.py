"""``provenance codes``: a manufacturer gets N codes of a released lot and their QR images.

``POST /codes`` (after ``POST /lots`` when ``--declare PACKS --expiry DATE`` is given), then
each code's QR image (``GET /codes/{gtin}/{lot}/{serial}.png|.svg``) into ``--out``, with
``codes.csv`` (serial, Digital Link URI, human-readable text, event id) and ``sheet.svg`` (one
page of every code of the lot). Exit codes: 0 done, 1 refused by the gateway (not a
manufacturer, lot not declared, past its declared packs), 2 unusable input or unreachable.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from provenance.exits import EXIT_OK, EXIT_UNUSABLE
from provenance.http import (
    GATEWAY_WRITE_TIMEOUT,
    Service,
    ServiceError,
    accepted,
    read_key,
)
from provenance.options import DEFAULT_GATEWAY_URL
from provenance.progress import counters
from provenance.recall import _check, _Unusable

Echo = Callable[[str], None]


def run_codes(
    gtin: str,
    lot: str,
    *,
    count: int,
    out: Path,
    image_format: str = "png",
    declare: int | None = None,
    expiry: str | None = None,
    gateway_url: str = DEFAULT_GATEWAY_URL,
    key_file: Path,
    client: httpx.Client | None = None,
    echo: Echo = print,
) -> int:
    """Issue ``count`` codes and write their images to ``out``; ``client`` (a TestClient in
    tests) overrides ``gateway_url``."""
    try:
        _check(gtin, lot)
        key = read_key(key_file)
        if image_format not in ("png", "svg"):
            raise _Unusable(f"--format must be png or svg, got {image_format!r}")
        if count < 1:
            raise _Unusable(f"--count must be at least 1, got {count}")
        if declare is not None and expiry is None:
            raise _Unusable("--declare needs --expiry YYYY-MM-DD")
        if expiry is not None:
            try:
                date.fromisoformat(expiry)
            except ValueError as exc:
                raise _Unusable(f"--expiry must be YYYY-MM-DD, got {expiry!r}") from exc
        out.mkdir(parents=True, exist_ok=True)
    except (_Unusable, ServiceError, OSError) as exc:
        echo(f"unusable input: {exc}")
        return EXIT_UNUSABLE
    gateway = Service.using(
        "gateway", client, gateway_url, timeout=GATEWAY_WRITE_TIMEOUT, api_key=key
    )
    try:
        if declare is not None:
            body = {"gtin": gtin, "lot": lot, "expiry": expiry, "packs": declare}
            lot_answer = accepted(gateway.post("/lots", json=body)).json()
            echo(
                f"declared lot {lot} of GTIN {gtin}: {lot_answer['packs']} packs, "
                f"{lot_answer['remaining']} codes left (released by {lot_answer['releasedBy']})"
            )
        body = {"gtin": gtin, "lot": lot, "count": count, "format": image_format}
        if expiry is not None:
            body["expiry"] = expiry
        issued: list[dict[str, Any]] = accepted(gateway.post("/codes", json=body)).json()
        with counters({"images": f"{image_format.upper()} images written"}) as bars:
            for code in issued:
                image = accepted(gateway.get(code["image"])).content
                (out / f"{code['serial']}.{image_format}").write_bytes(image)
                bars.report("images", 1)
        with (out / "codes.csv").open("a", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            if handle.tell() == 0:
                writer.writerow(["serial", "uri", "text", "eventID"])
            for code in issued:
                writer.writerow([code["serial"], code["uri"], code["text"], code["eventID"]])
        sheet = f"/codes/{gtin}/{quote(lot, safe='')}/sheet.svg"
        (out / "sheet.svg").write_bytes(accepted(gateway.get(sheet)).content)
    except ServiceError as exc:  # no answer (2), refused (1; 2 for a 422 or a 5xx)
        echo(str(exc))
        return exc.exit_code
    except OSError as exc:
        echo(f"cannot write to {out}: {exc}")
        return EXIT_UNUSABLE
    finally:
        gateway.close()
    echo(
        f"issued {len(issued)} codes for lot {lot} of GTIN {gtin}, commissioned by event "
        f"{issued[0]['eventID'] if issued else '-'}; {image_format.upper()} files in {out}"
    )
    return EXIT_OK
