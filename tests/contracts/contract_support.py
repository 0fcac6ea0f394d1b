"""Helpers shared by the contract tests: role bits, GS1 check digits, artifacts, custom errors.

A module with a unique name (not conftest) so test files can import it unambiguously.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_abi.abi import decode
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract

from medledger.roles import Role

BUILD_DIR = Path(__file__).resolve().parents[2] / "chain" / "compiled"

# Role bits from medledger.roles
# (tests/chain/test_roles.py checks them against contracts/Roles.sol).
(API_MAKER, MANUFACTURER, IMPORTER, DISTRIBUTOR, WHOLESALER, PHARMACY, HOSPITAL, AUDITOR,
 REGULATOR, PHARMACOVIGILANCE) = (int(role) for role in Role)  # fmt: skip
ALL_ROLES = int(Role(0x3FF))

# ParticipantRegistry.Status
STATUS_NONE, STATUS_ACTIVE, STATUS_SUSPENDED = 0, 1, 2


def gs1_check_digit(body: int) -> int:
    """GS1 mod-10 check digit of the digits of `body` (weights 3,1,3,... from the right)."""
    total, weight = 0, 3
    while body:
        total += (body % 10) * weight
        body //= 10
        weight = 4 - weight
    return (10 - total % 10) % 10


def with_check_digit(body: int) -> int:
    """`body` with its GS1 check digit appended: a valid GLN from 12 digits, GTIN from 13."""
    return body * 10 + gs1_check_digit(body)


REGULATOR_GLN = with_check_digit(400000000001)
#: The GS1 company prefixes the conftest gives the two manufacturers (and the signer, a third
#: manufacturer that shares the first one's prefix as a contract manufacturer would).
MANUFACTURER_PREFIX = "9501234"
OTHER_MANUFACTURER_PREFIX = "9507777"


def load_artifact(name: str) -> dict[str, Any]:
    artifact: dict[str, Any] = json.loads((BUILD_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return artifact


# --- Custom errors ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomError:
    name: str
    args: tuple[Any, ...]


def _error_abis() -> dict[bytes, dict[str, Any]]:
    by_selector: dict[bytes, dict[str, Any]] = {}
    for name in ("ParticipantRegistry", "AnchorRegistry", "RecallRegistry"):
        for entry in load_artifact(name)["abi"]:
            if entry["type"] == "error":
                types = ",".join(i["type"] for i in entry["inputs"])
                by_selector[keccak(text=f"{entry['name']}({types})")[:4]] = entry
    return by_selector


ERRORS_BY_SELECTOR = _error_abis()


def revert_data(exc: BaseException) -> bytes:
    """The raw revert data of a failed call or transaction.

    web3 raises ContractCustomError with hex `.data` against JSON-RPC nodes; its eth-tester
    provider instead raises TransactionFailed("execution reverted: b'...'") carrying the bytes'
    repr, which is parsed back here.
    """
    data = getattr(exc, "data", None)
    if isinstance(data, str) and data.startswith("0x"):
        return bytes.fromhex(data[2:])
    message = str(exc.args[0]) if exc.args else ""
    prefix = "execution reverted: "
    if message.startswith(prefix) and message[len(prefix) :].startswith(("b'", 'b"')):
        raw = ast.literal_eval(message[len(prefix) :])
        if isinstance(raw, bytes):
            return raw
    raise AssertionError(f"no revert data in {type(exc).__name__}: {exc}")


def decode_custom_error(data: bytes) -> CustomError:
    entry = ERRORS_BY_SELECTOR.get(data[:4])
    if entry is None:
        raise AssertionError(f"revert data {data.hex()} matches no custom error of the contracts")
    values = decode([i["type"] for i in entry["inputs"]], data[4:])
    return CustomError(entry["name"], tuple(values))


def normalise(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return value.lower()
    return value


Reverts = Callable[..., AbstractContextManager[None]]
"""The `reverts` fixture: `with reverts("ErrorName", *args): ...`."""


@dataclass(frozen=True)
class Cast:
    """Accounts with fixed roles. `outsider` is not registered."""

    regulator: str
    api_maker: str
    manufacturer: str
    other_manufacturer: str
    distributor: str
    auditor: str
    outsider: str


@dataclass(frozen=True)
class Deployment:
    w3: Web3
    participants: Contract
    anchors: Contract
    recalls: Contract
    cast: Cast
    signer: LocalAccount
    """A participant (MANUFACTURER) known only by its key; it holds no ether."""
