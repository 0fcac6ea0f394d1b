"""Sending transactions signed by one account: nonces, fees, receipts and revert mapping.

The account's key is behind a :class:`chain.signer.Signer` (a local key or a remote signer): the
sender builds the complete transaction and the signer only signs it. One
:class:`TransactionSender` exists per account and chain. It assigns nonces under a lock, so
concurrent callers never reuse or skip one, and it resynchronises with the node when the node
reports a nonce problem. Reverts are detected *before* a nonce is used (gas estimation replays the
call) and mapped to :class:`ContractRevertError` with the Solidity custom error's name; an
estimate the node could not give (a timeout, a refused connection, any error that is not the
contract reverting) is a :class:`TransactionError`, which callers retry, never a revert.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from web3.exceptions import TimeExhausted

from chain.reverts import is_revert
from medledger.errors import ChainError, ContractRevertError, TransactionError

if TYPE_CHECKING:
    from chain.client import Chain
    from chain.signer import Signer

#: Extra gas over the node's estimate: estimates are exact for the state they ran on.
GAS_MARGIN = 1.2
# How ganache, anvil, Besu, geth and eth-tester say "that nonce is not the next one".
_NONCE_MESSAGES = (
    "nonce too low",
    "nonce too high",
    "invalid transaction nonce",
    "already known",
    "replacement transaction",
)


@dataclass(frozen=True)
class TxResult:
    """What a mined transaction left behind."""

    tx_hash: str
    block_number: int
    block_hash: str
    gas_used: int
    logs: list[Any]
    contract_address: str | None = None


@dataclass(frozen=True)
class Submitted:
    """A transaction broadcast but not yet known to be mined."""

    tx_hash: str
    nonce: int
    tx: dict[str, Any]


def is_nonce_error(exc: BaseException) -> bool:
    """Whether a node's refusal says the nonce is not the next one (too low, taken, too high)."""
    message = str(exc).lower()
    return any(m in message for m in _NONCE_MESSAGES if m != "already known")


class TransactionSender:
    """Signs and sends transactions for one account; safe to share between threads."""

    def __init__(self, chain: Chain, signer: Signer) -> None:
        self._chain = chain
        self.signer = signer
        self.address: str = signer.address
        self._lock = threading.Lock()
        self._next_nonce: int | None = None

    def send(
        self,
        tx: dict[str, Any],
        *,
        timeout: float = 120.0,
        confirmations: int = 0,
    ) -> TxResult:
        """Estimate, sign, send and wait for ``tx`` (``to``/``data``/``value`` set by the caller).

        Raises :class:`ContractRevertError` if the call would revert (nothing is sent then) or
        reverted on-chain, :class:`TransactionError` if it was not mined in time, and
        :class:`SignerError` if the signer did not sign (nothing is sent, no nonce is used).
        """
        submitted = self.submit(tx)
        return self.wait(
            submitted.tx_hash, submitted.tx, timeout=timeout, confirmations=confirmations
        )

    def submit(self, tx: dict[str, Any], *, nonce: int | None = None) -> Submitted:
        """Estimate, sign and broadcast ``tx`` without waiting for it to be mined.

        ``nonce`` sends with that nonce: one the caller reserved (the gateway's batcher keeps
        them in its store), or one already used, to re-send a stuck transaction as it was (on a
        zero-fee chain it is never fee-bumped); "already known" from the node is then success.
        Otherwise the next nonce of this account is taken.
        """
        w3 = self._chain.w3
        tx = {**tx, "from": self.address, "chainId": self._chain.chain_id}
        tx.setdefault("value", 0)
        if "gas" not in tx:
            try:
                estimate = w3.eth.estimate_gas(tx)  # type: ignore[arg-type]
            except Exception as exc:  # noqa: BLE001 - every node raises its own type
                if not is_revert(exc):  # the node did not answer: nothing is known, try again
                    raise TransactionError(f"the node could not estimate gas: {exc}") from exc
                raise self._chain.errors.to_error(exc) from exc
            tx["gas"] = int(estimate * GAS_MARGIN) + 10_000
        tx.update(self._chain.fee_fields())
        if nonce is not None:
            return self._resend(tx, nonce)
        tx_hash = self._sign_and_send(tx)
        return Submitted(tx_hash=tx_hash, nonce=int(tx["nonce"]), tx=tx)

    def _resend(self, tx: dict[str, Any], nonce: int) -> Submitted:
        tx["nonce"] = nonce
        signed = self.signer.sign_transaction(tx)
        tx_hash = "0x" + bytes(signed.hash).hex()
        try:
            self._chain.w3.eth.send_raw_transaction(signed.raw_transaction)
        except Exception as exc:  # noqa: BLE001 - every node raises its own type
            if "already known" not in str(exc).lower():
                raise TransactionError(
                    f"the node refused the transaction with nonce {nonce}: {exc}"
                ) from exc
        with self._lock:
            # Keep this sender's own counter past a nonce the caller chose.
            if self._next_nonce is not None and nonce >= self._next_nonce:
                self._next_nonce = nonce + 1
        return Submitted(tx_hash=tx_hash, nonce=nonce, tx=tx)

    def _sign_and_send(self, tx: dict[str, Any]) -> str:
        w3 = self._chain.w3
        with self._lock:
            for attempt in range(2):
                if self._next_nonce is None:
                    self._next_nonce = w3.eth.get_transaction_count(
                        self.address,  # type: ignore[arg-type]
                        "pending",
                    )
                tx["nonce"] = self._next_nonce
                signed = self.signer.sign_transaction(tx)  # SignerError: the nonce stays free
                try:
                    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
                except Exception as exc:  # noqa: BLE001 - every node raises its own type
                    message = str(exc).lower()
                    if attempt == 0 and any(m in message for m in _NONCE_MESSAGES):
                        self._next_nonce = None  # resynchronise with the node and try once more
                        continue
                    raise TransactionError(f"the node refused the transaction: {exc}") from exc
                self._next_nonce += 1
                return "0x" + bytes(tx_hash).hex()
        raise ChainError(f"could not find a usable nonce for {self.address}")

    def wait(
        self, tx_hash: str, tx: dict[str, Any], *, timeout: float, confirmations: int
    ) -> TxResult:
        """Wait until ``tx_hash`` is mined (and ``confirmations`` blocks deep); map failures."""
        w3 = self._chain.w3
        try:
            receipt = w3.eth.wait_for_transaction_receipt(
                tx_hash,  # type: ignore[arg-type]
                timeout=timeout,
                poll_latency=self._chain.poll_interval,
            )
        except TimeExhausted as exc:
            raise TransactionError(
                f"transaction {tx_hash} not mined within {timeout:.0f}s", tx_hash=tx_hash
            ) from exc
        if receipt["status"] != 1:
            raise self._explain_failure(tx, receipt["blockNumber"], tx_hash)
        target = receipt["blockNumber"] + confirmations
        while confirmations and w3.eth.block_number < target:
            time.sleep(self._chain.poll_interval)
        address = receipt.get("contractAddress")
        return TxResult(
            tx_hash=tx_hash,
            block_number=int(receipt["blockNumber"]),
            block_hash="0x" + bytes(receipt["blockHash"]).hex(),
            gas_used=int(receipt["gasUsed"]),
            logs=list(receipt["logs"]),
            contract_address=str(address) if address else None,
        )

    def _explain_failure(self, tx: dict[str, Any], block: int, tx_hash: str) -> TransactionError:
        call = {k: tx[k] for k in ("from", "to", "data", "value") if k in tx}
        try:
            self._chain.w3.eth.call(call, block_identifier=max(block - 1, 0))  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 - every node raises its own type
            return self._chain.errors.to_error(exc, tx_hash=tx_hash)
        return ContractRevertError(f"transaction {tx_hash} reverted", tx_hash=tx_hash)
