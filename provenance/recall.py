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

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_UNUSABLE = 2
TIMEOUT = 60.0

Echo = Callable[[str], None]


class _Unusable(Exception):
    pass


def _key(path: Path) -> str:
    try:
        key = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise _Unusable(f"cannot read the key file {path}: {exc.strerror}") from exc
    if not key:
        raise _Unusable(f"the key file {path} is empty")
    return key


def _check(gtin: str, lot: str) -> str:
    """The gateway's own GS1 checks (medledger/epcis/gs1.py), before anything is sent; the GTIN
    as 14 digits."""
    try:
        gs1.lot(lot)
        return gs1.gtin(gtin)
    except ValidationError as exc:
        raise _Unusable(str(exc)) from None


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or body)
    return str(body)


def _post(
    client: httpx.Client, path: str, key: str, body: dict[str, Any], echo: Echo
) -> tuple[int, dict[str, Any] | None]:
    try:
        response = client.post(path, json=body, headers={"Authorization": f"Bearer {key}"})
    except httpx.HTTPError as exc:
        echo(f"the gateway does not answer: {exc}")
        return EXIT_UNUSABLE, None
    if response.is_success:
        answer: dict[str, Any] = response.json()
        return EXIT_OK, answer
    echo(f"refused ({response.status_code}): {_problem(response)}")
    if response.status_code == 422 or response.status_code >= 500:
        return EXIT_UNUSABLE, None  # malformed input, or the chain failed (nothing recorded)
    return EXIT_REFUSED, None


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
        key = _key(key_file)
    except _Unusable as exc:
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
    own = client is None
    http = client or httpx.Client(base_url=gateway_url, timeout=TIMEOUT)
    try:
        code, answer = _post(http, path, key, body, echo)
    finally:
        if own:
            http.close()
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
    gateway_url: str = "http://127.0.0.1:8000",
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
    gateway_url: str = "http://127.0.0.1:8000",
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
