"""``unauthorised-commissioning`` (issue 14, finding 5): the indexer judges every anchored
commissioning against the chain's own records (company prefixes, lot registrants and their
declared packs), not against what the gateway let through, and the public check answers
``suspect`` for such a pack.

The offenders are registered with ruleSet ``epcis``: the gateway checks only the schema of what
they capture, as it would for anyone anchoring with their own tools.
"""

from __future__ import annotations

from datetime import date

from gateway.code_issuance import identifier_uri
from indexer.queries.check import check
from indexer.service import IndexerService
from indexer.store.models import ParticipantRow, RecallRow
from medledger.epcis.builders import Actor
from medledger.epcis.gs1 import check_digit
from medledger.roles import Role
from provenance.journey import MANUFACTURER
from tests.indexer.conftest import IndexerFactory
from tests.indexer.test_detection_custody import alerts, at_site, register, send
from tests.support.network import Network

KIND = "unauthorised-commissioning"
TODAY = date(2027, 1, 15)
#: A product of MANUFACTURER (company prefix 4700123) and one of the rogue's own.
GTIN = "0470012355555" + str(check_digit("0470012355555"))
ROGUE_GTIN = "0470077755555" + str(check_digit("0470077755555"))
ROGUE = Actor("Back-street Plant (rogue)", Role.MANUFACTURER, "4700777")


def declare(network: Network, actor: Actor, gtin: str, lot: str, packs: int) -> None:
    body = {"gtin": gtin, "lot": lot, "expiry": "2028-06-30", "packs": packs}
    response = network.http.post("/lots", json=body, headers=network.keys[actor.name])
    assert response.status_code == 201, response.text


def commission(actor: Actor, gtin: str, lot: str, serials: list[str]) -> dict[str, object]:
    return at_site(
        actor,
        1,
        action="ADD",
        bizStep="commissioning",
        disposition="active",
        epcList=[identifier_uri(gtin, s) for s in serials],
        ilmd={"cbvmda:lotNumber": lot, "cbvmda:itemExpirationDate": "2028-06-30"},
    )


def verdict(service: IndexerService, gtin: str, serial: str) -> str:
    with service.sessions() as session:
        return str(check(session, identifier_uri(gtin, serial), today=TODAY)["verdict"])


def test_the_chain_mirrors_company_prefixes_and_declared_packs(
    network: Network, make_indexer: IndexerFactory
) -> None:
    declare(network, MANUFACTURER, GTIN, "L1", 3)
    service = make_indexer()
    service.catch_up()
    with service.sessions() as session:
        maker = session.get(ParticipantRow, network.addresses[MANUFACTURER.name])
        assert maker is not None and maker.company_prefixes == "4700123"
        lot = session.get(RecallRow, (GTIN, "L1"))
        assert lot is not None and (lot.manufacturer, lot.packs) == (maker.address, 3)


def test_another_companys_product_in_a_declared_lot_is_critical_and_suspect(
    network: Network, make_indexer: IndexerFactory
) -> None:
    """Found: a second manufacturer commissioned an SGTIN into the first one's released lot."""
    declare(network, MANUFACTURER, GTIN, "L1", 3)
    send(network, MANUFACTURER, [commission(MANUFACTURER, GTIN, "L1", ["GOOD1"])])
    register(network, ROGUE, "epcis")
    send(network, ROGUE, [commission(ROGUE, GTIN, "L1", ["FAKE1"])])
    service = make_indexer()
    service.catch_up()
    [alert] = alerts(service, KIND)
    assert alert.severity == "critical"
    assert alert.subject == identifier_uri(GTIN, "FAKE1")
    assert alert.evidence["rule"] == "commission.not-own-product"
    assert alert.evidence["submitter"] == network.addresses[ROGUE.name]
    assert alert.evidence["txHash"] and alert.evidence["root"]
    assert verdict(service, GTIN, "FAKE1") == "suspect"
    assert verdict(service, GTIN, "GOOD1") == "ok"


def test_a_licensee_commissioning_into_someone_elses_lot_is_critical(
    network: Network, make_indexer: IndexerFactory
) -> None:
    declare(network, MANUFACTURER, GTIN, "L1", 3)
    register(network, ROGUE, "epcis")
    rogue = network.addresses[ROGUE.name]
    prefixes = {"companyPrefixes": ["4700777", "4700123"]}
    put = network.http.put(
        f"/participants/{rogue}/prefixes", json=prefixes, headers=network.regulator
    )
    assert put.status_code == 200, put.text
    send(network, ROGUE, [commission(ROGUE, GTIN, "L1", ["FAKE2"])])
    send(network, ROGUE, [commission(ROGUE, GTIN, "OWN-LOT", ["MINE1"])])  # its claim: fine
    service = make_indexer()
    service.catch_up()
    [alert] = alerts(service, KIND)
    assert (alert.subject, alert.evidence["rule"]) == (
        identifier_uri(GTIN, "FAKE2"),
        "commission.lot-not-own",
    )
    assert alert.evidence["owner"] == network.addresses[MANUFACTURER.name]
    assert verdict(service, GTIN, "MINE1") == "ok"


def test_packs_past_the_declared_count_are_critical_and_suspect(
    network: Network, make_indexer: IndexerFactory
) -> None:
    """Found: 10 packs commissioned into a lot declared for 3 (check said ok)."""
    register(network, ROGUE, "epcis")
    declare(network, ROGUE, ROGUE_GTIN, "L3", 3)
    send(network, ROGUE, [commission(ROGUE, ROGUE_GTIN, "L3", ["P01"])])
    send(network, ROGUE, [commission(ROGUE, ROGUE_GTIN, "L3", [f"Q{n:02d}" for n in range(10)])])
    service = make_indexer()
    service.catch_up()
    found = alerts(service, KIND)
    assert {a.evidence["rule"] for a in found} == {"commission.over-declared"}
    assert sorted(a.subject or "" for a in found) == [
        identifier_uri(ROGUE_GTIN, f"Q{n:02d}") for n in range(10)
    ]
    assert found[0].evidence["declaredPacks"] == 3
    assert verdict(service, ROGUE_GTIN, "Q09") == "suspect"
    assert verdict(service, ROGUE_GTIN, "P01") == "ok"
