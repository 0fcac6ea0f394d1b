"""Receipts: self-contained JSON that proves one event was anchored, trusting no one.

Format, version 1 (every hash and address a 0x-prefixed hex string)::

    {"version": 1, "event_hash", "salt", "leaf", "proof": [...], "root",
     "chain_id", "contract", "tx_hash", "block_number", "anchored_by", "event"?}

``leaf`` is the OpenZeppelin StandardMerkleTree leaf of ``(event_hash, salt)``, ``proof`` the
sibling hashes up to ``root`` (see :mod:`medledger.merkle`). When the event itself is embedded under
``event``, a verifier also recomputes ``event_hash`` from it.

Kinds: a receipt proves an event (no ``kind`` field, or ``"kind": "event"``: every receipt written
before error declarations, unchanged) or an error declaration (``"kind": "errorDeclaration"``,
:mod:`medledger.epcis.error_declaration`). A declaration's receipt has the same fields; its
``event_hash`` is the declaration's digest (the value its leaf commits to, as the anchor registry's
``verifyEvent`` takes it), and the stored declaration is embedded under ``declaration`` (not
``event``), from which a verifier recomputes that digest. A master data record's receipt
(``"kind": "masterdata"``, :mod:`medledger.masterdata.record`) likewise: ``event_hash`` is the
record's digest and the stored record is embedded under ``masterdata``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from medledger.errors import ReceiptFormatError

RECEIPT_VERSION = 1
#: What a receipt proves: an event, or an error declaration.
KIND_EVENT = "event"
KIND_DECLARATION = "errorDeclaration"
KIND_MASTERDATA = "masterdata"
RECEIPT_KINDS = (KIND_EVENT, KIND_DECLARATION, KIND_MASTERDATA)
_HASH_FIELDS = ("event_hash", "salt", "leaf", "root", "tx_hash")
_ADDRESS_FIELDS = ("contract", "anchored_by")

#: Computes an event's 32-byte canonical hash from the event's JSON.
EventHasher = Callable[[dict[str, Any]], bytes]


@dataclass(frozen=True)
class Check:
    """One thing verified about a receipt, and what was found."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Verdict:
    """Every check of a receipt (:mod:`chain.verification`); valid when all passed."""

    checks: tuple[Check, ...]

    @property
    def valid(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]


@dataclass(frozen=True)
class Receipt:
    """One event's proof of anchoring."""

    event_hash: bytes
    salt: bytes
    leaf: bytes
    proof: tuple[bytes, ...]
    root: bytes
    chain_id: int
    contract: str
    tx_hash: bytes
    block_number: int
    anchored_by: str
    event: dict[str, Any] | None = field(default=None, compare=False)
    kind: str = KIND_EVENT
    #: the stored declaration (kind ``errorDeclaration``), embedded
    declaration: dict[str, Any] | None = field(default=None, compare=False)
    #: the stored master data record (kind ``masterdata``), embedded
    masterdata: dict[str, Any] | None = field(default=None, compare=False)

    def with_embedded(
        self,
        *,
        event: dict[str, Any] | None = None,
        declaration: dict[str, Any] | None = None,
        masterdata: dict[str, Any] | None = None,
    ) -> Receipt:
        """This receipt embedding ``event`` or, as kind ``errorDeclaration``, ``declaration``
        or, as kind ``masterdata``, ``masterdata``."""
        if declaration is not None:
            return replace(
                self, event=None, kind=KIND_DECLARATION, declaration=declaration, masterdata=None
            )
        if masterdata is not None:
            return replace(
                self, event=None, kind=KIND_MASTERDATA, declaration=None, masterdata=masterdata
            )
        return replace(self, event=event, kind=KIND_EVENT, declaration=None, masterdata=None)

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "version": RECEIPT_VERSION,
            **({} if self.kind == KIND_EVENT else {"kind": self.kind}),
            "event_hash": _hex(self.event_hash),
            "salt": _hex(self.salt),
            "leaf": _hex(self.leaf),
            "proof": [_hex(p) for p in self.proof],
            "root": _hex(self.root),
            "chain_id": self.chain_id,
            "contract": self.contract,
            "tx_hash": _hex(self.tx_hash),
            "block_number": self.block_number,
            "anchored_by": self.anchored_by,
        }
        if self.event is not None:
            document["event"] = self.event
        if self.declaration is not None:
            document["declaration"] = self.declaration
        if self.masterdata is not None:
            document["masterdata"] = self.masterdata
        return document

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_json(cls, document: Any) -> Receipt:
        """Parse a receipt; any missing or malformed field is a :class:`ReceiptFormatError`."""
        if not isinstance(document, dict):
            raise ReceiptFormatError("a receipt is a JSON object")
        version = document.get("version")
        if version != RECEIPT_VERSION:
            raise ReceiptFormatError(
                f"unsupported receipt version {version!r}: this tool reads version 1"
            )
        hashes = {name: _bytes32(document, name) for name in _HASH_FIELDS}
        proof = document.get("proof")
        if not isinstance(proof, list):
            raise ReceiptFormatError("field 'proof' must be a list of 32-byte hex strings")
        event = document.get("event")
        if event is not None and not isinstance(event, dict):
            raise ReceiptFormatError("field 'event' must be a JSON object when present")
        kind = document.get("kind", KIND_EVENT)
        if kind not in RECEIPT_KINDS:
            raise ReceiptFormatError(
                f"field 'kind' must be one of {', '.join(RECEIPT_KINDS)}, got {kind!r}"
            )
        declaration = document.get("declaration")
        if declaration is not None and not isinstance(declaration, dict):
            raise ReceiptFormatError("field 'declaration' must be a JSON object when present")
        if kind == KIND_EVENT and declaration is not None:
            raise ReceiptFormatError("an event's receipt embeds no 'declaration'")
        if kind == KIND_DECLARATION and event is not None:
            raise ReceiptFormatError("a declaration's receipt embeds its 'declaration', no 'event'")
        masterdata = document.get("masterdata")
        if masterdata is not None and not isinstance(masterdata, dict):
            raise ReceiptFormatError("field 'masterdata' must be a JSON object when present")
        if masterdata is not None and kind != KIND_MASTERDATA:
            raise ReceiptFormatError("only a master data receipt embeds 'masterdata'")
        if kind == KIND_MASTERDATA and (event is not None or declaration is not None):
            raise ReceiptFormatError(
                "a master data receipt embeds its 'masterdata', no 'event' or 'declaration'"
            )
        return cls(
            event_hash=hashes["event_hash"],
            salt=hashes["salt"],
            leaf=hashes["leaf"],
            proof=tuple(_parse_bytes32(p, f"proof[{i}]") for i, p in enumerate(proof)),
            root=hashes["root"],
            chain_id=_int(document, "chain_id"),
            contract=_address(document, "contract"),
            tx_hash=hashes["tx_hash"],
            block_number=_int(document, "block_number"),
            anchored_by=_address(document, "anchored_by"),
            event=event,
            kind=kind,
            declaration=declaration,
            masterdata=masterdata,
        )

    @classmethod
    def read(cls, path: Path) -> Receipt:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ReceiptFormatError(f"cannot read {path}: {exc.strerror}") from exc
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ReceiptFormatError(f"{path} is not JSON: {exc}") from exc
        try:
            return cls.from_json(document)
        except ReceiptFormatError as exc:
            raise ReceiptFormatError(f"{path}: {exc}") from exc


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


def _parse_bytes32(value: Any, name: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x") or len(value) != 66:
        raise ReceiptFormatError(f"field {name!r} must be a 0x-prefixed 32-byte hex string")
    try:
        return bytes.fromhex(value[2:])
    except ValueError as exc:
        raise ReceiptFormatError(f"field {name!r} is not hex: {value!r}") from exc


def _bytes32(document: dict[str, Any], name: str) -> bytes:
    if name not in document:
        raise ReceiptFormatError(f"field {name!r} is missing")
    return _parse_bytes32(document[name], name)


def _int(document: dict[str, Any], name: str) -> int:
    value = document.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ReceiptFormatError(f"field {name!r} must be a non-negative integer")
    return value


def _address(document: dict[str, Any], name: str) -> str:
    value = document.get(name)
    if not isinstance(value, str) or not value.startswith("0x") or len(value) != 42:
        raise ReceiptFormatError(f"field {name!r} must be a 0x-prefixed 20-byte address")
    try:
        bytes.fromhex(value[2:])
    except ValueError as exc:
        raise ReceiptFormatError(f"field {name!r} is not hex: {value!r}") from exc
    return value
