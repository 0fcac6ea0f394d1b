"""``dispensed-after-recall``: a pack of a recalled lot dispensed after the block that recalled it
(docs/detection.md). The pharmacy that does it is registered under the ``epcis`` rules: the
gateway would refuse the dispensing under ``pharma``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from indexer.service import IndexerService
from medledger.epcis import builders as epcis
from provenance.journey import FINISHED_LOT, Journey
from tests.indexer.conftest import IndexerFactory
from tests.indexer.test_detection_custody import (
    ROGUE_PHARMACY,
    alerts,
    canonical,
    register,
    roles_of,
    send,
)
from tests.support.network import Network


def gtin_of(pack: str) -> str:
    return canonical(pack).split("/01/")[1].split("/")[0]


def recall(network: Network, pack: str) -> int:
    """Recall the pack's lot as the regulator; the block that recorded it."""
    body = {"gtin": gtin_of(pack), "lot": FINISHED_LOT, "reason": "contaminated"}
    response = network.http.post("/recalls", json=body, headers=network.regulator)
    assert response.status_code == 201, response.text
    receipt = network.chain.w3.eth.get_transaction_receipt(response.json()["recallTx"])
    return int(receipt["blockNumber"])


def block_time(network: Network, number: int) -> datetime:
    return datetime.fromtimestamp(network.chain.w3.eth.get_block(number)["timestamp"], UTC)


def test_a_recalled_pack_dispensed_after_the_recall_is_critical(
    network: Network, journey: Journey, make_indexer: IndexerFactory
) -> None:
    register(network, ROGUE_PHARMACY, "epcis")
    pack = journey.packs[1]
    recalled_in = recall(network, pack)
    after = max(datetime.now(UTC), block_time(network, recalled_in) + timedelta(seconds=1))
    [dispensed] = send(network, ROGUE_PHARMACY, [epcis.dispense(ROGUE_PHARMACY, after, [pack])])
    service = make_indexer()
    service.catch_up()

    [alert] = alerts(service, "dispensed-after-recall")
    assert alert.severity == "critical" and alert.subject == canonical(pack)
    assert roles_of(alert) == {"dispensing": dispensed}
    assert alert.evidence["holder"] == network.addresses[ROGUE_PHARMACY.name]
    assert alert.evidence["recallBlock"] == recalled_in < alert.block_number
    assert alert.evidence["lot"].endswith(f"/10/{FINISHED_LOT}")
    assert alert.evidence["recallTx"].startswith("0x")


def test_a_dispensing_dated_before_the_recall_is_late_history(
    network: Network, journey: Journey, make_indexer: IndexerFactory
) -> None:
    register(network, ROGUE_PHARMACY, "epcis")
    pack = journey.packs[1]
    recalled_in = recall(network, pack)
    before = block_time(network, recalled_in) - timedelta(minutes=1)
    send(network, ROGUE_PHARMACY, [epcis.dispense(ROGUE_PHARMACY, before, [pack])])
    service = make_indexer()
    service.catch_up()

    assert alerts(service, "dispensed-after-recall") == []


def test_no_alert_without_a_recall(indexed: IndexerService) -> None:
    """The journey's own dispensing, of a lot never recalled."""
    assert alerts(indexed, "dispensed-after-recall") == []
