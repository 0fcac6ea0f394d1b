"""Batches from the gateway's HTTP API: what each answer means for the indexer."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from indexer.sources import GatewayBatchSource
from medledger.errors import BatchRefusedError, BatchUnavailableError

ROOT = bytes(range(32))


def source_answering(status: int, body: dict[str, Any]) -> GatewayBatchSource:
    source = GatewayBatchSource("http://gateway.test", "key")
    transport = httpx.MockTransport(lambda _request: httpx.Response(status, json=body))
    source._client = httpx.Client(base_url="http://gateway.test", transport=transport)
    return source


def test_a_batch_the_gateway_refuses_as_altered_is_refused_for_good_with_its_evidence() -> None:
    event_id = "ni:///sha-256;" + "ab" * 32 + "?ver=CBV2.0"
    source = source_answering(
        409,
        {
            "type": "https://provenance.example/problems/integrity",
            "status": 409,
            "detail": f"event {event_id} no longer verifies",
            "rule": "integrity.event-altered",
            "event_ids": [event_id],
            "root": "0x" + ROOT.hex(),
        },
    )
    with pytest.raises(BatchRefusedError, match="what it stores no longer verifies") as refused:
        source.fetch(ROOT)
    assert not refused.value.retryable
    assert refused.value.evidence["rule"] == "integrity.event-altered"
    assert refused.value.evidence["eventIDs"] == [event_id]
    assert refused.value.evidence["sourceRoot"] == "0x" + ROOT.hex()


def test_another_409_is_worth_asking_again() -> None:
    source = source_answering(
        409, {"type": "https://provenance.example/problems/conflict", "status": 409}
    )
    with pytest.raises(
        BatchUnavailableError, match="gateway answered 409 for batch"
    ) as unavailable:
        source.fetch(ROOT)
    assert unavailable.value.retryable and not isinstance(unavailable.value, BatchRefusedError)


def test_a_batch_the_gateway_does_not_have_is_unavailable_for_good() -> None:
    source = source_answering(404, {"type": "https://provenance.example/problems/not-found"})
    with pytest.raises(BatchUnavailableError, match="the gateway has no batch 0x") as unavailable:
        source.fetch(ROOT)
    assert not unavailable.value.retryable
