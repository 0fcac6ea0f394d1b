"""Detectors over flows: mass balance, transit statistics, expiry sweeps (docs/detection.md)."""

from __future__ import annotations

from datetime import date

from indexer import detection
from indexer.service import IndexerService
from medledger.epcis import builders as epcis
from provenance.journey import DISTRIBUTOR, MANUFACTURER, PHARMACY, Journey
from tests.indexer.conftest import IndexerFactory
from tests.indexer.test_detection_custody import (
    HOSPITAL,
    alerts,
    at_site,
    register,
    roles_of,
    send,
    transfer,
    when,
)
from tests.support.network import Network

#: Small thresholds for small histories (indexer settings, as PROVENANCE_INDEXER_* would give).
SMALL_HISTORY = {"transit_min_observations": 2, "new_route_min_history": 3}


def test_mass_balance(network: Network, journey: Journey, make_indexer: IndexerFactory) -> None:
    prefix = journey.packs[0].rsplit(".", 1)[0]
    packs = [f"{prefix}.OVER{n:04d}" for n in range(100)]
    transformation = at_site(
        MANUFACTURER,
        1,
        type="TransformationEvent",
        bizStep="commissioning",
        disposition="active",
        inputQuantityList=[{"epcClass": journey.api_class, "quantity": 1.0, "uom": "KGM"}],
        outputEPCList=packs,
        ilmd={
            "cbvmda:lotNumber": "B-OVER",
            "cbvmda:itemExpirationDate": "2028-10-31",
            "mpl:apiPerPack": "125 g",
        },
    )
    [claimed] = send(network, MANUFACTURER, [transformation])
    service = make_indexer()
    service.catch_up()

    [alert] = alerts(service)
    assert alert.kind == "mass-balance" and alert.severity == "critical"
    assert roles_of(alert) == {"transformation": claimed}
    assert alert.subject == "https://id.gs1.org/01/04700123123452/10/B-OVER"
    balance = alert.evidence["balance"]
    assert balance["apiConsumedKg"] == "1" and balance["packsProduced"] == 100
    assert balance["apiRequiredKg"] == "12.5" and balance["withinTolerance"] is False


def test_unusual_transit_and_new_route(
    network: Network,
    journey: Journey,
    make_indexer: IndexerFactory,
) -> None:
    register(network, HOSPITAL)
    cases = journey.steps[4].events[0]["epcList"]
    send(network, DISTRIBUTOR, [transfer("shipping", DISTRIBUTOR, PHARMACY, [cases[1]], 0)])
    send(network, PHARMACY, [transfer("receiving", DISTRIBUTOR, PHARMACY, [cases[1]], 1.5)])
    send(network, DISTRIBUTOR, [transfer("shipping", DISTRIBUTOR, PHARMACY, [cases[2]], 2)])
    [late] = send(
        network, PHARMACY, [transfer("receiving", DISTRIBUTOR, PHARMACY, [cases[2]], 2 + 24 * 30)]
    )
    [shipped] = send(
        network, DISTRIBUTOR, [transfer("shipping", DISTRIBUTOR, HOSPITAL, [cases[3]], 3)]
    )
    [first] = send(network, HOSPITAL, [transfer("receiving", DISTRIBUTOR, HOSPITAL, [cases[3]], 4)])
    service = make_indexer(**SMALL_HISTORY)
    service.catch_up()

    [unusual] = alerts(service, "unusual-transit")
    assert roles_of(unusual)["receiving"] == late
    assert unusual.evidence["transitSeconds"] == 30 * 24 * 3600
    assert unusual.evidence["laneStatistics"]["count"] == 2
    assert unusual.evidence["lane"]["to"].endswith(PHARMACY.gln)
    [route] = alerts(service, "new-route")
    assert roles_of(route) == {"shipping": shipped, "receiving": first}
    # five receipts came before it; the index counts them only as far as the rule needs
    assert route.evidence["history"] == SMALL_HISTORY["new_route_min_history"]
    assert {a.kind for a in alerts(service)} == {"unusual-transit", "new-route"}


def test_a_return_opens_no_route(
    network: Network, journey: Journey, make_indexer: IndexerFactory
) -> None:
    """Packs going back up the chain are no supply lane: their receipt is not observed."""
    cases = journey.steps[4].events[0]["epcList"]
    for n, case in enumerate(cases[1:4]):  # history on the lane distributor -> pharmacy
        send(network, DISTRIBUTOR, [transfer("shipping", DISTRIBUTOR, PHARMACY, [case], n)])
        send(network, PHARMACY, [transfer("receiving", DISTRIBUTOR, PHARMACY, [case], n + 1)])
    send(network, PHARMACY, [epcis.send_back(PHARMACY, DISTRIBUTOR, when(10), epcs=[cases[1]])])
    send(
        network,
        DISTRIBUTOR,
        [epcis.receive_back(PHARMACY, DISTRIBUTOR, when(11), epcs=[cases[1]])],
    )
    service = make_indexer(**SMALL_HISTORY)
    service.catch_up()
    assert alerts(service) == []


def test_expiry_sweep(indexed: IndexerService) -> None:
    with indexed.sessions() as session:
        assert detection.sweep(session, date(2028, 1, 1)) == 0
        assert detection.sweep(session, date(2028, 10, 15)) == 2
        session.commit()
    soon = alerts(indexed, "expiring-soon")
    assert sorted(a.evidence["packs"] for a in soon) == [24, 75]
    assert all(a.severity == "info" for a in soon)
    with indexed.sessions() as session:
        assert detection.sweep(session, date(2028, 11, 1)) == 2
        session.commit()
    expired = alerts(indexed)
    assert {a.kind for a in expired} == {"expired-in-stock"}  # the sweep replaced them
    assert {a.subject for a in expired} == {"https://id.gs1.org/01/04700123123452/10/B2026-117"}
    assert all(a.evidence["asOf"] == "2028-11-01" for a in expired)
