"""A participant's record (issue 15, point 1): its region (ISO 3166-2), one participant by
address, and the changes since a time for pollers (the indexer learns names from it)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest

from medledger.epcis.gs1 import check_digit
from provenance.journey import MANUFACTURER, PHARMACY
from tests.gateway.conftest import Gateway, GatewayFactory

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def gateway(make_module_gateway: GatewayFactory) -> Gateway:
    """One gateway per module and database: tests change only participants they register."""
    return make_module_gateway()


def gln(body: str) -> str:
    return body + str(check_digit(body))


def register(gateway: Gateway, number: str, **extra: Any) -> dict[str, Any]:
    body = {"name": "Apteka Chui", "roles": ["pharmacy"], "gln": number, **extra}
    response = gateway.http.post("/participants", json=body, headers=gateway.regulator)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_a_region_given_at_registration_is_kept_in_its_canonical_spelling(
    gateway: Gateway,
) -> None:
    created = register(gateway, gln("470099930000"), region=" kg-gb ")
    assert created["region"] == "KG-GB"
    assert created["updatedAt"] is not None
    shown = gateway.http.get(f"/participants/{created['address']}", headers=gateway.regulator)
    assert shown.status_code == 200 and shown.json()["region"] == "KG-GB"


def test_a_region_that_is_no_iso_3166_2_code_is_422_and_registers_nothing(
    gateway: Gateway,
) -> None:
    before = len(gateway.service.participants.all())
    response = gateway.http.post(
        "/participants",
        json={"name": "X", "roles": ["pharmacy"], "gln": gln("470099930001"), "region": "KG-XX"},
        headers=gateway.regulator,
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["rule"] == "participant.region"
    assert len(gateway.service.participants.all()) == before


def test_any_participant_reads_one_participant_and_an_unknown_one_is_404(
    gateway: Gateway,
) -> None:
    address = gateway.addresses[MANUFACTURER.name]
    shown = gateway.http.get(f"/participants/{address}", headers=gateway.headers(PHARMACY))
    assert shown.status_code == 200, shown.text
    assert shown.json()["name"] == MANUFACTURER.name and shown.json()["address"] == address
    assert shown.json()["roles"] == ["manufacturer"] and shown.json()["region"] is None
    lower = gateway.http.get(f"/participants/{address.lower()}", headers=gateway.regulator)
    assert lower.status_code == 200 and lower.json()["address"] == address
    unknown = gateway.http.get("/participants/0x" + "ab" * 20, headers=gateway.regulator)
    assert unknown.status_code == 404 and unknown.headers["content-type"] == PROBLEM
    assert gateway.http.get(f"/participants/{address}").status_code == 401


def test_the_regulator_sets_and_clears_a_region_and_nobody_else_may(gateway: Gateway) -> None:
    created = register(gateway, gln("470099930002"))
    address = created["address"]
    before = gateway.http.get(f"/participants/{address}", headers=gateway.regulator).json()
    path = f"/participants/{address}/region"
    own = {"Authorization": f"Bearer {created['apiKey']}"}
    refused = gateway.http.put(path, json={"region": "KG-C"}, headers=own)
    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
    bad = gateway.http.put(path, json={"region": "Chui"}, headers=gateway.regulator)
    assert bad.status_code == 422 and bad.json()["rule"] == "participant.region"
    set_ = gateway.http.put(path, json={"region": "kg-c"}, headers=gateway.regulator)
    assert set_.status_code == 200 and set_.json()["region"] == "KG-C"
    assert set_.json()["updatedAt"] > before["updatedAt"]
    cleared = gateway.http.put(path, json={"region": None}, headers=gateway.regulator)
    assert cleared.status_code == 200 and cleared.json()["region"] is None
    missing = gateway.http.put(
        "/participants/0x" + "ab" * 20 + "/region", json={"region": "KG"}, headers=gateway.regulator
    )
    assert missing.status_code == 404


def test_updated_since_lists_the_participants_changed_at_or_after_it(gateway: Gateway) -> None:
    pharmacy = register(gateway, gln("470099930003"))["address"]
    maker = register(gateway, gln("470099930004"))["address"]
    everyone = gateway.http.get("/participants", headers=gateway.regulator).json()
    latest = max(p["updatedAt"] for p in everyone)
    time.sleep(0.01)
    mark = datetime.now().astimezone().isoformat()
    assert (
        gateway.http.get(
            "/participants", params={"updatedSince": mark}, headers=gateway.regulator
        ).json()
        == []
    )
    # a change of status, of prefixes, of region: each counts as a change
    gateway.http.post(f"/participants/{pharmacy}/suspend", headers=gateway.regulator)
    gateway.http.put(
        f"/participants/{maker}/region", json={"region": "KG"}, headers=gateway.regulator
    )
    changed = gateway.http.get(
        "/participants", params={"updatedSince": mark}, headers=gateway.headers(MANUFACTURER)
    )
    assert changed.status_code == 200, changed.text
    assert [p["address"] for p in changed.json()] == [pharmacy, maker]  # oldest change first
    # at or after: the last time seen is included again, so a poller misses nothing
    again = gateway.http.get(
        "/participants", params={"updatedSince": latest}, headers=gateway.regulator
    ).json()
    assert {p["address"] for p in again} >= {pharmacy, maker}
    assert len(gateway.http.get("/participants", headers=gateway.regulator).json()) == len(everyone)


def test_updated_since_without_a_zone_or_not_a_time_is_422(gateway: Gateway) -> None:
    for value in ("2026-12-03T21:00:00", "yesterday"):
        response = gateway.http.get(
            "/participants", params={"updatedSince": value}, headers=gateway.regulator
        )
        assert response.status_code == 422, (value, response.text)
        assert response.headers["content-type"] == PROBLEM
