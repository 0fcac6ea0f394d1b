"""Participants' API keys over HTTP (issue 15, point 2): list, issue, rotate with a grace
period, revoke, the key audit; who may do which; and the indexer's batch-reader key."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.startup import INDEXER_KEY_FILE, export_for_indexer
from medledger.epcis.gs1 import check_digit
from provenance.journey import MANUFACTURER
from tests.gateway.conftest import Gateway, GatewayFactory

PROBLEM = "application/problem+json"
_NUMBERS = itertools.count()


@pytest.fixture(scope="module")
def gateway(make_module_gateway: GatewayFactory) -> Gateway:
    """One gateway per module and database: each test registers the participants whose keys it
    changes (:func:`newcomer`), so it starts from their one initial key."""
    return make_module_gateway()


def newcomer(gateway: Gateway) -> tuple[str, dict[str, str]]:
    """A participant registered now: its address and its initial key's header."""
    body12 = f"47009995{next(_NUMBERS):04d}"
    body = {
        "name": f"Apteka {body12}",
        "roles": ["pharmacy"],
        "gln": body12 + str(check_digit(body12)),
    }
    response = gateway.http.post("/participants", json=body, headers=gateway.regulator)
    assert response.status_code == 201, response.text
    return response.json()["address"], bearer(response.json()["apiKey"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def keys_of(gateway: Gateway, address: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = gateway.http.get(f"/participants/{address}/keys", headers=headers)
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()
    return listed


def test_a_participant_issues_rotates_and_revokes_its_own_keys(gateway: Gateway) -> None:
    address, own = newcomer(gateway)
    (initial,) = keys_of(gateway, "me", own)
    assert (initial["label"], initial["scope"], initial["status"]) == (
        "initial",
        "participant",
        "live",
    )
    assert initial["lastUsedAt"] is not None  # the listing itself used it
    assert "apiKey" not in initial

    issued = gateway.http.post(f"/participants/{address}/keys", json={"label": "ERP"}, headers=own)
    assert issued.status_code == 201, issued.text
    body = issued.json()
    token = body["apiKey"]
    assert token.startswith(f"pk_{body['prefix']}_") and body["label"] == "ERP"
    assert body["expiresAt"] is None and body["revokedAt"] is None
    assert gateway.http.get("/participants/me/keys", headers=bearer(token)).status_code == 200
    listed = keys_of(gateway, address, own)
    assert [k["id"] for k in listed] == [initial["id"], body["id"]]
    assert all(token not in str(k) for k in listed)

    rotated = gateway.http.post(
        f"/participants/me/keys/{body['id']}/rotate", json={"graceSeconds": 2}, headers=own
    )
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()
    assert new["label"] == "ERP" and new["id"] != body["id"]
    assert new["previous"]["id"] == body["id"] and new["previous"]["expiresAt"] is not None
    for key in (token, new["apiKey"]):  # both work during the grace period
        assert gateway.http.get("/participants/me/keys", headers=bearer(key)).status_code == 200
    time.sleep(2.2)
    old_answer = gateway.http.get("/participants/me/keys", headers=bearer(token))
    assert old_answer.status_code == 401 and old_answer.headers["content-type"] == PROBLEM
    assert (
        gateway.http.get("/participants/me/keys", headers=bearer(new["apiKey"])).status_code == 200
    )

    revoked = gateway.http.delete(f"/participants/me/keys/{new['id']}", headers=own)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert (
        gateway.http.get("/participants/me/keys", headers=bearer(new["apiKey"])).status_code == 401
    )
    states = {k["id"]: k["status"] for k in keys_of(gateway, "me", own)}
    assert states == {initial["id"]: "live", body["id"]: "expired", new["id"]: "revoked"}


def test_the_regulator_manages_every_participants_keys_and_a_participant_only_its_own(
    gateway: Gateway,
) -> None:
    manufacturer, manufacturers = newcomer(gateway)
    _, pharmacy = newcomer(gateway)
    refused = gateway.http.get(f"/participants/{manufacturer}/keys", headers=pharmacy)
    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
    (initial,) = keys_of(gateway, manufacturer, pharmacy | gateway.regulator)
    for method, path in (
        ("POST", f"/participants/{manufacturer}/keys"),
        ("POST", f"/participants/{manufacturer}/keys/{initial['id']}/rotate"),
        ("DELETE", f"/participants/{manufacturer}/keys/{initial['id']}"),
    ):
        answer = gateway.http.request(method, path, json={}, headers=pharmacy)
        assert answer.status_code == 403, (method, path, answer.text)
    assert gateway.http.get("/participants/me/keys", headers=manufacturers).status_code == 200

    # the regulator: another participant's key, revoked at once
    by_regulator = gateway.http.post(
        f"/participants/{manufacturer.lower()}/keys",
        json={"label": "support", "expiresAt": "2030-01-01T00:00:00Z"},
        headers=gateway.regulator,
    )
    assert by_regulator.status_code == 201, by_regulator.text
    assert by_regulator.json()["participant"] == manufacturer
    assert by_regulator.json()["expiresAt"].startswith("2030-01-01T00:00:00")
    answer = gateway.http.delete(
        f"/participants/{manufacturer}/keys/{initial['id']}", headers=gateway.regulator
    )
    assert answer.status_code == 200 and answer.json()["revokedAt"] is not None
    assert gateway.http.get("/participants/me/keys", headers=manufacturers).status_code == 401


def test_unknown_keys_and_participants_are_404_and_bad_input_422(gateway: Gateway) -> None:
    _, own = newcomer(gateway)
    _, others = newcomer(gateway)
    others_key = keys_of(gateway, "me", others)[0]["id"]
    for answer in (
        gateway.http.delete(f"/participants/me/keys/{others_key}", headers=own),
        gateway.http.post("/participants/me/keys/999999/rotate", json={}, headers=own),
        gateway.http.get("/participants/0x" + "0" * 40 + "/keys", headers=gateway.regulator),
    ):
        assert answer.status_code == 404, answer.text
        assert answer.headers["content-type"] == PROBLEM
    (mine,) = keys_of(gateway, "me", own)
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    for path, body in (
        (f"/participants/me/keys/{mine['id']}/rotate", {"graceSeconds": -1}),
        (f"/participants/me/keys/{mine['id']}/rotate", {"graceSeconds": 30 * 86400 + 1}),
        ("/participants/me/keys", {"expiresAt": past}),
        ("/participants/me/keys", {"label": "x" * 101}),
        ("/participants/me/keys", {"scope": "batch-reader"}),
        (f"/participants/me/keys/{2**63}/rotate", {}),  # past any row id (found by fuzz)
    ):
        answer = gateway.http.post(path, json=body, headers=own)
        expected = 403 if body.get("scope") else 422
        assert answer.status_code == expected, (body, answer.text)
        assert answer.headers["content-type"] == PROBLEM
    assert len(keys_of(gateway, "me", own)) == 1  # nothing was issued or changed
    assert keys_of(gateway, "me", own)[0]["expiresAt"] is None


def test_a_participant_holds_at_most_five_live_keys_of_its_own_making(gateway: Gateway) -> None:
    address, own = newcomer(gateway)
    for n in range(4):
        assert (
            gateway.http.post(
                "/participants/me/keys", json={"label": f"till {n}"}, headers=own
            ).status_code
            == 201
        )
    sixth = gateway.http.post("/participants/me/keys", json={}, headers=own)
    assert sixth.status_code == 409 and "5 live keys" in sixth.json()["detail"]
    assert (
        gateway.http.post(
            f"/participants/{address}/keys", json={}, headers=gateway.regulator
        ).status_code
        == 201
    )


def test_every_key_operation_is_audited_and_only_the_regulator_reads_the_audit(
    gateway: Gateway,
) -> None:
    regulator = gateway.service.regulator.address
    manufacturer, own = newcomer(gateway)
    start = datetime.now(UTC)
    issued = gateway.http.post("/participants/me/keys", json={"label": "ERP"}, headers=own).json()
    gateway.http.post(
        f"/participants/me/keys/{issued['id']}/rotate", json={"graceSeconds": 0}, headers=own
    )
    gateway.http.delete(
        f"/participants/{manufacturer}/keys/{issued['id']}", headers=gateway.regulator
    )

    refused = gateway.http.get("/keys/audit", headers=own)
    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
    answer = gateway.http.get(
        "/keys/audit", params={"participant": manufacturer}, headers=gateway.regulator
    )
    assert answer.status_code == 200, answer.text
    rows = answer.json()
    assert rows[0]["action"] == "issue" and rows[0]["actor"] == regulator  # at registration
    assert rows[0]["detail"] == "registration"
    assert {r["participant"] for r in rows} == {manufacturer}
    recent = gateway.http.get(
        "/keys/audit",
        params={"participant": manufacturer, "since": start.isoformat()},
        headers=gateway.regulator,
    ).json()
    assert [(r["action"], r["actor"]) for r in recent] == [
        ("issue", manufacturer),
        ("issue", manufacturer),  # the rotation's new key
        ("rotate", manufacturer),
        ("revoke", regulator),  # an expired key may still be revoked
    ]
    assert recent[2]["keyId"] == issued["id"]
    assert all(
        set(r) == {"id", "at", "actor", "action", "keyId", "participant", "detail"} for r in rows
    )


def test_the_indexers_batch_reader_key_reads_batches_and_the_participant_list_only(
    gateway: Gateway,
) -> None:
    folder = gateway.service.settings.resolved_export_dir
    key_file = folder / INDEXER_KEY_FILE
    assert key_file.stat().st_mode & 0o077 == 0
    assert (
        folder / "deployment.json"
    ).read_bytes() == gateway.service.settings.resolved_deployment_file.read_bytes()
    reader = bearer(key_file.read_text().strip())
    assert gateway.http.get("/participants", headers=reader).status_code == 200
    assert (
        gateway.http.get("/batches/0x" + "ab" * 32, headers=reader).status_code == 404
    )  # read, none
    for method, path in (
        ("GET", "/participants/me/keys"),
        ("GET", f"/participants/{gateway.addresses[MANUFACTURER.name]}"),
        ("POST", "/capture"),
        ("GET", "/keys/audit"),
        ("POST", "/participants"),
    ):
        answer = gateway.http.request(method, path, json={}, headers=reader)
        assert answer.status_code == 403, (method, path, answer.text)
    listed = keys_of(gateway, "me", gateway.regulator)
    assert [(k["label"], k["scope"]) for k in listed] == [
        ("bootstrap", "participant"),
        ("indexer", "batch-reader"),
    ]


def test_gateway_processes_starting_at_once_each_write_the_indexers_deployment_copy(
    gateway: Gateway,
) -> None:
    """Gateway processes sharing a data folder (``--workers``, several side by side) write the
    deployment's copy for the indexer at once: each stages it under a name of its own, so none
    removes or refuses another's half-written file; the copy is whole and no staged file stays."""
    service = gateway.service
    folder = service.settings.resolved_export_dir
    failures: list[BaseException] = []

    def start_up() -> None:
        try:
            for _ in range(20):
                export_for_indexer(
                    service.settings, service.write_sessions, service.api_keys, service.regulator
                )
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=start_up) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    copy = folder / "deployment.json"
    assert copy.read_bytes() == service.settings.resolved_deployment_file.read_bytes()
    assert copy.stat().st_mode & 0o077 == 0
    assert [p.name for p in folder.iterdir() if p.name.endswith(".tmp")] == []
