"""Webhook subscriptions to named queries (the EPCIS 2.0 REST binding), delivered to a real HTTP
receiver on 127.0.0.1: new matching events as EPCISQueryDocuments (GS1's schema), in chain order,
each once; signed with the subscription's signatureToken; retried with the same batch and
Idempotency-Key until acknowledged; resumed after a restart with nothing missed and nothing
twice; what the query's owner sees, no more. The routes' answers are checked against the
binding's schemas.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from chain.client import Chain
from indexer.api.app import create_app
from indexer.service import IndexerService
from indexer.settings import IndexerSettings
from indexer.sources import FolderBatchSource
from indexer.store.models import NamedQueryRow, ParticipantProfileRow
from indexer.subscriptions.delivery import SubscriptionDeliverer
from indexer.verification import event_digest
from medledger.epcis.event_id import EventId
from medledger.epcis.schema import load_schema
from servicekit.sql.helpers import utcnow
from servicekit.webhook_targets import TargetPolicy, WebhookClient
from servicekit.webhooks import RetryPolicy, verify_signature
from tests.indexer.test_epcis_visibility import M1, M2, PH, REGIONS, WORLD, D
from tests.indexer.test_named_queries import _binding, binding_schema, problem, response_schema
from tests.medledger.epcis.epcis_vectors import require_vectors
from tests.support.anchoring import Publisher, start_publisher

TOKEN = "13df38d8275b13f05704629e5f1cf3d45d6132d5"
NAMES = list(WORLD)
FIRST, LATER = NAMES[:5], NAMES[5:]


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes

    @property
    def document(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.body)
        return document

    @property
    def event_ids(self) -> list[str]:
        events = self.document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        return [e["eventID"] for e in events]


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST; it answers ``fail`` (a list of
    statuses) first, then 204."""

    url: str
    wire: list[Delivery] = field(default_factory=list)
    acknowledged: list[Delivery] = field(default_factory=list)
    fail: list[int] = field(default_factory=list)

    def event_ids(self) -> list[str]:
        """The events acknowledged, deduplicated by Idempotency-Key (as a receiver would)."""
        seen: set[str] = set()
        out: list[str] = []
        for d in self.acknowledged:
            if d.headers["idempotency-key"] not in seen:
                seen.add(d.headers["idempotency-key"])
                out += d.event_ids
        return out


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            body = self.rfile.read(int(self.headers["Content-Length"]))
            delivery = Delivery({k.lower(): v for k, v in self.headers.items()}, body)
            me = state[0]
            me.wire.append(delivery)
            status = me.fail.pop(0) if me.fail else 204
            if status < 300:
                me.acknowledged.append(delivery)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.append(Receiver(f"http://127.0.0.1:{server.server_address[1]}/epcis/callback"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state[0]
    server.shutdown()
    server.server_close()


@dataclass
class Index:
    """An embedded chain with the visibility world's participants, and indexers over one
    database (restartable)."""

    chain: Chain
    publisher: Publisher
    url: str
    data: Path
    service: IndexerService
    http: TestClient
    keys: dict[str, dict[str, str]]
    ids: dict[str, str]

    def publish(self, names: list[str]) -> None:
        for name in names:
            actor, event = WORLD[name]
            self.publisher.publish(actor, [event])
        self.service.catch_up()

    def restart(self) -> None:
        self.http.__exit__(None, None, None)
        self.service.stop()
        self.service = _service(self.chain, self.publisher, self.url, self.data)
        self.http = TestClient(create_app(self.service, follow=False))
        self.http.__enter__()

    def subscribe(self, reader: str, name: str, query: dict[str, Any], dest: str) -> str:
        made = self.http.post(
            "/queries", json={"name": name, "query": query}, headers=self.keys[reader]
        )
        assert made.status_code == 201, made.text
        body = {"dest": dest, "signatureToken": TOKEN, "stream": True}
        schemas = _binding()["components"]["schemas"]
        binding_schema(schemas["QueryStreamSubscription"])(body)
        response = self.http.post(
            f"/queries/{name}/subscriptions", json=body, headers=self.keys[reader]
        )
        assert response.status_code == 201, response.text
        answer = response.json()
        subscription_schema()(answer)
        assert "signatureToken" not in answer and TOKEN not in response.text
        assert answer["minRecordTime"] == answer["createdAt"]  # no initialRecordTime: from now
        assert response.headers["location"] == (
            f"/queries/{name}/subscriptions/{answer['subscriptionID']}"
        )
        subscription_id: str = answer["subscriptionID"]
        return subscription_id

    def names_of(self, ids: list[str]) -> list[str]:
        by_id = {v: k for k, v in self.ids.items()}
        return [by_id[i] for i in ids]


def subscription_schema() -> Any:
    return binding_schema(response_schema("/queries/{queryName}/subscriptions", "post", "201"))


def _service(chain: Chain, publisher: Publisher, url: str, data: Path) -> IndexerService:
    service = IndexerService(
        IndexerSettings(
            data_dir=data,
            database_url=url,
            subscription_allowlist="127.0.0.1/32",
            subscription_retry_seconds=0.001,
            subscription_poll_seconds=0.05,
        ),
        chain=chain,
        deployment=publisher.deployment,
        source=FolderBatchSource(publisher.folder),
    )
    service.follower.loader.workers = 0
    return service


@pytest.fixture
def index(index_url: str, tmp_path: Path) -> Iterator[Index]:
    require_vectors()
    chain = Chain.embedded()
    publisher = start_publisher(chain, tmp_path / "batches")
    second = chain.new_funded_account()
    ledger, regulator = publisher.ledger, publisher.regulator
    ledger.register_participant(regulator, second.address, M2.roles, int(M2.gln))
    ledger.set_company_prefixes(regulator, second.address, [M2.company_prefix])
    publisher.accounts[M2.name] = second
    service = _service(chain, publisher, index_url, tmp_path / "indexer")
    service.catch_up()
    address = {name: account.address for name, account in publisher.accounts.items()}
    with service.sessions.begin() as session:
        for actor in (M1, M2, D, PH):
            session.add(
                ParticipantProfileRow(
                    address=address[actor.name],
                    name=actor.name,
                    gln=actor.gln,
                    region=REGIONS[actor.name],
                    fetched_at=utcnow(),
                )
            )
    keys: dict[str, dict[str, str]] = {}
    with service.sessions() as session:
        for reader, role, participant in (
            ("regulator", "regulator", None),
            ("pharmacy", "participant", address[PH.name]),
        ):
            token = service.api_keys.issue(session, reader, role, participant=participant)
            keys[reader] = {"Authorization": f"Bearer {token}"}
    ids = {n: EventId(event_digest(e)).uri for n, (_a, e) in WORLD.items()}
    http = TestClient(create_app(service, follow=False))
    http.__enter__()
    made = Index(chain, publisher, index_url, tmp_path / "indexer", service, http, keys, ids)
    try:
        yield made
    finally:
        made.http.__exit__(None, None, None)
        made.service.stop()


def check_delivery(delivery: Delivery, subscription: str) -> None:
    load_schema().validate(delivery.document)
    results = delivery.document["epcisBody"]["queryResults"]
    assert results["subscriptionID"] == subscription
    headers = delivery.headers
    assert headers["gs1-subscription-id"] == subscription
    assert verify_signature(
        TOKEN, headers["gs1-signature-timestamp"], delivery.body, headers["gs1-signature"]
    )
    assert not verify_signature("another token", headers["gs1-signature-timestamp"],
                                delivery.body, headers["gs1-signature"])  # fmt: skip


def test_new_matching_events_are_delivered_once_in_chain_order_signed(
    index: Index, receiver: Receiver
) -> None:
    index.publish(FIRST)  # before the subscription: not delivered
    subscription = index.subscribe("regulator", "all", {}, receiver.url)
    assert index.service.deliver_subscriptions() == 0
    index.publish(LATER)
    index.service.deliver_subscriptions()
    assert index.names_of(receiver.event_ids()) == LATER
    assert len(receiver.wire) == len(receiver.acknowledged)  # nothing sent twice
    for delivery in receiver.wire:
        check_delivery(delivery, subscription)
    assert index.service.deliver_subscriptions() == 0  # nothing new: nothing sent
    one = index.http.get(
        f"/queries/all/subscriptions/{subscription}", headers=index.keys["regulator"]
    )
    assert one.status_code == 200
    one_schema = response_schema(
        "/queries/{queryName}/subscriptions/{subscriptionID}", "get", "200"
    )
    binding_schema(one_schema)(one.json())
    assert one.json()["lastNotifiedAt"]
    # minRecordTime: the bound of the next run, past every event delivered so far
    delivered = [
        e["recordTime"]
        for d in receiver.wire
        for e in d.document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    ]
    assert delivered and one.json()["minRecordTime"] >= max(delivered)
    assert one.json()["minRecordTime"] >= one.json()["createdAt"]
    listed = index.http.get("/queries/all/subscriptions", headers=index.keys["regulator"])
    binding_schema(response_schema("/queries/{queryName}/subscriptions", "get", "200"))(
        listed.json()
    )
    assert [s["subscriptionID"] for s in listed.json()] == [subscription]


def test_only_the_matching_events_the_owner_sees_are_delivered(
    index: Index, receiver: Receiver
) -> None:
    query = {"eventType": ["ObjectEvent"], "EQ_bizStep": ["receiving", "retail_selling"]}
    mine = index.subscribe("pharmacy", "mine", query, receiver.url)
    theirs = index.subscribe("regulator", "theirs", query, receiver.url)
    index.publish(NAMES)
    index.service.deliver_subscriptions()
    by_subscription: dict[str, list[str]] = {}
    for d in receiver.acknowledged:
        by_subscription.setdefault(d.headers["gs1-subscription-id"], []).extend(d.event_ids)
    for reader, subscription in (("pharmacy", mine), ("regulator", theirs)):
        answer = index.http.get(
            "/events",
            params={"eventType": "ObjectEvent", "EQ_bizStep": "receiving|retail_selling"},
            headers=index.keys[reader],
        )
        events = answer.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        assert by_subscription.get(subscription, []) == [e["eventID"] for e in events]
    assert len(by_subscription[mine]) < len(by_subscription[theirs])


def test_a_failed_delivery_is_retried_with_the_same_batch_until_acknowledged(
    index: Index, receiver: Receiver
) -> None:
    subscription = index.subscribe("regulator", "all", {}, receiver.url)
    receiver.fail = [500, 503, 302]
    index.publish(NAMES[:3])
    for _ in range(100):  # the retries wait 1 ms, 3 ms, 9 ms
        index.service.deliver_subscriptions()
        if receiver.acknowledged:
            break
        time.sleep(0.01)
    assert len(receiver.wire) == 4
    keys = {d.headers["idempotency-key"] for d in receiver.wire}
    assert len(keys) == 1  # the same batch every time
    assert [d.headers["x-provenance-delivery-attempt"] for d in receiver.wire] == [
        "1", "2", "3", "4"]  # fmt: skip
    assert {d.body for d in receiver.wire} != set() and all(
        d.event_ids == receiver.wire[0].event_ids for d in receiver.wire
    )
    assert index.names_of(receiver.event_ids()) == NAMES[:3]
    check_delivery(receiver.acknowledged[0], subscription)


def test_a_restart_resumes_with_no_event_missed_and_none_twice(
    index: Index, receiver: Receiver
) -> None:
    index.subscribe("regulator", "all", {}, receiver.url)
    index.publish(NAMES[:4])
    index.service.deliver_subscriptions()
    # the indexer stops; events are anchored while it is down; it starts again
    index.service.stop()
    for name in NAMES[4:9]:
        actor, event = WORLD[name]
        index.publisher.publish(actor, [event])
    index.restart()
    index.service.catch_up()
    index.service.deliver_subscriptions()
    index.publish(NAMES[9:])
    index.service.deliver_subscriptions()
    assert index.names_of(receiver.event_ids()) == NAMES
    assert len(receiver.wire) == len(receiver.acknowledged)  # each batch sent once


def test_a_crash_between_the_answer_and_the_commit_resends_the_same_batch(
    index: Index, receiver: Receiver
) -> None:
    """At least once to the wire: the batch goes again with the same Idempotency-Key and
    eventIDs, which a receiver deduplicates by; nothing is missed."""
    index.subscribe("regulator", "all", {}, receiver.url)
    index.publish(NAMES[:6])
    client = WebhookClient(TargetPolicy.from_allowlist(["127.0.0.1/32"]))

    def crash_after_sending(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
        client(url, body, headers, timeout)
        raise SystemError("the indexer died before it recorded the answer")

    crashing = SubscriptionDeliverer(
        index.service.write_sessions, policy=RetryPolicy(base_seconds=0), post=crash_after_sending
    )
    crashing.step()
    assert len(receiver.wire) == 1
    index.restart()
    index.service.deliver_subscriptions()
    index.publish(NAMES[6:])
    index.service.deliver_subscriptions()
    assert len(receiver.wire) == len(receiver.acknowledged)
    assert receiver.wire[0].headers["idempotency-key"] == receiver.wire[1].headers[
        "idempotency-key"]  # fmt: skip
    assert receiver.wire[0].event_ids == receiver.wire[1].event_ids
    assert index.names_of(receiver.event_ids()) == NAMES  # deduplicated: each once


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"dest": "http://169.254.169.254/latest/meta-data", "stream": True}, "/dest"),
        ({"dest": "http://localhost:8545/", "stream": True}, "/dest"),
        ({"dest": "http://10.0.0.7/hook", "stream": True}, "/dest"),
        ({"dest": "ftp://partner.example/hook", "stream": True}, "/dest"),
        ({"dest": "http://user:pw@partner.example/hook", "stream": True}, "/dest"),
        ({"dest": "https://partner.example/hook"}, "/stream"),
        ({"dest": "https://partner.example/hook", "stream": False}, "/stream"),
        ({"dest": "https://partner.example/hook", "schedule": {"hour": "24"}}, "/schedule/hour"),
        ({"dest": "https://partner.example/hook", "schedule": {"hour": "1"}, "stream": True},
         "/stream"),
        ({"dest": "https://partner.example/hook", "schedule": {"month": "2", "dayOfMonth": "31"}},
         "/schedule"),
        ({"dest": "https://partner.example/hook", "stream": True, "secret": "x"}, "/secret"),
        ({"stream": True}, "/dest"),
        ({"dest": "https://partner.example/hook", "stream": True, "signatureToken": 5},
         "/signatureToken"),
        ({"dest": "https://partner.example/hook", "stream": True, "initialRecordTime": "x"},
         "GE_recordTime"),
    ],
)  # fmt: skip
def test_a_subscription_the_rules_refuse_is_400_and_not_stored(
    index: Index, body: dict[str, Any], pointer: str
) -> None:
    regulator = index.keys["regulator"]
    assert index.http.post("/queries", json={"name": "q", "query": {}}, headers=regulator)
    response = index.http.post("/queries/q/subscriptions", json=body, headers=regulator)
    answer = problem(response, 400)
    assert answer["pointer"] == pointer
    assert index.http.get("/queries/q/subscriptions", headers=regulator).json() == []


def test_subscriptions_are_the_query_owners_and_end_with_the_query(
    index: Index, receiver: Receiver
) -> None:
    subscription = index.subscribe("regulator", "all", {}, receiver.url)
    pharmacy = index.keys["pharmacy"]
    problem(index.http.get("/queries/all/subscriptions", headers=pharmacy), 404)
    problem(index.http.post("/queries/all/subscriptions", json={}, headers=pharmacy), 404)
    path = f"/queries/all/subscriptions/{subscription}"
    problem(index.http.delete(path, headers=pharmacy), 404)
    regulator = index.keys["regulator"]
    assert index.http.delete(path, headers=regulator).status_code == 204
    problem(index.http.get(path, headers=regulator), 404)
    index.subscribe("regulator", "other", {}, receiver.url)
    assert index.http.delete("/queries/other", headers=regulator).status_code == 204
    index.publish(NAMES[:2])
    assert index.service.deliver_subscriptions() == 0
    assert receiver.wire == []


def test_a_scheduled_subscription_delivers_at_its_times_and_reports_if_empty(
    index: Index, receiver: Receiver
) -> None:
    regulator = index.keys["regulator"]
    assert index.http.post("/queries", json={"name": "daily", "query": {}}, headers=regulator)
    body = {"dest": receiver.url, "signatureToken": TOKEN, "reportIfEmpty": True,
            "schedule": {"hour": "1", "minute": "5"}}  # fmt: skip
    schemas = _binding()["components"]["schemas"]
    binding_schema(schemas["QueryScheduleSubscription"])(body)
    made = index.http.post("/queries/daily/subscriptions", json=body, headers=regulator)
    assert made.status_code == 201, made.text
    subscription_schema()(made.json())
    assert made.json()["schedule"] == {"hour": "1", "minute": "5"} and "stream" not in made.json()
    subscription = made.json()["subscriptionID"]

    clock = [datetime.now(UTC)]
    deliverer = SubscriptionDeliverer(
        index.service.write_sessions,
        clock=lambda: clock[0],
        post=WebhookClient(TargetPolicy.from_allowlist(["127.0.0.1/32"])),
    )
    index.publish(NAMES[:5])
    assert deliverer.catch_up() == 0  # not 01:05 yet
    first_run = datetime.combine(clock[0].date() + timedelta(days=1), clock_time(1, 5), UTC)
    clock[0] = first_run + timedelta(seconds=2)
    deliverer.catch_up()
    assert index.names_of(receiver.event_ids()) == NAMES[:5]
    index.publish(NAMES[5:])
    clock[0] += timedelta(hours=12)  # the next run is the next day's 01:05
    assert deliverer.catch_up() == 0
    clock[0] = first_run + timedelta(days=1, seconds=1)
    deliverer.catch_up()
    assert index.names_of(receiver.event_ids()) == NAMES
    clock[0] = first_run + timedelta(days=2, seconds=1)  # nothing new: an empty report
    deliverer.catch_up()
    assert len(receiver.acknowledged) == 3
    empty = receiver.acknowledged[-1]
    assert empty.event_ids == []
    check_delivery(empty, subscription)
    for delivery in receiver.acknowledged:
        check_delivery(delivery, subscription)
    assert deliverer.catch_up() == 0


def test_a_subscription_that_cannot_be_prepared_does_not_stop_the_others(
    index: Index, receiver: Receiver
) -> None:
    broken = index.subscribe("regulator", "broken", {}, receiver.url)
    index.subscribe("regulator", "fine", {}, receiver.url)
    with index.service.write_sessions.begin() as session:  # as if the parser changed since
        session.execute(
            update(NamedQueryRow)
            .where(NamedQueryRow.name == "broken")
            .values(params='[["EQ_noSuchParameter", "x"]]')
        )
    index.publish(NAMES[:3])
    index.service.deliver_subscriptions()
    assert index.names_of(receiver.event_ids()) == NAMES[:3]  # the other one's
    shown = index.http.get(
        f"/queries/broken/subscriptions/{broken}", headers=index.keys["regulator"]
    )
    assert shown.status_code == 200 and "lastNotifiedAt" not in shown.json()


def test_the_list_of_subscriptions_pages(index: Index, receiver: Receiver) -> None:
    made = [index.subscribe("regulator", "paged", {}, receiver.url)]
    regulator = index.keys["regulator"]
    for _ in range(2):
        body = {"dest": receiver.url, "stream": True}
        answer = index.http.post("/queries/paged/subscriptions", json=body, headers=regulator)
        made.append(answer.json()["subscriptionID"])
    seen: list[str] = []
    response = index.http.get("/queries/paged/subscriptions?perPage=2", headers=regulator)
    while True:
        assert response.status_code == 200, response.text
        seen += [s["subscriptionID"] for s in response.json()]
        link = response.links.get("next")
        if link is None:
            break
        response = index.http.get(link["url"], headers=regulator)
    assert sorted(seen) == sorted(made) and len(seen) == 3
