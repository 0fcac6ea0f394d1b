"""Reading the registries' logs and block headers from any node, in bounded ranges.

One ``eth_getLogs`` per range covers the three contracts; logs come back decoded, in chain
order. Headers give the hashes the follower keeps to notice a reorganisation; the anchoring
transactions' receipts give the gas they used (:meth:`LogReader.gas_used`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hexbytes import HexBytes
from web3 import HTTPProvider
from web3.contract import Contract

from chain.client import Chain
from chain.deployment import Deployment
from chain.ledger import Ledger
from medledger.errors import ChainMovedError, ChainUnavailableError


@dataclass(frozen=True, slots=True)
class BlockHeader:
    number: int
    hash: bytes
    parent_hash: bytes
    timestamp: int


@dataclass(frozen=True, slots=True)
class ChainLog:
    """One decoded log of our contracts."""

    block_number: int
    block_hash: bytes
    log_index: int
    tx_hash: str
    contract: str  # "participants", "anchors" or "recalls"
    name: str  # the Solidity event name
    args: dict[str, Any]


#: Headers per JSON-RPC batch request (geth and Besu take up to 1,000 and 1,024 by default).
HEADERS_PER_REQUEST = 500


def _hex32(value: Any) -> bytes:
    return bytes(HexBytes(value))


def _number(value: Any) -> int:
    """A quantity as web3 formats it, or as the node sent it (a hex string)."""
    return int(value, 16) if isinstance(value, str) else int(value)


def _header_of(block: Any) -> BlockHeader:
    """A header from a block as web3 formats it, or as the node sent it (hex strings)."""
    return BlockHeader(
        number=_number(block["number"]),
        hash=_hex32(block["hash"]),
        parent_hash=_hex32(block["parentHash"]),
        timestamp=_number(block["timestamp"]),
    )


class LogReader:
    """Headers and decoded logs of one deployment, from one chain."""

    def __init__(self, chain: Chain, deployment: Deployment) -> None:
        self.chain = chain
        ledger = Ledger(chain, deployment)
        contracts: dict[str, Contract] = {
            "participants": ledger.participants,
            "anchors": ledger.anchors,
            "recalls": ledger.recalls,
        }
        self._addresses = [c.address for c in contracts.values()]
        self._by_address = {c.address.lower(): label for label, c in contracts.items()}
        self._events: dict[tuple[str, bytes], Any] = {}
        self._batches = True  # the node answers JSON-RPC batch requests (until it does not)
        for label, contract in contracts.items():
            for event in contract.events:  # type: ignore[attr-defined]
                self._events[(label, _hex32(event.topic))] = event

    def head(self) -> int:
        try:
            return int(self.chain.w3.eth.block_number)
        except Exception as exc:  # noqa: BLE001 - any transport failure is "unavailable"
            raise ChainUnavailableError(f"cannot read the chain head: {exc}") from exc

    def header(self, number: int) -> BlockHeader | None:
        """The header of block ``number``, or None past the head."""
        try:
            block = self.chain.w3.eth.get_block(number)
        except Exception as exc:  # noqa: BLE001
            if "not found" in str(exc).lower():
                return None
            raise ChainUnavailableError(f"cannot read block {number}: {exc}") from exc
        if block is None:
            return None
        return _header_of(block)

    def headers(self, numbers: Sequence[int]) -> dict[int, BlockHeader | None]:
        """The headers of blocks ``numbers`` (None past the head).

        Over HTTP, in JSON-RPC batch requests of :data:`HEADERS_PER_REQUEST`, read as the node
        sends them: web3's per-block request and formatting cost about 3 ms of CPU a block,
        a catch-up's range has thousands, and the follower's thread pays for them. A node
        that refuses batches, or another transport, is asked block by block."""
        provider = self.chain.w3.provider
        if not isinstance(provider, HTTPProvider) or not self._batches:
            return {n: self.header(n) for n in numbers}
        out: dict[int, BlockHeader | None] = {}
        for start in range(0, len(numbers), HEADERS_PER_REQUEST):
            part = numbers[start : start + HEADERS_PER_REQUEST]
            calls: list[tuple[Any, Any]] = [("eth_getBlockByNumber", [hex(n), False]) for n in part]
            try:
                responses = provider.make_batch_request(calls)
            except Exception as exc:  # noqa: BLE001 - any transport failure is "unavailable"
                raise ChainUnavailableError(f"cannot read blocks {part[0]}..: {exc}") from exc
            if not isinstance(responses, list) or len(responses) != len(part):
                self._batches = False  # an error object instead: no batches on this node
                out.update((n, self.header(n)) for n in numbers[start:])
                return out
            for n, response in zip(part, responses, strict=True):
                if "error" in response:
                    raise ChainUnavailableError(f"cannot read block {n}: {response['error']}")
                block = response.get("result")
                out[n] = None if block is None else _header_of(block)
        return out

    def gas_used(self, entries: Sequence[ChainLog]) -> dict[str, int]:
        """The ``gasUsed`` of the transactions that emitted ``entries``, by transaction hash,
        from their receipts (over HTTP in JSON-RPC batch requests, as :meth:`headers`).

        A receipt of another block than its log's, or none, means the chain moved while the
        range was read: :class:`~medledger.errors.ChainMovedError` (the step is dropped)."""
        blocks = {e.tx_hash: e.block_hash for e in entries}
        out: dict[str, int] = {}
        for tx_hash, receipt in self._receipts(sorted(blocks)).items():
            if receipt is None or _hex32(receipt["blockHash"]) != blocks[tx_hash]:
                raise ChainMovedError(f"transaction {tx_hash} left its block while it was read")
            out[tx_hash] = _number(receipt["gasUsed"])
        return out

    def _receipts(self, tx_hashes: list[str]) -> dict[str, Any]:
        provider = self.chain.w3.provider
        if not isinstance(provider, HTTPProvider) or not self._batches:
            return {tx: self._receipt(tx) for tx in tx_hashes}
        out: dict[str, Any] = {}
        for start in range(0, len(tx_hashes), HEADERS_PER_REQUEST):
            part = tx_hashes[start : start + HEADERS_PER_REQUEST]
            calls: list[tuple[Any, Any]] = [("eth_getTransactionReceipt", [tx]) for tx in part]
            try:
                responses = provider.make_batch_request(calls)
            except Exception as exc:  # noqa: BLE001 - any transport failure is "unavailable"
                raise ChainUnavailableError(f"cannot read receipts {part[0]}..: {exc}") from exc
            if not isinstance(responses, list) or len(responses) != len(part):
                self._batches = False  # an error object instead: no batches on this node
                out.update((tx, self._receipt(tx)) for tx in tx_hashes[start:])
                return out
            for tx, response in zip(part, responses, strict=True):
                if "error" in response:
                    raise ChainUnavailableError(f"cannot read receipt {tx}: {response['error']}")
                out[tx] = response.get("result")
        return out

    def _receipt(self, tx_hash: str) -> Any:
        try:
            return self.chain.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001
            if "not found" in str(exc).lower():
                return None
            raise ChainUnavailableError(f"cannot read receipt {tx_hash}: {exc}") from exc

    def logs(self, from_block: int, to_block: int) -> list[ChainLog]:
        """Every log of our contracts in ``[from_block, to_block]``, in chain order."""
        try:
            raw = self.chain.w3.eth.get_logs(
                {"fromBlock": from_block, "toBlock": to_block, "address": self._addresses}
            )
        except Exception as exc:  # noqa: BLE001
            raise ChainUnavailableError(
                f"eth_getLogs {from_block}..{to_block} failed: {exc}"
            ) from exc
        out: list[ChainLog] = []
        for log in raw:
            label = self._by_address.get(str(log["address"]).lower())
            if label is None or not log["topics"]:
                continue
            event = self._events.get((label, _hex32(log["topics"][0])))
            if event is None:
                continue  # an event we do not index (ownership transfers, EIP-712 domain)
            decoded = event.process_log(log)
            out.append(
                ChainLog(
                    block_number=int(log["blockNumber"]),
                    block_hash=_hex32(log["blockHash"]),
                    log_index=int(log["logIndex"]),
                    tx_hash="0x" + _hex32(log["transactionHash"]).hex(),
                    contract=label,
                    name=str(decoded["event"]),
                    args=dict(decoded["args"]),
                )
            )
        out.sort(key=lambda entry: (entry.block_number, entry.log_index))
        return out
