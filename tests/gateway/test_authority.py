"""Commissioning authority at the gateway (issue 14, finding 5): through ``/capture`` as through
``/codes``, a manufacturer commissions only its own products, only into its own lots, and never
past a lot's declared packs; the regulator registers the company prefixes that say what is whose.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from gateway.code_issuance import commissioning_document
from medledger.epcis.builders import Actor
from medledger.epcis.gs1 import check_digit
from medledger.roles import Role
from provenance.journey import MANUFACTURER
from tests.gateway.conftest import Gateway, GatewayFactory

PROBLEM = "application/problem+json"
GTIN_BODY = "0470012377777"
GTIN = GTIN_BODY + str(check_digit(GTIN_BODY))  # under MANUFACTURER's prefix 4700123
LOT = "A2026-5"
EXPIRY = "2028-06-30"
#: A second manufacturer with a company prefix of its own.
RIVAL = Actor("Osh Generics (manufacturer)", Role.MANUFACTURER, "4700998")


@pytest.fixture(scope="module")
def gateway(make_module_gateway: GatewayFactory) -> Gateway:
    """One gateway per module and database: each test declares a lot of its own."""
    return make_module_gateway()


def register_rival(gateway: Gateway, prefixes: list[str] | None = None) -> None:
    body = RIVAL.registration(companyPrefixes=prefixes or [RIVAL.company_prefix])
    created = gateway.http.post("/participants", json=body, headers=gateway.regulator)
    assert created.status_code == 201, created.text
    assert created.json()["companyPrefixes"] == body["companyPrefixes"]
    gateway.keys[RIVAL.name] = {"Authorization": f"Bearer {created.json()['apiKey']}"}
    gateway.addresses[RIVAL.name] = created.json()["address"]


def declare(gateway: Gateway, packs: int, lot: str = LOT) -> Any:
    body = {"gtin": GTIN, "lot": lot, "expiry": EXPIRY, "packs": packs}
    response = gateway.http.post("/lots", json=body, headers=gateway.headers(MANUFACTURER))
    assert response.status_code == 201, response.text
    return response.json()


def issue(gateway: Gateway, count: int, lot: str = LOT) -> Any:
    body = {"gtin": GTIN, "lot": lot, "count": count}
    return gateway.http.post("/codes", json=body, headers=gateway.headers(MANUFACTURER))


def commissioning(actor: Actor, serials: list[str], lot: str = LOT) -> dict[str, Any]:
    return commissioning_document(
        gtin=GTIN,
        serials=serials,
        lot=lot,
        expiry=date.fromisoformat(EXPIRY),
        gln=actor.gln,
        now=datetime.now(UTC),
    )


def issued(gateway: Gateway, lot: str = LOT) -> int:
    found = gateway.http.get(f"/lots/{GTIN}/{lot}", headers=gateway.headers(MANUFACTURER))
    assert found.status_code == 200, found.text
    return int(found.json()["issued"])


def refused(response: Any, rule: str) -> dict[str, Any]:
    """A capture refused by ``rule`` (400: the EPCIS binding's code for a refused document)."""
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM
    problem: dict[str, Any] = response.json()
    assert problem["rule"] == rule, problem
    return problem


def test_another_manufacturer_cannot_commission_into_a_declared_released_lot(
    gateway: Gateway,
) -> None:
    """Found: a second manufacturer commissioned an SGTIN into the first one's lot (202)."""
    declare(gateway, packs=3)
    assert issue(gateway, 1).status_code == 201
    register_rival(gateway)
    refused(
        gateway.capture(RIVAL, commissioning(RIVAL, ["RIVAL0001"])), "commission.not-own-product"
    )
    # a licensee of the same products (the regulator gave it the prefix too) still may not
    # commission into a lot its owner declared
    changed = gateway.http.put(
        f"/participants/{gateway.addresses[RIVAL.name]}/prefixes",
        json={"companyPrefixes": [RIVAL.company_prefix, MANUFACTURER.company_prefix]},
        headers=gateway.regulator,
    )
    assert changed.status_code == 200 and changed.json()["companyPrefixes"][1] == "4700123"
    refused(gateway.capture(RIVAL, commissioning(RIVAL, ["RIVAL0001"])), "commission.lot-not-own")
    assert issued(gateway) == 1


def test_a_manufacturer_cannot_commission_past_the_declared_packs(gateway: Gateway) -> None:
    """Found: 10 packs commissioned into a lot declared for 3 (202; /lots still said 1)."""
    declare(gateway, packs=3, lot="A2026-6")
    assert issue(gateway, 1, "A2026-6").status_code == 201
    serials = [f"OVER{n:04d}" for n in range(10)]
    problem = refused(
        gateway.capture(MANUFACTURER, commissioning(MANUFACTURER, serials, "A2026-6")),
        "commission.over-declared",
    )
    assert problem["pointer"] == "/epcisBody/eventList/0/epcList/2"
    assert issued(gateway, "A2026-6") == 1


def test_codes_and_capture_count_against_one_cap(gateway: Gateway) -> None:
    declare(gateway, packs=4, lot="A2026-7")
    assert issue(gateway, 2, "A2026-7").status_code == 201
    accepted = gateway.capture(MANUFACTURER, commissioning(MANUFACTURER, ["CAP0001"], "A2026-7"))
    assert accepted.status_code == 202, accepted.text
    assert issued(gateway, "A2026-7") == 3
    assert issue(gateway, 2, "A2026-7").status_code == 409  # one left, by either path
    assert issue(gateway, 1, "A2026-7").status_code == 201
    refused(
        gateway.capture(MANUFACTURER, commissioning(MANUFACTURER, ["CAP0002"], "A2026-7")),
        "commission.over-declared",
    )
    assert issued(gateway, "A2026-7") == 4


def test_company_prefixes_are_gs1_syntax_and_set_by_the_regulator_only(gateway: Gateway) -> None:
    body = RIVAL.registration(companyPrefixes=["123"])
    bad = gateway.http.post("/participants", json=body, headers=gateway.regulator)
    assert bad.status_code == 422 and bad.json()["rule"] == "gs1.companyPrefix"
    assert bad.json()["pointer"] == "/companyPrefixes/0"
    maker = gateway.addresses[MANUFACTURER.name]
    path = f"/participants/{maker}/prefixes"
    by_maker = gateway.http.put(
        path, json={"companyPrefixes": ["4700998"]}, headers=gateway.headers(MANUFACTURER)
    )
    assert by_maker.status_code == 403
    assert gateway.service.ledger.company_prefixes(maker) == ["4700123"]
    # a lot of another company's GTIN cannot be declared either (the registry would refuse it)
    other = {"gtin": "04700998000018", "lot": LOT, "expiry": EXPIRY, "packs": 1}
    response = gateway.http.post("/lots", json=other, headers=gateway.headers(MANUFACTURER))
    assert response.status_code == 422 and response.json()["rule"] == "commission.not-own-product"
