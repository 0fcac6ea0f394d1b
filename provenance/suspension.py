"""``provenance suspend``, ``provenance lift-suspension`` and ``provenance escalate``: the
regulator (or a pharmacovigilance officer) stops a lot pending investigation through the gateway
(docs/suspensions.md), lifts the stop, or (the regulator) turns it into a recall.

Exit codes as for ``provenance recall``: 0 done, 1 refused by the gateway (not allowed, unknown
lot, already suspended or recalled, not suspended), 2 unusable input or the gateway (or its chain)
unreachable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import httpx

from provenance.exits import EXIT_UNUSABLE
from provenance.http import GATEWAY_WRITE_TIMEOUT, Service, ServiceError, read_key
from provenance.options import DEFAULT_GATEWAY_URL
from provenance.recall import Echo, _check, _post, _Unusable

Change = Literal["suspend", "lift", "escalate"]
MAX_CASE_NUMBER = 32


def run_suspension(
    change: Change,
    gtin: str,
    lot: str,
    *,
    reason: str = "",
    reason_code: int | None = None,
    case_number: str | None = None,
    stops_shipping: bool | None = None,
    gateway_url: str = DEFAULT_GATEWAY_URL,
    key_file: Path,
    client: httpx.Client | None = None,
    echo: Echo = print,
) -> int:
    """``POST /suspensions`` (``suspend``), ``.../lift`` or ``.../escalate`` with the key in
    ``key_file``; ``client`` (a TestClient in tests) overrides ``gateway_url``."""
    try:
        gtin = _check(gtin, lot)
        if change == "suspend" and not 1 <= len(case_number or "") <= MAX_CASE_NUMBER:
            raise _Unusable(f"a case number of 1 to {MAX_CASE_NUMBER} characters is needed")
        key = read_key(key_file)
    except (_Unusable, ServiceError) as exc:
        echo(f"unusable input: {exc}")
        return EXIT_UNUSABLE
    body: dict[str, Any] = {"reason": reason}
    if reason_code is not None:
        body["reasonCode"] = reason_code
    if change == "suspend":
        path = "/suspensions"
        body |= {"gtin": gtin, "lot": lot, "caseNumber": case_number}
        if stops_shipping is not None:
            body["stopsShipping"] = stops_shipping
    else:
        path = f"/suspensions/{gtin}/{quote(lot, safe='')}/{change}"
    with Service.using(
        "gateway", client, gateway_url, timeout=GATEWAY_WRITE_TIMEOUT, api_key=key
    ) as gateway:
        code, answer = _post(gateway, path, body, echo)
    if answer is not None:
        echo(_summary(change, gtin, lot, answer))
    return code


def _summary(change: Change, gtin: str, lot: str, answer: dict[str, Any]) -> str:
    notified = f"{answer.get('notified', 0)} participant(s) notified"
    if change == "suspend":
        tx = answer.get("suspendTx") or "none: already so on-chain"
        stops = "dispensing and shipping" if answer.get("stopsShipping") else "dispensing"
        return (
            f"suspended lot {lot} of GTIN {gtin} pending case {answer.get('caseNumber')} "
            f"(suspension {answer.get('id')}, transaction {tx}): {stops} refused; {notified}"
        )
    tx = answer.get("closeTx") or "none: already so on-chain"
    if change == "lift":
        return (
            f"lifted the suspension of lot {lot} of GTIN {gtin} (suspension {answer.get('id')}, "
            f"transaction {tx}); {notified}"
        )
    return (
        f"escalated the suspension of lot {lot} of GTIN {gtin} to recall "
        f"{answer.get('recallId')} (transaction {tx}); {notified}"
    )
