"""Capture load for fault campaigns: manufacturers posting commissioning documents over HTTP.

One thread per participant posts small EPCISDocuments (fresh pack serials each, at the
participant's own location, lot ILMD: they pass the ``pharma`` rules) for as long as it runs.
A document whose request fails (the gateway was killed, refused the connection, answered 503 or
500) is posted again unchanged until it gets an answer: the gateway stores an event once, so a
document stored just before a crash answers the same event ids the second time. Every event id
acknowledged with 202 is recorded: those are the events the gateway promised to anchor.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from medledger.epcis import builders as epcis
from medledger.epcis.builders import EPCIS_CONTEXT, Actor
from medledger.roles import Role
from provenance.journey import PACK_ITEM_REF


class LoadError(RuntimeError):
    """The gateway refused a document for good (a 4xx other than 409/429)."""


@dataclass
class Participant:
    actor: Actor
    key: str
    address: str


def register(url: str, regulator_key: str, count: int, *, first_prefix: int) -> list[Participant]:
    """``count`` manufacturers, company prefixes ``first_prefix``, ``first_prefix + 1``, ..."""
    participants = []
    headers = {"Authorization": f"Bearer {regulator_key}"}
    with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
        for n in range(count):
            prefix = str(first_prefix + n)
            actor = Actor(f"Campaign manufacturer {prefix}", Role.MANUFACTURER, prefix)
            response = http.post("/participants", json=actor.registration())
            if response.status_code != 201:
                raise LoadError(f"registering {actor.name}: {response.status_code} {response.text}")
            body = response.json()
            participants.append(Participant(actor, body["apiKey"], body["address"]))
    return participants


def document(actor: Actor, number: int, events: int) -> dict[str, Any]:
    """The ``number``-th document of ``actor``: ``events`` packs commissioned, one lot."""
    start = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    ilmd = {"cbvmda:lotNumber": f"F{number:06d}", "cbvmda:itemExpirationDate": "2028-10-31"}
    prefix = actor.company_prefix
    body = [
        epcis.commission(
            actor,
            start + timedelta(seconds=number * events + i),
            epcs=[f"urn:epc:id:sgtin:{prefix}.{PACK_ITEM_REF}.F{number:06d}{i:03d}"],
            ilmd=ilmd,
        )
        for i in range(events)
    ]
    return epcis.as_document(body, context=EPCIS_CONTEXT)


@dataclass
class CaptureLoad:
    """Post documents from one thread per participant until :meth:`stop`."""

    url: str
    participants: list[Participant]
    events_per_document: int = 10
    pause_seconds: float = 0.05
    #: Documents are numbered from here on (two loads of one participant: distinct packs).
    first_document: int = 1
    acknowledged: dict[str, str] = field(default_factory=dict)  # event id -> participant
    documents: int = 0
    failures: Counter[str] = field(default_factory=Counter)  # retried: what the gateway said
    refused: list[str] = field(default_factory=list)  # refused for good: a campaign failure
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for participant in self.participants:
            thread = threading.Thread(target=self._post_loop, args=(participant,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop posting; a document in flight is posted until it gets an answer."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=180)

    def _post_loop(self, participant: Participant) -> None:
        headers = {
            "Authorization": f"Bearer {participant.key}",
            "Content-Type": "application/ld+json",
        }
        number = self.first_document - 1
        with httpx.Client(base_url=self.url, headers=headers, timeout=30) as http:
            while not self._stop.is_set():
                number += 1
                body = document(participant.actor, number, self.events_per_document)
                ids = self._post_until_answered(http, body)
                if ids is None:
                    return
                with self._lock:
                    self.documents += 1
                    for event_id in ids:
                        self.acknowledged[event_id] = participant.address
                time.sleep(self.pause_seconds)

    def _post_until_answered(self, http: httpx.Client, body: dict[str, Any]) -> list[str] | None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                response = http.post("/capture", json=body)
            except httpx.HTTPError as exc:
                self._count(type(exc).__name__)
                time.sleep(0.1)
                continue
            if response.status_code == 202:
                return list(response.json()["eventIDs"])
            self._count(str(response.status_code))
            if response.status_code in (409, 429) or response.status_code >= 500:
                time.sleep(float(response.headers.get("Retry-After", "0.2")))
                continue
            with self._lock:
                self.refused.append(f"{response.status_code} {response.text[:300]}")
            return None
        with self._lock:
            self.refused.append("no answer within 300 s")
        return None

    def _count(self, what: str) -> None:
        with self._lock:
            self.failures[what] += 1
