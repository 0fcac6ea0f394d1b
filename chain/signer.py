"""Who signs a transaction: the seam between building a transaction and holding its key.

A :class:`Signer` has an ``address`` and signs a complete transaction (nonce, gas, fees and chain
id filled in by :class:`chain.sender.TransactionSender`) into raw bytes ready for
``eth_sendRawTransaction``. Two kinds exist:

- :data:`LocalSigner`: eth-account's ``LocalAccount``, the key decrypted from a keystore and held
  in this process. It *is* a signer as it stands (no wrapper), so local signing costs exactly
  what it cost before the seam existed.
- :class:`Web3Signer`: the key stays in a remote signer speaking Web3Signer's Eth1 JSON-RPC
  (``eth_signTransaction``, ``eth_accounts``, ``GET /upcheck``), which keeps it in an HSM or a
  cloud KMS. Every answer is decoded and checked against the transaction asked for (sender,
  chain id, nonce, recipient, data, value, gas, fees) before it is sent anywhere.

A remote signer that does not sign (no such key, a JSON-RPC error, an HTTP error, no answer in
time, a transaction other than the one asked for) raises :class:`SignerError`, a
:class:`TransactionError`: nothing was sent, the nonce was not used, and the caller retries as
it retries any transaction the node refused.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias

import httpx
import rlp  # type: ignore[import-untyped]
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from medledger.errors import SignerError, cut

#: Seconds a remote signer has to answer one request.
DEFAULT_TIMEOUT_SECONDS = 10.0
#: What Web3Signer answers ``eth_signTransaction`` for an address it holds no key for.
_NO_KEY_CODE = -32000
# Characters of a remote answer an error message quotes.
_QUOTE = 300


class SignedTransaction(Protocol):
    """A signed transaction: its raw bytes and its hash (eth-account's ``SignedTransaction``)."""

    @property
    def raw_transaction(self) -> bytes: ...

    @property
    def hash(self) -> bytes: ...


class Signer(Protocol):
    """Signs transactions for one address."""

    @property
    def address(self) -> str: ...

    def sign_transaction(self, transaction_dict: dict[str, Any], /) -> SignedTransaction:
        """``transaction_dict`` complete (``nonce``, ``gas``, fees, ``chainId``, ``to``,
        ``data``, ``value``); the signed transaction, or :class:`SignerError`."""
        ...


#: The local signer: a key decrypted from its keystore (chain/keystore.py) into this process.
LocalSigner: TypeAlias = LocalAccount


@dataclass(frozen=True)
class RemoteSignedTransaction:
    """What a remote signer returned, checked: the raw transaction and its hash."""

    raw_transaction: bytes
    hash: bytes


class Web3SignerClient:
    """One Web3Signer (Eth1 mode) at ``url``: its accounts, its health, and signers for its keys.

    One HTTP connection pool for every signer made by :meth:`signer`; safe to share between
    threads."""

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._http = httpx.Client(timeout=timeout)
        self._ids = itertools.count(1)

    def close(self) -> None:
        self._http.close()

    def signer(self, address: str) -> Web3Signer:
        """The signer for ``address`` (its key must be one of :meth:`accounts`)."""
        return Web3Signer(self.url, address, client=self)

    def upcheck(self, timeout: float | None = None) -> bool:
        """Whether ``GET /upcheck`` answers 200 (Web3Signer's liveness check) within
        ``timeout`` seconds (default: the client's)."""
        try:
            answer = self._http.get(f"{self.url}/upcheck", timeout=timeout or self.timeout)
            return answer.status_code == 200
        except httpx.HTTPError:
            return False

    def accounts(self) -> set[str]:
        """The addresses (checksummed) whose keys the signer holds: ``eth_accounts``."""
        result = self.call("eth_accounts", [])
        if not isinstance(result, list) or not all(isinstance(a, str) for a in result):
            raise SignerError(
                f"the remote signer at {self.url} answered eth_accounts with "
                f"{cut(repr(result), _QUOTE)}, not a list of addresses"
            )
        try:
            return {Web3.to_checksum_address(a) for a in result}
        except ValueError as exc:
            raise SignerError(
                f"the remote signer at {self.url} listed an account that is no address: {exc}"
            ) from exc

    def call(self, method: str, params: list[Any]) -> Any:
        """One JSON-RPC call; its ``result``, or :class:`SignerError` saying what went wrong."""
        request = {"jsonrpc": "2.0", "method": method, "params": params, "id": next(self._ids)}
        try:
            response = self._http.post(self.url, json=request)
        except httpx.TimeoutException as exc:
            raise SignerError(
                f"the remote signer at {self.url} did not answer {method} within {self.timeout:g}s"
            ) from exc
        except httpx.HTTPError as exc:
            raise SignerError(f"the remote signer at {self.url} is unreachable: {exc}") from exc
        try:
            answer = response.json()
        except ValueError:
            answer = None
        error = answer.get("error") if isinstance(answer, dict) else None
        if isinstance(error, dict):
            code, message = error.get("code"), cut(str(error.get("message")), _QUOTE)
            raise SignerError(
                f"the remote signer at {self.url} refused {method}: {message} (code {code})"
            )
        if response.status_code != 200 or not isinstance(answer, dict) or "result" not in answer:
            raise SignerError(
                f"the remote signer at {self.url} answered {method} with HTTP "
                f"{response.status_code}: {cut(response.text, _QUOTE)!r}"
            )
        return answer["result"]


class Web3Signer:
    """A :class:`Signer` whose key is held by a Web3Signer at ``url``.

    The chain id is the one Web3Signer is configured with (``eth1 --chain-id``): it is not a
    parameter of ``eth_signTransaction``. A signer configured for another chain is caught here,
    before anything is sent, by the check of the answer."""

    def __init__(
        self,
        url: str,
        address: str,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        client: Web3SignerClient | None = None,
    ) -> None:
        self._client = client or Web3SignerClient(url, timeout=timeout)
        self._address = Web3.to_checksum_address(address)

    @property
    def address(self) -> str:
        return self._address

    @property
    def url(self) -> str:
        return self._client.url

    def sign_transaction(self, transaction_dict: dict[str, Any], /) -> RemoteSignedTransaction:
        params = signing_params(self._address, transaction_dict)
        result = self._client.call("eth_signTransaction", [params])
        try:
            if not isinstance(result, str):
                raise ValueError("not a hex string")
            raw = bytes.fromhex(result.removeprefix("0x"))
        except ValueError as exc:
            raise SignerError(
                f"the remote signer at {self.url} answered eth_signTransaction with "
                f"{cut(repr(result), _QUOTE)}, not a signed transaction: {exc}"
            ) from exc
        problem = mismatch(raw, self._address, transaction_dict)
        if problem is not None:
            raise SignerError(
                f"the remote signer at {self.url} returned a transaction other than the one "
                f"asked for ({problem}); nothing was sent"
            )
        return RemoteSignedTransaction(raw_transaction=raw, hash=bytes(Web3.keccak(raw)))


def _quantity(value: Any) -> str:
    return hex(int(value))


def _data(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return bytes.fromhex(str(value).removeprefix("0x"))


def signing_params(address: str, tx: dict[str, Any]) -> dict[str, Any]:
    """The ``eth_signTransaction`` transaction object for ``tx``, as Web3Signer documents it:
    ``from``, ``to`` (absent to create a contract), ``gas``, ``gasPrice`` (legacy) or
    ``maxFeePerGas`` and ``maxPriorityFeePerGas`` (EIP-1559), ``nonce`` (required), ``value``,
    ``data``; quantities in hex."""
    params: dict[str, Any] = {
        "from": address,
        "gas": _quantity(tx["gas"]),
        "nonce": _quantity(tx["nonce"]),
        "value": _quantity(tx.get("value", 0)),
        "data": "0x" + _data(tx.get("data", b"")).hex(),
    }
    if tx.get("to"):
        params["to"] = Web3.to_checksum_address(str(tx["to"]))
    if "gasPrice" in tx:
        params["gasPrice"] = _quantity(tx["gasPrice"])
    else:
        params["maxFeePerGas"] = _quantity(tx["maxFeePerGas"])
        params["maxPriorityFeePerGas"] = _quantity(tx["maxPriorityFeePerGas"])
    return params


def _int(field: bytes) -> int:
    return int.from_bytes(field, "big")


def decode_signed(raw: bytes) -> dict[str, Any]:
    """The fields of a signed legacy (EIP-155) or EIP-1559 transaction, as a transaction dict."""
    if raw and raw[0] == 2:
        fields = rlp.decode(raw[1:])
        if len(fields) != 12:
            raise ValueError(f"an EIP-1559 transaction has 12 fields, not {len(fields)}")
        chain_id, nonce, priority, max_fee, gas, to, value, data = fields[:8]
        return {
            "chainId": _int(chain_id),
            "nonce": _int(nonce),
            "maxPriorityFeePerGas": _int(priority),
            "maxFeePerGas": _int(max_fee),
            "gas": _int(gas),
            "to": to,
            "value": _int(value),
            "data": data,
        }
    if raw and raw[0] >= 0xC0:
        fields = rlp.decode(raw)
        if len(fields) != 9:
            raise ValueError(f"a legacy transaction has 9 fields, not {len(fields)}")
        nonce, gas_price, gas, to, value, data, v = fields[:7]
        v_value = _int(v)
        return {
            "chainId": (v_value - 35) // 2 if v_value >= 35 else None,
            "nonce": _int(nonce),
            "gasPrice": _int(gas_price),
            "gas": _int(gas),
            "to": to,
            "value": _int(value),
            "data": data,
        }
    raise ValueError(f"transaction type {raw[:1].hex() or 'none'} is neither legacy nor EIP-1559")


def mismatch(raw: bytes, address: str, tx: dict[str, Any]) -> str | None:
    """What differs between the signed ``raw`` and the ``tx`` that ``address`` asked to sign,
    or None when it is that transaction, signed by that address."""
    try:
        signed = decode_signed(raw)
        sender = Account.recover_transaction(raw)
    except Exception as exc:  # noqa: BLE001 - rlp and eth-account raise several types
        return f"unreadable: {exc}"
    if sender != address:
        return f"signed by {sender}, not {address}"
    expected: dict[str, Any] = {
        "chainId": int(tx["chainId"]),
        "nonce": int(tx["nonce"]),
        "gas": int(tx["gas"]),
        "to": bytes.fromhex(str(tx["to"]).removeprefix("0x")) if tx.get("to") else b"",
        "value": int(tx.get("value", 0)),
        "data": _data(tx.get("data", b"")),
    }
    if "gasPrice" in tx:
        expected["gasPrice"] = int(tx["gasPrice"])
    else:
        expected["maxFeePerGas"] = int(tx["maxFeePerGas"])
        expected["maxPriorityFeePerGas"] = int(tx["maxPriorityFeePerGas"])
    for field, value in expected.items():
        if field not in signed:
            return f"{'a legacy' if 'gasPrice' in signed else 'an EIP-1559'} transaction"
        if signed[field] != value:
            return f"{field} {signed[field]!r}, not {value!r}"
    return None
