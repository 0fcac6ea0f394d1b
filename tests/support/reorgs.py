"""Reorganisations of an anvil chain under load: a miner the campaign controls, and reorgs that
move some transactions of the vanished blocks and drop others.

anvil runs with ``--no-mining``: :class:`Director` mines a block every ``interval`` seconds (the
pending anchor transactions go in it), so the depth of a reorganisation is exactly what the
campaign asks. A reorganisation (:meth:`Director.reorganise`): snapshot at height ``h``; mine
``depth`` blocks with what is pending; read their transactions; revert to ``h`` (those blocks
vanish with their transactions); then mine a different, longer history: an empty block first,
the *moved* transactions sent again (the same signed bytes: same hash, another block), the
*dropped* ones never again. Only a suffix of one sender's nonces is dropped, and only when none
of its later transactions waits in the pool: a real node puts a vanished branch's transactions
back in its pool unless they conflict, so a gap that no node would leave is never made.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests


class RpcError(RuntimeError):
    pass


def rpc(url: str, method: str, *params: Any) -> Any:
    answer = requests.post(
        url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, timeout=30
    ).json()
    if "error" in answer:
        raise RpcError(f"{method}: {answer['error']}")
    return answer["result"]


@dataclass(frozen=True)
class Reorganisation:
    at: int  # the height kept
    depth: int  # blocks that vanished
    moved: int  # their transactions sent again, mined in other blocks
    dropped: int  # their transactions gone for good
    new_head: int


@dataclass
class Director:
    url: str
    interval: float = 0.25
    #: How long a block of the branch that will vanish collects pending transactions.
    reorg_block_seconds: float = 1.0
    reorganisations: list[Reorganisation] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._mine_loop, daemon=True, name="miner")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def head(self) -> int:
        return int(rpc(self.url, "eth_blockNumber"), 16)

    def mine(self, blocks: int = 1) -> None:
        with self._lock:
            for _ in range(blocks):
                rpc(self.url, "evm_mine")

    def _mine_loop(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                rpc(self.url, "evm_mine")

    def reorganise(self, rng: random.Random, *, depth: int, may_drop: bool) -> Reorganisation:
        """Replace the next ``depth`` blocks (mined now, with what is pending) by another."""
        with self._lock:
            kept = int(rpc(self.url, "eth_blockNumber"), 16)
            snapshot = rpc(self.url, "evm_snapshot")
            for _ in range(depth):
                time.sleep(self.reorg_block_seconds)  # anchors keep coming: each block takes some
                rpc(self.url, "evm_mine")
            old_head = kept + depth
            vanished: list[dict[str, Any]] = []
            for number in range(kept + 1, old_head + 1):
                block = rpc(self.url, "eth_getBlockByNumber", hex(number), True)
                vanished.extend(block["transactions"])
            raw = {
                tx["hash"]: rpc(self.url, "eth_getRawTransactionByHash", tx["hash"])
                for tx in vanished
            }
            if rpc(self.url, "evm_revert", snapshot) is not True:
                raise RpcError("evm_revert refused the snapshot")
            dropped = self._choose_dropped(rng, vanished) if may_drop else set()
            rpc(self.url, "evm_mine")  # the moved transactions land one block later at least
            moved = 0
            for tx in sorted(vanished, key=lambda t: (t["from"], int(t["nonce"], 16))):
                if tx["hash"] in dropped:
                    continue
                try:
                    rpc(self.url, "eth_sendRawTransaction", raw[tx["hash"]])
                    moved += 1
                except RpcError:
                    pass  # already back in the pool, or superseded: the gateway's business
            while int(rpc(self.url, "eth_blockNumber"), 16) <= old_head:
                rpc(self.url, "evm_mine")
            done = Reorganisation(
                at=kept,
                depth=depth,
                moved=moved,
                dropped=len(dropped),
                new_head=int(rpc(self.url, "eth_blockNumber"), 16),
            )
        self.reorganisations.append(done)
        return done

    def _choose_dropped(self, rng: random.Random, vanished: list[dict[str, Any]]) -> set[str]:
        """A suffix of some senders' vanished nonces, where nothing later waits in the pool."""
        by_sender: dict[str, list[dict[str, Any]]] = {}
        for tx in vanished:
            by_sender.setdefault(tx["from"], []).append(tx)
        dropped: set[str] = set()
        for sender, txs in by_sender.items():
            txs.sort(key=lambda t: int(t["nonce"], 16))
            first = int(txs[0]["nonce"], 16)
            pending = int(rpc(self.url, "eth_getTransactionCount", sender, "pending"), 16)
            if pending != first or rng.random() < 0.5:
                continue  # later transactions wait in the pool (or keep this sender whole)
            keep = rng.randrange(len(txs))  # drop txs[keep:], at least the last one
            dropped.update(tx["hash"] for tx in txs[keep:])
        return dropped
