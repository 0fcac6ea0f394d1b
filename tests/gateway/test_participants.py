"""Participant administration: no lockout, no answer that hides a conflict, nothing left behind.

Issue 14, finding 11: the regulator could suspend itself (every regulator endpoint then answered
403, reinstate included); a GLN the registry refuses answered 502 and left a keystore behind, so
every retry answered 500; reinstating an active participant answered 502.
"""

from __future__ import annotations

from typing import Any

import pytest

from medledger.epcis.gs1 import check_digit
from medledger.errors import ChainUnavailableError
from tests.gateway.conftest import Gateway, GatewayFactory

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def gateway(make_module_gateway: GatewayFactory) -> Gateway:
    """One gateway per module and database: tests change only participants they register."""
    return make_module_gateway()


def gln(body: str) -> str:
    return body + str(check_digit(body))


def registration(number: str, **extra: Any) -> dict[str, Any]:
    return {"name": "Pharmacy Nord", "roles": ["pharmacy"], "gln": number, **extra}


def keystores(gateway: Gateway) -> set[str]:
    return {p.name for p in gateway.service.settings.resolved_keystore_dir.iterdir()}


def test_the_regulator_cannot_suspend_itself_and_keeps_its_powers(gateway: Gateway) -> None:
    """Finding 11: suspending oneself is 409, and the regulator can still act."""
    me = gateway.service.regulator.address
    response = gateway.http.post(f"/participants/{me}/suspend", headers=gateway.regulator)
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == PROBLEM
    assert "suspend itself" in response.json()["detail"]
    assert gateway.service.ledger.participant(me).status.name == "ACTIVE"
    other = gateway.http.post(
        "/participants", json=registration(gln("470099910001")), headers=gateway.regulator
    ).json()["address"]
    assert gateway.http.post(f"/participants/{other}/suspend", headers=gateway.regulator).is_success


def test_no_regulator_may_suspend_the_registry_owner(gateway: Gateway) -> None:
    """Finding 11: a second regulator cannot suspend the gateway's regulator key either."""
    second = gateway.http.post(
        "/participants",
        json={"name": "Deputy", "roles": ["regulator"], "gln": gln("470099910000")},
        headers=gateway.regulator,
    )
    assert second.status_code == 201, second.text
    deputy = {"Authorization": f"Bearer {second.json()['apiKey']}"}
    owner = gateway.service.regulator.address
    response = gateway.http.post(f"/participants/{owner}/suspend", headers=deputy)
    assert response.status_code == 409 and "owns the participant registry" in response.text
    # the owner may suspend the deputy: a regulator stays
    deputy_address = second.json()["address"]
    suspended = gateway.http.post(
        f"/participants/{deputy_address}/suspend", headers=gateway.regulator
    )
    assert suspended.status_code == 200


def test_a_status_change_to_the_current_status_is_a_conflict(gateway: Gateway) -> None:
    """Finding 11: reinstating an active participant (and suspending a suspended one) is 409,
    not 502 'the chain could not be reached'."""
    address = gateway.http.post(
        "/participants", json=registration(gln("470099910002")), headers=gateway.regulator
    ).json()["address"]
    reinstated = gateway.http.post(f"/participants/{address}/reinstate", headers=gateway.regulator)
    assert reinstated.status_code == 409 and "already active" in reinstated.json()["detail"]
    first = gateway.http.post(f"/participants/{address}/suspend", headers=gateway.regulator)
    assert first.status_code == 200
    again = gateway.http.post(f"/participants/{address}/suspend", headers=gateway.regulator)
    assert again.status_code == 409 and "already suspended" in again.json()["detail"]
    back = gateway.http.post(f"/participants/{address}/reinstate", headers=gateway.regulator)
    assert back.status_code == 200 and back.json()["status"] == "active"


@pytest.mark.parametrize(
    ("number", "rule"),
    [
        ("4700999100002", "gs1.checkDigit"),
        ("0000000000000", "gs1.gln"),
        ("0470099910007", "participant.gln"),
    ],
    ids=["wrong-check-digit", "all-zeros", "leading-zero"],
)
def test_a_gln_the_registry_refuses_is_422_and_leaves_nothing(
    gateway: Gateway, number: str, rule: str
) -> None:
    """Finding 11: refused before a keystore is written or a transaction sent."""
    before = keystores(gateway), len(gateway.service.participants.all())
    response = gateway.http.post(
        "/participants", json=registration(number), headers=gateway.regulator
    )
    assert response.status_code == 422, response.text
    assert response.json()["rule"] == rule and response.json()["pointer"] == "/gln"
    assert (keystores(gateway), len(gateway.service.participants.all())) == before


def test_a_registration_the_chain_fails_leaves_nothing_and_can_be_retried(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 11: a chain failure leaves no keystore and no row, so the retry succeeds."""
    ledger = gateway.service.ledger
    real = ledger.register_participant

    def unreachable(*_args: Any, **_kwargs: Any) -> Any:
        raise ChainUnavailableError("the node does not answer")

    number = gln("470099920000")
    before = keystores(gateway), len(gateway.service.participants.all())
    monkeypatch.setattr(ledger, "register_participant", unreachable)
    failed = gateway.http.post(
        "/participants", json=registration(number), headers=gateway.regulator
    )
    assert failed.status_code == 502
    assert (keystores(gateway), len(gateway.service.participants.all())) == before

    monkeypatch.setattr(ledger, "register_participant", real)
    retried = gateway.http.post(
        "/participants", json=registration(number), headers=gateway.regulator
    )
    assert retried.status_code == 201, retried.text
    assert gateway.service.ledger.participant(retried.json()["address"]).status.name == "ACTIVE"
