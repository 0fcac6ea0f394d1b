"""``POST /participants`` with an ``Idempotency-Key`` (issue 15, point 1): a retry after a lost
answer gets the same participant and a fresh API key, and the key nobody saw stops working.

The lost answer is lost for real: a uvicorn gateway on a port, and a client whose connection
drops after it sent the request (tests/support/lossy_relay.py keeps what the server answered,
so the test can try the key nobody saw), or that hangs up itself.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import select

from devkit.nodes import free_port
from gateway.api.app import create_app
from gateway.services.participants import NewParticipant, ParticipantsService
from gateway.store.models import ApiKeyRow
from medledger.epcis.gs1 import check_digit
from medledger.errors import StoreConflictError
from medledger.roles import Role
from tests.gateway.conftest import Gateway, GatewayFactory
from tests.support.lossy_relay import LossyRelay

PROBLEM = "application/problem+json"


def gln(body: str) -> str:
    return body + str(check_digit(body))


def registration(number: str, **extra: Any) -> dict[str, Any]:
    return {"name": "Apteka Chui", "roles": ["pharmacy"], "gln": number, **extra}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def live_keys(gateway: Gateway, address: str) -> list[str]:
    with gateway.service.sessions() as session:
        return list(
            session.scalars(
                select(ApiKeyRow.prefix).where(
                    ApiKeyRow.participant == address, ApiKeyRow.revoked_at.is_(None)
                )
            )
        )


@pytest.fixture(scope="module")
def gateway(make_module_gateway: GatewayFactory) -> Gateway:
    """One gateway per module and database: each test registers GLNs of its own."""
    return make_module_gateway()


def test_the_same_key_and_body_answers_the_same_participant_with_a_fresh_key(
    gateway: Gateway,
) -> None:
    body = registration(gln("470099940000"), region="KG-C", webhookUrl="https://example.org/h")
    headers = gateway.regulator | {"Idempotency-Key": "onboard-apteka-chui-1"}
    first = gateway.http.post("/participants", json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    again = gateway.http.post("/participants", json=body, headers=headers)
    assert again.status_code == 201, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["address"] == first.json()["address"]
    assert again.json()["apiKey"] != first.json()["apiKey"]
    assert again.json()["webhookSecret"] != first.json()["webhookSecret"]
    address = first.json()["address"]
    assert (
        gateway.http.get("/participants", headers=bearer(first.json()["apiKey"])).status_code == 401
    )
    assert (
        gateway.http.get("/participants", headers=bearer(again.json()["apiKey"])).status_code == 200
    )
    assert len(live_keys(gateway, address)) == 1
    # the key audit says who revoked the unseen key, and why
    with gateway.service.sessions() as session:
        audit = gateway.service.participants.api_keys.audit(session, participant=address)
    regulator = gateway.service.regulator.address
    assert [(e.action, e.actor) for e in audit] == [
        ("issue", regulator),
        ("issue", regulator),
        ("revoke", regulator),
    ]
    assert "answered again" in (audit[2].detail or "")
    glns = [p.gln for p in gateway.service.participants.all()]
    assert glns.count(body["gln"]) == 1


def test_the_same_key_with_another_body_is_409_and_changes_nothing(gateway: Gateway) -> None:
    number = gln("470099940001")
    headers = gateway.regulator | {"Idempotency-Key": "k-409"}
    first = gateway.http.post("/participants", json=registration(number), headers=headers)
    assert first.status_code == 201, first.text
    other = registration(number, name="Apteka Chui 2")
    conflict = gateway.http.post("/participants", json=other, headers=headers)
    assert conflict.status_code == 409 and conflict.headers["content-type"] == PROBLEM
    assert "Idempotency-Key" in conflict.json()["detail"]
    assert gateway.http.get("/participants", headers=bearer(first.json()["apiKey"])).is_success
    shown = gateway.http.get(f"/participants/{first.json()['address']}", headers=gateway.regulator)
    assert shown.json()["name"] == "Apteka Chui"


def test_without_the_header_a_second_registration_of_the_gln_is_still_422(
    gateway: Gateway,
) -> None:
    body = registration(gln("470099940002"))
    assert gateway.http.post("/participants", json=body, headers=gateway.regulator).is_success
    again = gateway.http.post("/participants", json=body, headers=gateway.regulator)
    assert again.status_code == 422 and again.json()["rule"] == "participant.gln-taken"
    # nor may a key taken up later answer for a participant it did not register
    keyed = gateway.http.post(
        "/participants", json=body, headers=gateway.regulator | {"Idempotency-Key": "late"}
    )
    assert keyed.status_code == 422 and keyed.json()["rule"] == "participant.gln-taken"


@pytest.mark.parametrize("key", ["", "x" * 256, "with space", "ключ"])
def test_a_malformed_idempotency_key_is_422(gateway: Gateway, key: str) -> None:
    before = len(gateway.service.participants.all())
    response = gateway.http.post(
        "/participants",
        json=registration(gln("470099940003")),
        headers=gateway.regulator | {"Idempotency-Key": key.encode()},
    )
    assert response.status_code == 422, response.text
    assert response.json()["rule"] == "request.idempotency-key"
    assert len(gateway.service.participants.all()) == before


def test_a_failed_attempt_frees_its_key_for_a_corrected_request(gateway: Gateway) -> None:
    """A request refused (here: a GLN already taken) stored nothing: the key may be sent again
    with another body, and is no 409."""
    headers = gateway.regulator | {"Idempotency-Key": "fix-and-retry"}
    taken = gateway.service.participants.all()[1].gln
    refused = gateway.http.post("/participants", json=registration(taken), headers=headers)
    assert refused.status_code == 422
    fixed = gateway.http.post(
        "/participants", json=registration(gln("470099940004")), headers=headers
    )
    assert fixed.status_code == 201, fixed.text


def test_two_processes_sending_the_same_request_at_once_register_once(
    gateway: Gateway,
) -> None:
    """Two gateway processes on one PostgreSQL database: two services with locks of their own
    (their in-memory registration locks cannot see each other), the same keyed request at the
    same moment. The advisory lock makes one wait for the other, which it then answers again."""
    if not gateway.service.settings.database_url.startswith("postgresql"):
        pytest.skip("SQLite: one gateway process (its registration lock serialises in memory)")
    first = gateway.service.participants
    second = ParticipantsService(
        sessions=first.sessions,
        write_sessions=first.write_sessions,
        api_keys=first.api_keys,
        ledger=first.ledger,
        regulator=first.regulator,
        settings=first.settings,
        webhook_targets=first.webhook_targets,
        fund=first.fund,
    )
    number = gln("470099940007")
    start = threading.Barrier(2)
    answers: list[NewParticipant] = []
    errors: list[BaseException] = []

    def register(service: ParticipantsService) -> None:
        start.wait()
        try:
            answers.append(
                service.register(
                    name="Apteka Chui",
                    roles=Role.PHARMACY,
                    gln=number,
                    idempotency_key="both-at-once",
                    requester=first.regulator.address,
                )
            )
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(s,)) for s in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    # one registers; the other, after waiting for it, answers it again if it arrived later,
    # or is refused (409) if it arrived earlier: it may not take a later answer's key away
    assert all(isinstance(e, StoreConflictError) for e in errors), errors
    assert len(answers) + len(errors) == 2 and answers
    assert {a.record.address for a in answers} == {answers[0].record.address}
    assert [a.replayed for a in answers] in ([False], [False, True])
    assert [p.gln for p in first.all()].count(number) == 1
    last = answers[-1].api_key.split("_")[1]
    assert live_keys(gateway, answers[0].record.address) == [last]


def test_an_earlier_attempt_run_late_never_takes_a_later_answer_away(gateway: Gateway) -> None:
    """The first try arrived first but reached the registration after its retry had answered:
    it is refused (409) and the retry's key stays the live one."""
    registry = gateway.service.participants
    sent = datetime.now(UTC)
    facts: dict[str, Any] = {
        "name": "Apteka Chui",
        "roles": Role.PHARMACY,
        "gln": gln("470099940008"),
        "idempotency_key": "late-first-try",
        "requester": registry.regulator.address,
    }
    retry = registry.register(**facts, arrived=sent + timedelta(seconds=5))
    with pytest.raises(StoreConflictError, match="later request"):
        registry.register(**facts, arrived=sent)
    assert live_keys(gateway, retry.record.address) == [retry.api_key.split("_")[1]]
    later = registry.register(**facts, arrived=sent + timedelta(seconds=10))
    assert later.replayed and live_keys(gateway, later.record.address) == [
        later.api_key.split("_")[1]
    ]


# --- a real server, a real lost answer ---------------------------------------------------------


@pytest.fixture
def served(gateway: Gateway) -> Iterator[tuple[Gateway, int]]:
    """The module's gateway served by uvicorn on a port of its own, for one test."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(gateway.service, run_batcher=False, run_deliverer=False),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        threading.Event().wait(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield gateway, port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_a_retry_after_a_lost_answer_gets_the_participant_and_the_lost_key_is_dead(
    served: tuple[Gateway, int],
) -> None:
    gateway, port = served
    body = registration(gln("470099940005"), region="KG-GB")
    headers = gateway.regulator | {"Idempotency-Key": "3f1c2a5e-lost-answer"}
    before = len(gateway.service.participants.all())
    with LossyRelay(port, lose=1) as relay:
        with pytest.raises(httpx.TransportError):  # the connection drops: no answer
            httpx.post(f"{relay.url}/participants", json=body, headers=headers, timeout=60)
        retried = httpx.post(f"{relay.url}/participants", json=body, headers=headers, timeout=60)
        lost = json.loads(relay.lost_body())
    assert retried.status_code == 201, retried.text
    address = retried.json()["address"]
    assert len(gateway.service.participants.all()) == before + 1
    if retried.headers.get("Idempotent-Replayed") == "true":
        # The lost request took the registration first: the retry replays it, its key dies.
        assert lost["address"] == address
        url = f"http://127.0.0.1:{port}/participants/{address}"
        assert httpx.get(url, headers=bearer(lost["apiKey"])).status_code == 401
    else:
        # On a busy host the retry can reach the registration lock first: then the lost
        # request, arriving before its retry was answered, is refused and changes nothing.
        assert lost["status"] == 409, lost
    url = f"http://127.0.0.1:{port}/participants/{address}"
    shown = httpx.get(url, headers=bearer(retried.json()["apiKey"]))
    assert shown.status_code == 200 and shown.json()["region"] == "KG-GB"
    assert len(live_keys(gateway, address)) == 1


def test_a_client_that_hangs_up_before_the_answer_can_retry(
    served: tuple[Gateway, int],
) -> None:
    """The client closes its own socket as soon as the request is sent."""
    gateway, port = served
    body = json.dumps(registration(gln("470099940006"))).encode()
    request = (
        f"POST /participants HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: {gateway.regulator['Authorization']}\r\n"
        "Idempotency-Key: hang-up-1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    with socket.create_connection(("127.0.0.1", port)) as raw:
        raw.sendall(request)
    retried = httpx.post(
        f"http://127.0.0.1:{port}/participants",
        content=body,
        headers=gateway.regulator
        | {"Idempotency-Key": "hang-up-1", "Content-Type": "application/json"},
        timeout=60,
    )
    assert retried.status_code == 201, retried.text
    # the abandoned first attempt may still be running (it arrived first: if the retry took the
    # lock before it, it ends in a 409 and takes nothing away); give it time to end
    time.sleep(2)
    number = json.loads(body)["gln"]
    registered = [p for p in gateway.service.participants.all() if p.gln == number]
    assert len(registered) == 1 and registered[0].address == retried.json()["address"]
    assert len(live_keys(gateway, registered[0].address)) == 1
    shown = httpx.get(
        f"http://127.0.0.1:{port}/participants/{registered[0].address}",
        headers=bearer(retried.json()["apiKey"]),
    )
    assert shown.status_code == 200
