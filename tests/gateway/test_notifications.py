"""Holders of a recalled lot are notified: a feed per participant, and signed webhooks with
retries from a durable outbox."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from gateway.service import GatewayService
from gateway.store.recalls import get_delivery, get_webhook, notifications_for
from gateway.webhooks import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    RetryPolicy,
    WebhookDeliverer,
    verify_signature,
)
from medledger.epcis.builders import as_document, gln
from medledger.epcis.digital_link import lot_of_class
from medledger.epcis.identifiers import canonical_identifier
from medledger.errors import ValidationError
from provenance.journey import (
    ACTORS,
    API_LOT,
    API_MAKER,
    DISTRIBUTOR,
    FINISHED_LOT,
    MANUFACTURER,
    PHARMACY,
    build_journey,
)
from servicekit.webhook_targets import TargetPolicy
from tests.gateway.conftest import Gateway, GatewayFactory
from tests.gateway.test_recalls import pack_gtin, recall, release, run_steps

NO_PACKS = {"held": 0, "outbound": 0, "inbound": 0}
#: The test receivers listen on the loopback interface, which webhooks may reach only when the
#: operator allows it (servicekit/webhook_targets.py).
LOCAL_RECEIVERS = "127.0.0.1/32"


@pytest.fixture
def gateway(make_gateway: GatewayFactory) -> Gateway:
    """A gateway whose webhooks may reach this machine's test receivers."""
    return make_gateway(webhook_allowlist=LOCAL_RECEIVERS)


@dataclass
class Receiver:
    """A real HTTP server in a thread that answers with the statuses it is given, in turn."""

    statuses: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append((dict(self.headers.items()), body))
            status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/recalls"
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


def feed(gateway: Gateway, actor: Any, after: int = 0) -> list[dict[str, Any]]:
    response = gateway.http.get(f"/notifications?after={after}", headers=gateway.headers(actor))
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()
    return body


def fast(gateway: Gateway, **policy: Any) -> WebhookDeliverer:
    """Backoff of zero: every failed attempt is due again at the next step."""
    deliverer = WebhookDeliverer(
        gateway.service.sessions,
        RetryPolicy(base_seconds=0, **policy),
        targets=gateway.service.webhook_targets,
    )
    gateway.service.deliverer = deliverer
    return deliverer


def test_holders_and_only_holders_are_notified_with_what_they_hold(gateway: Gateway) -> None:
    journey = build_journey(20, packs_per_case=10)
    run_steps(gateway, journey, 10)  # one case on its way from the distributor to the pharmacy
    gtin = pack_gtin(journey)
    assert recall(gateway, gtin, reasonCode=3).json()["notified"] == 2

    [distributor] = feed(gateway, DISTRIBUTOR)
    assert distributor["kind"] == "recall" and distributor["gtin"] == gtin
    assert distributor["lot"] == FINISHED_LOT and distributor["reason"] == "out of specification"
    assert distributor["reasonCode"] == 3
    assert distributor["holding"] == {
        "packs": {"held": 10, "outbound": 10, "inbound": 0},
        "quantities": [],
    }
    [pharmacy] = feed(gateway, PHARMACY)
    assert pharmacy["holding"]["packs"] == {"held": 0, "outbound": 0, "inbound": 10}
    for actor in ACTORS:
        if actor not in (DISTRIBUTOR, PHARMACY):
            assert feed(gateway, actor) == []
    assert gateway.http.get("/notifications", headers=gateway.regulator).json() == []

    # The shipment in transit cannot be received while the lot is recalled.
    receiving = gateway.capture(PHARMACY, as_document(journey.steps[10].events))
    assert receiving.status_code == 400 and receiving.json()["rule"] == "custody.recalled"

    # Release: the same participants are told, with the cursor giving only what is new.
    assert release(gateway, gtin).json()["notified"] == 2
    [lifted] = feed(gateway, PHARMACY, after=pharmacy["id"])
    assert lifted["kind"] == "release" and lifted["reason"] == "cleared"
    assert lifted["recallId"] == pharmacy["recallId"] and lifted["id"] > pharmacy["id"]
    assert [n["kind"] for n in feed(gateway, PHARMACY)] == ["recall", "release"]
    assert gateway.capture(PHARMACY, as_document(journey.steps[10].events)).status_code == 202


def test_a_class_level_lot_notifies_its_quantities(gateway: Gateway) -> None:
    journey = build_journey(4, packs_per_case=2)
    run_steps(gateway, journey, 2)  # 50 kg of API on its way to the manufacturer
    found = lot_of_class(canonical_identifier(journey.api_class))
    assert found is not None and found[1] == API_LOT
    response = recall(gateway, found[0], lot=API_LOT)
    assert response.status_code == 201, response.text
    [maker] = feed(gateway, API_MAKER)
    assert maker["holding"] == {
        "packs": NO_PACKS,
        "quantities": [{"uom": "KGM", "held": "0", "outbound": "50", "inbound": "0"}],
    }
    [manufacturer] = feed(gateway, MANUFACTURER)
    assert manufacturer["holding"]["quantities"] == [
        {"uom": "KGM", "held": "0", "outbound": "0", "inbound": "50"}
    ]
    receiving = gateway.capture(MANUFACTURER, as_document(journey.steps[2].events))
    assert receiving.status_code == 400 and receiving.json()["rule"] == "custody.recalled"


def test_a_webhook_receives_the_signed_notification(gateway: Gateway, receiver: Receiver) -> None:
    hook = gateway.http.put(
        "/participants/me/webhook", json={"url": receiver.url}, headers=gateway.headers(PHARMACY)
    )
    assert hook.status_code == 200, hook.text
    secret = hook.json()["secret"]
    journey = build_journey(20, packs_per_case=10)
    run_steps(gateway, journey, 11)
    deliverer = fast(gateway)
    recall(gateway, pack_gtin(journey))
    assert deliverer.step() == 1
    assert deliverer.step() == 0  # delivered: nothing more to do

    [(headers, body)] = receiver.received
    assert verify_signature(secret, headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
    assert not verify_signature(
        "whsec_other", headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER]
    )
    sent = json.loads(body)
    [notification] = feed(gateway, PHARMACY)
    assert sent == notification
    assert headers[IDEMPOTENCY_HEADER] == str(notification["id"])
    assert headers["Content-Type"] == "application/json"
    with gateway.service.sessions() as session:
        delivery = get_delivery(session, notification["id"])
        # The distributor has no webhook: its notification has no outbox row.
        [distributor] = notifications_for(session, gateway.addresses[DISTRIBUTOR.name])
        assert get_delivery(session, distributor.id) is None
    assert delivery is not None and delivery.state == "delivered" and delivery.attempts == 1
    assert delivery.last_status == 200 and delivery.url == receiver.url


def test_a_failing_receiver_gets_it_on_the_third_attempt(
    gateway: Gateway, receiver: Receiver
) -> None:
    gateway.http.put(
        "/participants/me/webhook", json={"url": receiver.url}, headers=gateway.headers(PHARMACY)
    )
    receiver.statuses = [500, 503]
    journey = build_journey(20, packs_per_case=10)
    run_steps(gateway, journey, 11)
    deliverer = fast(gateway)
    recall(gateway, pack_gtin(journey))
    [notification] = feed(gateway, PHARMACY)
    for expected in ("pending", "pending", "delivered"):
        assert deliverer.step() == 1
        with gateway.service.sessions() as session:
            delivery = get_delivery(session, notification["id"])
        assert delivery is not None and delivery.state == expected
    assert delivery is not None
    assert delivery.attempts == 3 and delivery.last_status == 200 and delivery.last_error is None
    assert len(receiver.received) == 3
    keys = {headers[IDEMPOTENCY_HEADER] for headers, _ in receiver.received}
    assert keys == {str(notification["id"])}
    assert [h["X-Provenance-Delivery-Attempt"] for h, _ in receiver.received] == ["1", "2", "3"]


def test_retries_back_off_exponentially_and_give_up(gateway: Gateway) -> None:
    """The clock is injected: no sleeping, no timing."""
    hook_url = "http://127.0.0.1:9/nowhere"  # port 9 (discard): nothing answers
    gateway.http.put(
        "/participants/me/webhook", json={"url": hook_url}, headers=gateway.headers(PHARMACY)
    )
    journey = build_journey(20, packs_per_case=10)
    run_steps(gateway, journey, 11)
    now = [datetime(2030, 1, 1, tzinfo=UTC)]
    attempts: list[str] = []

    def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
        attempts.append(url)
        raise ConnectionError("refused")

    policy = RetryPolicy(max_attempts=4, base_seconds=10, factor=2, max_delay_seconds=30)
    deliverer = WebhookDeliverer(gateway.service.sessions, policy, clock=lambda: now[0], post=post)
    gateway.service.deliverer = deliverer
    recall(gateway, pack_gtin(journey))
    [notification] = feed(gateway, PHARMACY)
    # The outbox row was written with the recall, due at the recall's time (before "now").
    waits = []
    for _ in range(4):
        assert deliverer.step() == 1
        with gateway.service.sessions() as session:
            delivery = get_delivery(session, notification["id"])
        assert delivery is not None
        if delivery.state == "failed":
            break
        waits.append((delivery.next_attempt_at - now[0]).total_seconds())
        assert deliverer.step() == 0  # not due yet
        now[0] = delivery.next_attempt_at
    assert waits == [10, 20, 30]  # 10, 20, then capped at 30
    assert delivery is not None and delivery.state == "failed" and delivery.attempts == 4
    assert delivery.last_error is not None and "refused" in delivery.last_error
    assert attempts == [hook_url] * 4
    assert deliverer.step() == 0


def test_an_acknowledged_recall_is_delivered_after_a_restart(
    make_gateway: GatewayFactory, receiver: Receiver
) -> None:
    gateway = make_gateway(webhook_allowlist=LOCAL_RECEIVERS)
    gateway.http.put(
        "/participants/me/webhook", json={"url": receiver.url}, headers=gateway.headers(PHARMACY)
    )
    journey = build_journey(20, packs_per_case=10)
    run_steps(gateway, journey, 11)
    recall(gateway, pack_gtin(journey))
    # The process stops before any delivery: the outbox row is in the database.
    gateway.service.stop()
    restarted = GatewayService(gateway.service.settings, chain=gateway.service.chain)
    try:
        restarted.deliverer = WebhookDeliverer(
            restarted.sessions, RetryPolicy(base_seconds=0), targets=restarted.webhook_targets
        )
        assert restarted.deliverer.step() == 1
    finally:
        restarted.stop()
    [(_headers, body)] = receiver.received
    assert json.loads(body)["kind"] == "recall"


def test_webhooks_are_registered_with_a_url_and_can_be_removed(
    gateway: Gateway, receiver: Receiver
) -> None:
    bad = gateway.http.put(
        "/participants/me/webhook", json={"url": "ftp://x"}, headers=gateway.headers(PHARMACY)
    )
    assert bad.status_code == 422 and bad.json()["rule"] == "webhook.url-scheme"
    first = gateway.http.put(
        "/participants/me/webhook", json={"url": receiver.url}, headers=gateway.headers(PHARMACY)
    ).json()
    second = gateway.http.put(
        "/participants/me/webhook", json={"url": receiver.url}, headers=gateway.headers(PHARMACY)
    ).json()
    assert first["secret"] != second["secret"] and second["secret"].startswith("whsec_")
    gone = gateway.http.delete("/participants/me/webhook", headers=gateway.headers(PHARMACY))
    assert gone.status_code == 204
    again = gateway.http.delete("/participants/me/webhook", headers=gateway.headers(PHARMACY))
    assert again.status_code == 404


def test_the_regulator_may_give_a_webhook_at_registration(
    gateway: Gateway, receiver: Receiver
) -> None:
    body = {
        "name": "Hospital No. 1",
        "roles": ["hospital"],
        "gln": gln("4700999", "1"),
        "webhookUrl": receiver.url,
    }
    response = gateway.http.post("/participants", json=body, headers=gateway.regulator)
    assert response.status_code == 201, response.text
    assert response.json()["webhookSecret"].startswith("whsec_")
    with gateway.service.sessions() as session:
        hook = get_webhook(session, response.json()["address"])
    assert hook is not None and hook.url == receiver.url
    plain = {"name": "Hospital No. 2", "roles": ["hospital"], "gln": gln("4700998", "1")}
    response = gateway.http.post("/participants", json=plain, headers=gateway.regulator)
    assert response.status_code == 201 and response.json()["webhookSecret"] is None


def test_a_suspended_participant_cannot_set_a_webhook(gateway: Gateway) -> None:
    address = gateway.addresses[PHARMACY.name]
    gateway.http.post(f"/participants/{address}/suspend", headers=gateway.regulator)
    refused = gateway.http.put(
        "/participants/me/webhook",
        json={"url": "https://erp.example/hook"},
        headers=gateway.headers(PHARMACY),
    )
    assert refused.status_code == 403


def test_the_notification_feed_pages_with_a_cursor(gateway: Gateway) -> None:
    journey = build_journey(20, packs_per_case=10)
    run_steps(gateway, journey, 11)
    gtin = pack_gtin(journey)
    for _ in range(3):
        recall(gateway, gtin)
        release(gateway, gtin)
    everything = feed(gateway, PHARMACY)
    assert [n["kind"] for n in everything] == ["recall", "release"] * 3
    ids = [n["id"] for n in everything]
    assert ids == sorted(ids)
    page = gateway.http.get(
        f"/notifications?after={ids[1]}&limit=2", headers=gateway.headers(PHARMACY)
    ).json()
    assert [n["id"] for n in page] == ids[2:4]
    assert feed(gateway, PHARMACY, after=ids[-1]) == []
    unknown = gateway.http.get("/notifications", headers={"Authorization": "Bearer pk_x_y"})
    assert unknown.status_code == 401


def test_a_cursor_past_any_stored_id_is_refused_not_a_server_error(gateway: Gateway) -> None:
    """Issue 14, the fuzz run: `after` beyond a 64-bit integer reached the database (SQLite:
    OverflowError, 500). Ids are 64-bit, so a larger cursor is a malformed request."""
    largest = 2**63 - 1
    assert feed(gateway, PHARMACY, after=largest) == []
    answer = gateway.http.get(
        f"/notifications?after={largest + 1}", headers=gateway.headers(PHARMACY)
    )
    assert answer.status_code == 422, answer.text


def test_a_name_that_resolves_inside_is_refused_at_delivery(
    make_gateway: GatewayFactory, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14, finding 9: a webhook registered under a DNS name is checked again at each
    delivery, after resolution, and the gateway connects only to the address it checked.

    The name was accepted at registration; its DNS answer is now 127.0.0.1 (DNS rebinding, or a
    partner's record changed), where this test's receiver listens. Without an allow-list, nothing
    reaches the receiver, and the outbox row says why (not retried).
    """
    gateway = make_gateway()  # public addresses only
    port = receiver.url.split(":")[2].split("/")[0]
    name = "hooks.partner.example"
    hook = gateway.http.put(
        "/participants/me/webhook",
        json={"url": f"http://{name}:{port}/hooks/recalls"},
        headers=gateway.headers(PHARMACY),
    )
    assert hook.status_code == 200, hook.text
    real_getaddrinfo = socket.getaddrinfo

    def rebound(host: Any, *args: Any, **kwargs: Any) -> Any:
        return real_getaddrinfo("127.0.0.1" if host == name else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebound)
    journey = build_journey(20, packs_per_case=10)
    run_steps(gateway, journey, 11)
    deliverer = fast(gateway)
    recall(gateway, pack_gtin(journey))
    assert deliverer.step() == 1
    assert deliverer.step() == 0  # refused: given up at once, not retried
    assert receiver.received == []
    [notification] = feed(gateway, PHARMACY)  # the feed still has it
    with gateway.service.sessions() as session:
        delivery = get_delivery(session, notification["id"])
    assert delivery is not None and delivery.state == "failed" and delivery.attempts == 1
    assert delivery.last_error is not None
    assert "webhook.url-address" in delivery.last_error and "127.0.0.1" in delivery.last_error


def test_the_allowlist_lets_a_local_receiver_through_without_redirects(
    gateway: Gateway, receiver: Receiver
) -> None:
    """Issue 14, finding 9: the loopback receiver is refused by default and reached when the
    operator allows it (``webhook_allowlist``, as every test with a receiver here does); a
    redirect is a failed attempt, never followed."""
    with pytest.raises(ValidationError, match="loopback") as refused:
        TargetPolicy().check_url(receiver.url)
    assert refused.value.rule == "webhook.url-address"
    assert gateway.service.settings.webhook_allowlist == LOCAL_RECEIVERS
    hook = gateway.http.put(
        "/participants/me/webhook", json={"url": receiver.url}, headers=gateway.headers(PHARMACY)
    )
    assert hook.status_code == 200, hook.text
    receiver.statuses = [302]
    journey = build_journey(20, packs_per_case=10)
    run_steps(gateway, journey, 11)
    deliverer = fast(gateway)
    recall(gateway, pack_gtin(journey))
    assert deliverer.step() == 1
    [notification] = feed(gateway, PHARMACY)
    with gateway.service.sessions() as session:
        delivery = get_delivery(session, notification["id"])
    assert delivery is not None and delivery.state == "pending" and delivery.last_status == 302
    assert delivery.last_error == "answered HTTP 302 (redirects are not followed)"
    assert deliverer.step() == 1
    assert len(receiver.received) == 2


def test_the_regulator_lists_who_a_recall_notified_and_each_delivery(
    gateway: Gateway, receiver: Receiver
) -> None:
    gateway.http.put(
        "/participants/me/webhook", json={"url": receiver.url}, headers=gateway.headers(PHARMACY)
    )
    journey = build_journey(20, packs_per_case=10)
    run_steps(gateway, journey, 11)  # the pharmacy holds one case, the distributor the other
    deliverer = fast(gateway)
    recall_id = recall(gateway, pack_gtin(journey)).json()["id"]

    def listed() -> dict[str, dict[str, Any]]:
        response = gateway.http.get(
            f"/recalls/{recall_id}/notifications", headers=gateway.regulator
        )
        assert response.status_code == 200, response.text
        return {n["participant"]: n for n in response.json()}

    before = listed()
    pharmacy, distributor = (gateway.addresses[a.name] for a in (PHARMACY, DISTRIBUTOR))
    assert set(before) == {pharmacy, distributor}
    assert before[pharmacy]["delivery"]["state"] == "pending"
    assert before[pharmacy]["holding"]["packs"]["held"] == 10
    assert before[distributor]["delivery"] is None  # no webhook: it reads its feed
    assert deliverer.step() == 1
    delivered = listed()[pharmacy]["delivery"]
    assert delivered["state"] == "delivered" and delivered["attempts"] == 1
    assert delivered["lastStatus"] == 200 and delivered["deliveredAt"] is not None

    release(gateway, pack_gtin(journey))
    assert sorted(n["kind"] for n in listed().values()) == ["release", "release"]  # latest each
    refused = gateway.http.get(
        f"/recalls/{recall_id}/notifications", headers=gateway.headers(PHARMACY)
    )
    assert (
        refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
    )
    missing = gateway.http.get(
        f"/recalls/{recall_id + 99}/notifications", headers=gateway.regulator
    )
    assert missing.status_code == 404
