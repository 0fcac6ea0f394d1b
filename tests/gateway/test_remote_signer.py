"""The gateway signing through a remote signer (``PROVENANCE_GATEWAY_REMOTE_SIGNER_URL``).

devkit's fake Web3Signer stands in for Web3Signer; the gateway, its batcher and the chain (anvil
on the zero-fee London rules of the Besu network) are real.

- A participant whose key the remote signer holds (its keystore moved off the gateway host) has
  its batches anchored through the signer, and their receipts verify against the chain.
- While the signer fails (HTTP 503, the key unloaded) nothing is sent: the batch stays sealed,
  the batcher says why, and the next pass after the signer recovers anchors it with the nonce
  that stayed free (a gap would leave it stuck in the node's pool, unmined).
- A participant the signer does not list keeps signing with its keystore.
- Readiness asks the signer's `/upcheck`: while it fails the gateway is `degraded`, not down.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from chain.keystore import load_keystore
from chain.signer import Web3Signer
from chain.verification import verify_receipt
from devkit.nodes import available, running_node
from devkit.web3signer_fake import Web3SignerFake, running_web3signer
from gateway.api.app import create_app
from gateway.service import GatewayService
from gateway.settings import GatewaySettings
from gateway.store.batches import batches_in_state
from gateway.store.participants import list_participants
from medledger.epcis.builders import as_document
from medledger.formats.receipt import Receipt
from provenance.journey import API_MAKER, MANUFACTURER, build_journey
from provenance.verify import canonical_event_digest

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(not available("anvil"), reason="anvil not installed (npm install)"),
]


@dataclass
class Remote:
    service: GatewayService
    http: TestClient
    fake: Web3SignerFake
    maker: LocalAccount  # held by the remote signer only
    maker_key: str
    local_key: str  # a second participant, signed from its keystore


def register(service: GatewayService, http: TestClient, body: dict[str, object]) -> dict[str, str]:
    response = http.post(
        "/participants",
        json=body,
        headers={"Authorization": f"Bearer {service.regulator_api_key}"},
    )
    assert response.status_code == 201, response.text
    answer: dict[str, str] = response.json()
    return answer


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[Remote]:
    with (
        running_node(
            "anvil", ["--hardfork", "london", "--base-fee", "0", "--gas-price", "0"]
        ) as node,
        running_web3signer(31337) as fake,
    ):
        settings = GatewaySettings(
            data_dir=tmp_path / "data",
            database_url=f"sqlite:///{tmp_path}/gateway.db",
            chain_url=node.url,
            remote_signer_url=fake.url,
            remote_signer_timeout_seconds=0.5,
        ).allowing_development_password()  # the fast KDF: the signer holds the key under test
        service = GatewayService(settings)
        http = TestClient(create_app(service, run_batcher=False))
        try:
            maker = register(service, http, API_MAKER.registration())
            local = register(service, http, MANUFACTURER.registration())
            # The operator loads the maker's key into the signer and takes it off the host.
            keystore = settings.resolved_keystore_dir / f"participant-{API_MAKER.gln}.json"
            account = load_keystore(keystore, settings.keystore_password_value())
            assert account.address == maker["address"]
            fake.add_key(account)
            keystore.unlink()
            yield Remote(service, http, fake, account, maker["apiKey"], local["apiKey"])
        finally:
            service.stop()


def capture(remote: Remote, key: str, step: int = 0) -> str:
    document = as_document(build_journey().steps[step].events)
    response = remote.http.post(
        "/capture", json=document, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 202, response.text
    event_id: str = response.json()["eventIDs"][0]
    return event_id


def receipt_of(remote: Remote, event_id: str) -> Receipt:
    hex_id = event_id.split(";", 1)[1][:64]
    response = remote.http.get(
        f"/events/{hex_id}/receipt",
        headers={"Authorization": f"Bearer {remote.service.regulator_api_key}"},
    )
    assert response.status_code == 200, response.text
    return Receipt.from_json(response.json())


def test_a_participant_whose_key_the_signer_holds_is_anchored_through_it(remote: Remote) -> None:
    event_id = capture(remote, remote.maker_key)
    report = remote.service.batcher.step(flush=True)
    assert report.anchored == 1, report.errors
    assert remote.fake.signed == 1
    signer = remote.service.keys.signer(remote.maker.address, None)
    assert isinstance(signer, Web3Signer) and signer.url == remote.fake.url

    receipt = receipt_of(remote, event_id)
    assert receipt.anchored_by == remote.maker.address
    verdict = verify_receipt(
        receipt, chain=remote.service.chain, event_hasher=canonical_event_digest
    )
    assert verdict.valid, verdict.failures


@pytest.mark.parametrize("fault", ["HTTP 503", "key unloaded"])
def test_while_the_signer_fails_nothing_is_sent_and_the_batch_is_anchored_after(
    remote: Remote, fault: str
) -> None:
    capture(remote, remote.maker_key)
    assert remote.service.batcher.step(flush=True).anchored == 1  # the signer is in use

    capture(remote, remote.maker_key, step=1)
    address = remote.maker.address
    nonce = remote.service.chain.w3.eth.get_transaction_count(address)
    if fault == "HTTP 503":
        remote.fake.fail_with(503, "Service Unavailable")
        expected = "HTTP 503"
    else:
        remote.fake.remove_key(address)
        expected = "No unlocked account matches the Sender"
    block = remote.service.chain.block_number
    for _ in range(2):
        report = remote.service.batcher.step(flush=True)
        assert (report.sent, report.anchored, report.failed) == (0, 0, 0)
        (error,) = report.errors
        assert "remote signer" in error and expected in error
    assert remote.service.chain.block_number == block  # nothing was sent
    with remote.service.sessions() as session:
        (waiting,) = batches_in_state(session, "sealed")
    assert waiting.participant == address and waiting.tx_hash is None

    remote.fake.heal()
    remote.fake.add_key(remote.maker)
    report = remote.service.batcher.step(flush=True)
    assert report.anchored == 1, report.errors
    assert remote.service.chain.w3.eth.get_transaction_count(address) == nonce + 1


def test_a_participant_the_signer_does_not_list_signs_with_its_keystore(remote: Remote) -> None:
    capture(remote, remote.maker_key, step=0)
    capture(remote, remote.maker_key, step=1)  # ships to the manufacturer...
    event_id = capture(remote, remote.local_key, step=2)  # ...who receives, signing locally
    report = remote.service.batcher.step(flush=True)
    assert report.anchored == 2, report.errors
    assert remote.fake.signed == 1  # the maker's batch only
    with remote.service.sessions() as session:
        manufacturer = next(p for p in list_participants(session) if p.gln == MANUFACTURER.gln)
    local = remote.service.keys.signer(manufacturer.address, manufacturer.keystore_path)
    assert isinstance(local, LocalAccount)
    receipt = receipt_of(remote, event_id)
    assert receipt.anchored_by == manufacturer.address
    verdict = verify_receipt(
        receipt, chain=remote.service.chain, event_hasher=canonical_event_digest
    )
    assert verdict.valid, verdict.failures


def test_readiness_asks_the_signer_and_is_degraded_while_it_is_down(remote: Remote) -> None:
    ready = remote.http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    (check,) = [c for c in ready.json()["checks"] if c["name"] == "signer"]
    assert check["status"] == "ok"
    remote.fake.fail_with(503, "Service Unavailable")
    degraded = remote.http.get("/readyz")
    assert degraded.status_code == 200  # capture goes on; anchoring waits for the signer
    assert degraded.json()["status"] == "degraded" and degraded.json()["degraded"] == ["signer"]
