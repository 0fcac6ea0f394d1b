"""Reading the registries' logs and block headers from any node, in bounded ranges.

One ``eth_getLogs`` per range covers the three contracts; logs come back decoded, in chain
order. Headers give the hashes the follower keeps to notice a reorganisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hexbytes import HexBytes
from web3.contract import Contract

from chain.client import Chain
from chain.deployment import Deployment
from chain.errors import ChainUnavailableError
from chain.ledger import Ledger


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


def _hex32(value: Any) -> bytes:
    return bytes(HexBytes(value))


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
        return BlockHeader(
            number=int(block["number"]),
            hash=_hex32(block["hash"]),
            parent_hash=_hex32(block["parentHash"]),
            timestamp=int(block["timestamp"]),
        )

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
