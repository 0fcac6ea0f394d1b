"""Reading block headers: many at once in JSON-RPC batches, the same headers as one by one."""

from __future__ import annotations

from pathlib import Path

import pytest

from chain.client import Chain
from indexer import chainlogs
from indexer.chainlogs import LogReader
from tests.support.anchoring import start_publisher


def reader_after_some_blocks(chain: Chain, tmp_path: Path) -> LogReader:
    publisher = start_publisher(chain, tmp_path)  # deploys and registers: a few blocks
    return LogReader(chain, publisher.deployment)


def test_headers_read_together_on_the_embedded_chain_are_the_headers_read_one_by_one(
    chain: Chain, tmp_path: Path
) -> None:
    reader = reader_after_some_blocks(chain, tmp_path)
    head = reader.head()
    numbers = [*range(head + 1), head + 1, head + 7]
    assert reader.headers(numbers) == {n: reader.header(n) for n in numbers}
    assert reader.headers([head + 1]) == {head + 1: None}


@pytest.mark.node
def test_headers_read_in_json_rpc_batches_are_the_headers_read_one_by_one(
    rpc_chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = reader_after_some_blocks(rpc_chain, tmp_path)
    monkeypatch.setattr(chainlogs, "HEADERS_PER_REQUEST", 3)  # several requests
    head = reader.head()
    numbers = [*range(head + 1), head + 1, head + 7]
    together = reader.headers(numbers)
    assert reader._batches  # the node took the batches
    assert together == {n: reader.header(n) for n in numbers}
    assert together[head + 1] is None
    assert [together[n].number for n in range(head + 1)] == list(range(head + 1))  # type: ignore[union-attr]
    assert together[head].parent_hash == together[head - 1].hash  # type: ignore[union-attr]
