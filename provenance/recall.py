"""``provenance recall`` and ``provenance release``: a regulator recalls a lot through the gateway.

Exit codes: 0 done, 1 refused by the gateway (not the regulator, unknown lot, already recalled
or not recalled), 2 unusable input or the gateway (or its chain) unreachable.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from medledger.epcis import gs1
from medledger.errors import ValidationError
from provenance.exits import EXIT_OK, EXIT_UNUSABLE
from provenance.http import (
    GATEWAY_WRITE_TIMEOUT,
    Service,
    ServiceError,
    accepted,
    read_key,
)
from provenance.options import DEFAULT_GATEWAY_URL

Echo = Callable[[str], None]


class _Unusable(Exception):
    pass


def _check(gtin: str, lot: str) -> str:
    """The gateway's own GS1 checks (medledger/epcis/gs1.py), before anything is sent; the GTIN
    as 14 digits."""
    try:
        gs1.lot(lot)
        return gs1.gtin(gtin)
    except ValidationError as exc:
        raise _Unusable(str(exc)) from None


def _post(
    gateway: Service, path: str, body: dict[str, Any], echo: Echo
) -> tuple[int, dict[str, Any] | None]:
    try:
        response = accepted(gateway.post(path, json=body))
    except ServiceError as exc:
        echo(str(exc))  # a 422 or 5xx exits 2: malformed input, or the chain failed
        return exc.exit_code, None
    answer: dict[str, Any] = response.json()
    return EXIT_OK, answer


def _run(
    kind: str,
    gtin: str,
    lot: str,
    *,
    reason: str,
    reason_code: int | None,
    gateway_url: str,
    key_file: Path,
    client: httpx.Client | None,
    echo: Echo,
) -> int:
    try:
        gtin = _check(gtin, lot)
        key = read_key(key_file)
    except (_Unusable, ServiceError) as exc:
        echo(f"unusable input: {exc}")
        return EXIT_UNUSABLE
    body: dict[str, Any] = {"reason": reason}
    if reason_code is not None:
        body["reasonCode"] = reason_code
    if kind == "recall":
        path = "/recalls"
        body |= {"gtin": gtin, "lot": lot}
    else:
        path = f"/recalls/{gtin}/{quote(lot, safe='')}/release"
    with Service.using(
        "gateway", client, gateway_url, timeout=GATEWAY_WRITE_TIMEOUT, api_key=key
    ) as gateway:
        code, answer = _post(gateway, path, body, echo)
    if answer is not None:
        tx = answer.get("recallTx") if kind == "recall" else answer.get("releaseTx")
        verb = "recalled" if kind == "recall" else "released"
        echo(
            f"{verb} lot {lot} of GTIN {gtin} (recall {answer.get('id')}, transaction "
            f"{tx or 'none: already so on-chain'}); {answer.get('notified', 0)} participant(s) "
            "notified"
        )
    return code


def run_recall(
    gtin: str,
    lot: str,
    *,
    reason: str,
    reason_code: int | None = None,
    gateway_url: str = DEFAULT_GATEWAY_URL,
    key_file: Path,
    client: httpx.Client | None = None,
    echo: Echo = print,
) -> int:
    """``POST /recalls`` with the regulator's key; ``client`` (a TestClient in tests) overrides
    ``gateway_url``."""
    return _run(
        "recall",
        gtin,
        lot,
        reason=reason,
        reason_code=reason_code,
        gateway_url=gateway_url,
        key_file=key_file,
        client=client,
        echo=echo,
    )


def run_release(
    gtin: str,
    lot: str,
    *,
    reason: str = "",
    reason_code: int | None = None,
    gateway_url: str = DEFAULT_GATEWAY_URL,
    key_file: Path,
    client: httpx.Client | None = None,
    echo: Echo = print,
) -> int:
    """``POST /recalls/{gtin}/{lot}/release`` with the regulator's key."""
    return _run(
        "release",
        gtin,
        lot,
        reason=reason,
        reason_code=reason_code,
        gateway_url=gateway_url,
        key_file=key_file,
        client=client,
        echo=echo,
    )
