"""Turn revert data from any node into :class:`ContractRevertError` with the custom error's name.

eth-tester and JSON-RPC nodes (ganache, anvil, Besu) report the same revert in different shapes:
web3.py raises ``ContractCustomError`` with the ABI-encoded error as hex data,
``ContractLogicError``
with a message, or ``Web3RPCError`` whose message or data carries it. This module decodes all of
them against the custom errors declared in our contract ABIs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from eth_abi.abi import decode
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address
from web3.exceptions import ContractLogicError

from medledger.errors import ContractRevertError

_HEX_DATA = re.compile(r"0x[0-9a-fA-F]{8,}")
_ERROR_STRING_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
_PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)


class ErrorDecoder:
    """Knows every custom error of a set of ABIs, by 4-byte selector."""

    def __init__(self, abis: Iterable[list[dict[str, Any]]]) -> None:
        self._errors: dict[bytes, tuple[str, list[str], list[str]]] = {}
        for abi in abis:
            for item in abi:
                if item.get("type") != "error":
                    continue
                types = [_canonical_type(i) for i in item.get("inputs", [])]
                names = [str(i.get("name") or f"arg{n}") for n, i in enumerate(item["inputs"])]
                signature = f"{item['name']}({','.join(types)})"
                selector = function_signature_to_4byte_selector(signature)
                self._errors[selector] = (str(item["name"]), types, names)

    def decode(self, data: bytes) -> tuple[str, dict[str, Any]] | None:
        """Name and arguments of the error encoded in ``data``, or None if unknown."""
        if len(data) < 4:
            return None
        selector, payload = data[:4], data[4:]
        if selector == _ERROR_STRING_SELECTOR:
            (reason,) = decode(["string"], payload)
            return "Error", {"reason": reason}
        if selector == _PANIC_SELECTOR:
            (code,) = decode(["uint256"], payload)
            return "Panic", {"code": code}
        known = self._errors.get(selector)
        if known is None:
            return None
        name, types, names = known
        values = decode(types, payload)
        return name, {n: _plain(v, t) for n, v, t in zip(names, values, types, strict=True)}

    def to_error(self, exc: BaseException, *, tx_hash: str | None = None) -> ContractRevertError:
        """Map a web3 / eth-tester exception raised by a reverting call to our error."""
        data = revert_data_of(exc)
        decoded = self.decode(data) if data is not None else None
        if decoded is None:
            return ContractRevertError(f"reverted: {exc}", tx_hash=tx_hash)
        name, args = decoded
        shown = ", ".join(f"{k}={v}" for k, v in args.items())
        return ContractRevertError(
            f"reverted with {name}({shown})", error_name=name, error_args=args, tx_hash=tx_hash
        )


def is_revert(exc: BaseException) -> bool:
    """Whether a node's refusal of a call or gas estimate is the contract reverting.

    Anything else (a timeout, a refused connection, a node between states during a
    reorganisation, any other RPC error) is not: the same call may succeed on a later try, so it
    must not be taken for the contract's answer.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ContractLogicError) or type(current).__name__ == "TransactionFailed":
            return True  # web3.py's revert types; eth-tester's TransactionFailed
        current = current.__cause__ or current.__context__
    return revert_data_of(exc) is not None or "revert" in str(exc).lower()


def revert_data_of(exc: BaseException) -> bytes | None:
    """Find ABI-encoded revert data in an exception raised by web3.py or eth-tester.

    web3.py puts it in ``.data`` (hex) or the RPC error; eth-tester raises ``TransactionFailed``
    whose *context* is py-evm's ``Revert`` carrying the raw bytes.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        candidates: list[Any] = [getattr(current, "data", None), *current.args]
        rpc = getattr(current, "rpc_response", None)
        if isinstance(rpc, dict):
            error = rpc.get("error")
            if isinstance(error, dict):
                candidates.extend([error.get("data"), error.get("message")])
        for candidate in candidates:
            found = _hex_from(candidate)
            if found is not None:
                return found
        current = current.__cause__ or current.__context__
    return None


def _hex_from(value: Any) -> bytes | None:
    if isinstance(value, bytes) and len(value) >= 4:
        return value
    if isinstance(value, dict):
        for key in ("data", "result", "message"):
            found = _hex_from(value.get(key))
            if found is not None:
                return found
        return None
    if isinstance(value, str):
        match = _HEX_DATA.search(value)
        if match and len(match.group(0)) % 2 == 0:
            return bytes.fromhex(match.group(0)[2:])
    return None


def _canonical_type(abi_input: dict[str, Any]) -> str:
    kind = str(abi_input["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_canonical_type(c) for c in abi_input.get("components", []))
        return f"({inner}){kind[len('tuple') :]}"
    return kind


def _plain(value: Any, abi_type: str) -> Any:
    if abi_type == "address":
        return to_checksum_address(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value
