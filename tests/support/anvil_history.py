"""A chain history on anvil, built block by block and rewritten: the reorganisations an
indexer must follow.

Batches are written once (their file in the publisher's folder, their root fixed) and may be
anchored again after a revert: the same root in another block, or in another order, or never
again. :class:`AnvilHistory` puts several anchors in one block (automining off while they are
sent), mines empty blocks, moves the clock, and snapshots and reverts the chain (anvil drops
the snapshot it reverts to and every later one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chain.client import Chain
from chain.ledger import ZERO_BYTES32
from medledger.epcis.builders import Actor
from tests.support.anchoring import Publisher


@dataclass(frozen=True)
class Batch:
    """A batch file written by the publisher: what anchoring it needs, and a name for messages."""

    label: str
    actor: Actor
    root: bytes
    count: int


class AnvilHistory:
    def __init__(self, url: str, publisher: Publisher, *, poll_interval: float = 0.02) -> None:
        self.url = url
        self.publisher = publisher
        self.poll_interval = poll_interval

    @property
    def chain(self) -> Chain:
        return self.publisher.ledger.chain

    def rpc(self, method: str, *params: object) -> Any:
        answer = self.chain.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
        if "error" in answer:
            raise RuntimeError(f"{method}{params}: {answer['error']}")
        return answer["result"]

    @property
    def head(self) -> int:
        return self.chain.block_number

    def write(self, label: str, actor: Actor, events: list[dict[str, Any]]) -> Batch:
        """Write a batch file (new salts, so a new root); nothing is anchored yet."""
        document = self.publisher.batch_document(actor, events)
        self.publisher.write(document)
        return Batch(label, actor, bytes.fromhex(document["root"][2:]), len(events))

    def tampered(self, label: str, actor: Actor, events: list[dict[str, Any]]) -> Batch:
        """A batch whose file was edited after its root was computed (an index rejects it:
        integrity alert)."""
        document = self.publisher.batch_document(actor, events)
        first = document["events"][0]["event"]
        first["eventTime"] = first["eventTime"].replace("Z", ".001Z")
        self.publisher.write(document)
        return Batch(label, actor, bytes.fromhex(document["root"][2:]), len(events))

    @staticmethod
    def missing(label: str, actor: Actor, root: bytes) -> Batch:
        """A batch anchored whose file nobody has (an index marks it unavailable)."""
        return Batch(label, actor, root, 1)

    def block(self, batches: Sequence[Batch]) -> int:
        """Anchor ``batches`` in one new block (sent in this order); the block's number."""
        ledger = self.publisher.ledger
        if len(batches) == 1:
            batch = batches[0]
            account = self.publisher.accounts[batch.actor.name]
            return ledger.anchor(account, batch.root, batch.count).block_number
        self.rpc("evm_setAutomine", False)
        try:
            sent = [
                self.chain.submit(
                    self.publisher.accounts[b.actor.name],
                    ledger.anchors,
                    "anchor",
                    b.root,
                    b.count,
                    ZERO_BYTES32,
                )
                for b in batches
            ]
            self.rpc("evm_mine")
        finally:
            self.rpc("evm_setAutomine", True)
        numbers = set()
        for batch, submitted in zip(batches, sent, strict=True):
            sender = self.chain.sender(self.publisher.accounts[batch.actor.name])
            result = sender.wait(submitted.tx_hash, submitted.tx, timeout=30, confirmations=0)
            numbers.add(result.block_number)
        assert len(numbers) == 1, f"the anchors landed in blocks {sorted(numbers)}"
        return numbers.pop()

    def mine(self, blocks: int = 1) -> None:
        for _ in range(blocks):
            self.rpc("evm_mine")

    def jump(self, seconds: int) -> None:
        """The next block's timestamp at least ``seconds`` later than it would be."""
        self.rpc("evm_increaseTime", seconds)

    def snapshot(self) -> str:
        return str(self.rpc("evm_snapshot"))

    def revert(self, snapshot: str) -> None:
        """Back to ``snapshot`` (anvil forgets it and every later one); a new connection, since
        the senders' cached nonces belong to the abandoned branch."""
        assert self.rpc("evm_revert", snapshot) is True
        self.publisher.rebind(Chain.from_url(self.url, poll_interval=self.poll_interval))
