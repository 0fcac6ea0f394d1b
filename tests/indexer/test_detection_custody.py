"""Detectors over custody: unknown codes, re-circulation, clones, diversion (docs/detection.md).

Fraudulent participants are registered with ruleSet ``epcis``: the gateway checks only the
schema of what they capture, so their events reach the chain as a careless or dishonest
participant would send them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from indexer.service import IndexerService
from indexer.store.models import AlertRow
from medledger.epcis import builders as epcis
from medledger.epcis.builders import Actor
from medledger.epcis.identifiers import canonical_identifier
from medledger.roles import Role
from provenance.journey import DISTRIBUTOR, Journey
from tests.indexer.conftest import IndexerFactory
from tests.support.network import Network

HOSPITAL = Actor("State Hospital No. 1 (hospital)", Role.HOSPITAL, "4700555")
ROGUE_PHARMACY = Actor("Bazaar Pharmacy (rogue)", Role.PHARMACY, "4700666")
ROGUE_MAKER = Actor("Back-street Plant (rogue)", Role.MANUFACTURER, "4700777")
#: after the journey (its last event: 2026-11-03 00:00) and, 30 days on, still not in the future
#: (the gateway refuses an eventTime later than its clock: rule time.future)
T0 = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)


def register(network: Network, actor: Actor, rule_set: str = "pharma") -> None:
    body = actor.registration()
    response = network.http.post(
        "/participants", json={**body, "ruleSet": rule_set}, headers=network.regulator
    )
    assert response.status_code == 201, response.text
    network.keys[actor.name] = {"Authorization": f"Bearer {response.json()['apiKey']}"}
    network.addresses[actor.name] = response.json()["address"]


def when(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def at_site(actor: Actor, hours: float, **fields: Any) -> dict[str, Any]:
    """An event of ``fields`` at ``actor``'s site (an ObjectEvent unless ``type`` says)."""
    return epcis.at_site(actor, when(hours), **{"type": "ObjectEvent", **fields})


def transfer(kind: str, frm: Actor, to: Actor, epcs: list[str], hours: float) -> dict[str, Any]:
    return epcis.transfer(kind, frm, to, when(hours), epcs=epcs)


def observe(actor: Actor, epcs: list[str], hours: float) -> dict[str, Any]:
    return epcis.observe(actor, when(hours), epcs)


def dispense(actor: Actor, epcs: list[str], hours: float) -> dict[str, Any]:
    return epcis.dispense(actor, when(hours), epcs)


def send(network: Network, actor: Actor, events: list[dict[str, Any]]) -> list[str]:
    """Capture and anchor; the event ids."""
    body = network.capture(actor, events)
    network.anchor()
    ids: list[str] = body["eventIDs"]
    return ids


def alerts(service: IndexerService, kind: str | None = None) -> list[AlertRow]:
    with service.sessions() as session:
        query = select(AlertRow).order_by(AlertRow.block_number, AlertRow.key)
        if kind is not None:
            query = query.where(AlertRow.kind == kind)
        return list(session.scalars(query))


def roles_of(alert: AlertRow) -> dict[str, str]:
    """role -> event id of an alert's evidence."""
    return {e["role"]: e["eventID"] for e in alert.evidence["events"]}


def canonical(epc: str) -> str:
    return canonical_identifier(epc)


def test_the_clean_journey_raises_no_alert(indexed: IndexerService) -> None:
    assert alerts(indexed) == []


def test_unknown_code_and_recirculation(
    network: Network, journey: Journey, make_indexer: IndexerFactory
) -> None:
    register(network, ROGUE_PHARMACY, "epcis")
    stranger = journey.packs[0].rsplit(".", 1)[0] + ".X00000001"
    [unknown] = send(network, ROGUE_PHARMACY, [observe(ROGUE_PHARMACY, [stranger], 1)])
    [seen] = send(network, ROGUE_PHARMACY, [observe(ROGUE_PHARMACY, [journey.dispensed_pack], 2)])
    [twice] = send(network, ROGUE_PHARMACY, [dispense(ROGUE_PHARMACY, [journey.dispensed_pack], 3)])
    service = make_indexer()
    service.catch_up()

    [code] = alerts(service, "unknown-code")
    assert code.subject == canonical(stranger) and code.severity == "warning"
    assert roles_of(code) == {"unknown-code": unknown}
    after = alerts(service, "after-end")
    assert [a.subject for a in after] == [canonical(journey.dispensed_pack)] * 2
    assert {roles_of(a)["after-end"] for a in after} == {seen, twice}
    assert all(a.severity == "critical" for a in after)
    assert [a.evidence["endedTwice"] for a in after] == [False, True]
    ended = {roles_of(a)["ended"] for a in after}
    assert len(ended) == 1  # the pharmacy's dispensing, with its anchor
    for a in after:
        first = a.evidence["events"][0]
        assert first["bizStep"] == "dispensing" and first["root"].startswith("0x")
        assert first["txHash"] and first["blockNumber"] < a.block_number


def test_clones(network: Network, journey: Journey, make_indexer: IndexerFactory) -> None:
    register(network, ROGUE_MAKER, "epcis")
    register(network, ROGUE_PHARMACY, "epcis")
    copied = journey.packs[50]  # in a case at the distributor
    [again] = send(
        network,
        ROGUE_MAKER,
        [
            epcis.commission(
                ROGUE_MAKER,
                when(1),
                epcs=[copied],
                ilmd={"cbvmda:lotNumber": "FAKE-1", "cbvmda:itemExpirationDate": "2029-01-31"},
            )
        ],
    )
    [sold] = send(network, ROGUE_PHARMACY, [dispense(ROGUE_PHARMACY, [journey.packs[60]], 2)])
    service = make_indexer()
    service.catch_up()

    [recommissioned] = alerts(service, "recommissioned")
    assert recommissioned.subject == canonical(copied)
    assert roles_of(recommissioned)["commissioned-again"] == again
    assert "first-commissioning" in roles_of(recommissioned)
    [clone] = alerts(service, "clone")
    assert clone.subject == canonical(journey.packs[60])
    assert roles_of(clone)["clone"] == sold
    assert clone.evidence["holder"] == network.addresses[DISTRIBUTOR.name]
    assert clone.evidence["actor"] == network.addresses[ROGUE_PHARMACY.name]
    # the rogue plant's product is not under its company prefix either (issue 14, finding 5)
    [unauthorised] = alerts(service, "unauthorised-commissioning")
    assert (unauthorised.subject, unauthorised.evidence["rule"]) == (
        canonical(copied),
        "commission.not-own-product",
    )
    assert {a.kind for a in alerts(service)} == {
        "recommissioned",
        "clone",
        "unauthorised-commissioning",
    }


def test_diversion(network: Network, journey: Journey, make_indexer: IndexerFactory) -> None:
    register(network, HOSPITAL)
    register(network, ROGUE_PHARMACY, "epcis")
    case = journey.steps[4].events[0]["epcList"][1]  # the second case, at the distributor
    inside = journey.packs[25:50]
    send(network, DISTRIBUTOR, [transfer("shipping", DISTRIBUTOR, HOSPITAL, [case], 1)])
    [received] = send(network, HOSPITAL, [transfer("receiving", DISTRIBUTOR, HOSPITAL, [case], 2)])
    send(network, HOSPITAL, [dispense(HOSPITAL, [inside[0]], 3)])  # in the channel
    [diverted] = send(
        network, ROGUE_PHARMACY, [transfer("receiving", HOSPITAL, ROGUE_PHARMACY, [inside[1]], 4)]
    )
    send(network, ROGUE_PHARMACY, [dispense(ROGUE_PHARMACY, [inside[1]], 5)])  # reported once
    service = make_indexer()
    service.catch_up()

    [diversion] = alerts(service)
    assert diversion.kind == "diversion" and diversion.subject == canonical(inside[1])
    assert roles_of(diversion) == {"hospital-receipt": received, "diversion": diverted}
    assert diversion.evidence["hospital"] == network.addresses[HOSPITAL.name]
    assert diversion.evidence["supplier"] == network.addresses[DISTRIBUTOR.name]
