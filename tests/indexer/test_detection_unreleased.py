"""``unreleased-lot`` (opt-in): a lot that leaves its manufacturer without being released."""

from __future__ import annotations

from gateway.store.participants import get_participant
from provenance.journey import FINISHED_LOT, MANUFACTURER, Journey
from tests.indexer.conftest import IndexerFactory
from tests.indexer.test_detection_custody import alerts
from tests.support.network import Network

FINISHED_GTIN = "04700123123452"


def release(network: Network, gtin: str, lot: str) -> None:
    """The manufacturer registers the batch on-chain (what POST /lots does)."""
    gateway = network.gateway
    maker = network.addresses[MANUFACTURER.name]
    with gateway.sessions() as session:
        record = get_participant(session, maker)
    assert record is not None
    account = gateway.keys.account(maker, record.keystore_path)
    gateway.ledger.register_batch(account, int(gtin), lot, 1000)


def test_a_lot_received_beyond_its_manufacturer_unreleased_is_reported_once(
    network: Network, journey: Journey, make_indexer: IndexerFactory
) -> None:
    service = make_indexer(unreleased_lot_alerts=True)
    service.catch_up()
    [alert] = alerts(service, "unreleased-lot")
    assert alert.severity == "info"
    assert alert.subject == f"https://id.gs1.org/01/{FINISHED_GTIN}/10/{FINISHED_LOT}"
    assert alert.evidence["manufacturer"] == network.addresses[MANUFACTURER.name]
    assert {e["role"] for e in alert.evidence["events"]} == {"receipt"}


def test_it_is_off_by_default(
    network: Network, journey: Journey, make_indexer: IndexerFactory
) -> None:
    default = make_indexer()
    default.catch_up()
    assert alerts(default, "unreleased-lot") == []


def test_a_lot_released_before_it_moves_raises_nothing(
    network: Network, make_indexer: IndexerFactory
) -> None:
    release(network, FINISHED_GTIN, FINISHED_LOT)
    network.run_journey()
    service = make_indexer(unreleased_lot_alerts=True)
    service.catch_up()
    assert alerts(service, "unreleased-lot") == []
