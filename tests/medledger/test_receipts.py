"""Receipts: a stable JSON format that round-trips, and a parser that names what is wrong."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from medledger.errors import ReceiptFormatError
from medledger.formats.receipt import Receipt
from medledger.merkle import leaf_hash


def sample_receipt(**overrides: Any) -> Receipt:
    event_hash, salt = os.urandom(32), os.urandom(32)
    fields: dict[str, Any] = {
        "event_hash": event_hash,
        "salt": salt,
        "leaf": leaf_hash(event_hash, salt),
        "proof": (os.urandom(32), os.urandom(32)),
        "root": os.urandom(32),
        "chain_id": 1337,
        "contract": "0x" + "ab" * 20,
        "tx_hash": os.urandom(32),
        "block_number": 42,
        "anchored_by": "0x" + "cd" * 20,
        "event": {"type": "ObjectEvent"},
    }
    fields.update(overrides)
    return Receipt(**fields)


def test_a_receipt_round_trips_through_json(tmp_path: Path) -> None:
    receipt = sample_receipt()
    path = tmp_path / "r.json"
    path.write_text(receipt.dumps())
    again = Receipt.read(path)
    assert again == receipt
    assert again.event == receipt.event


def test_the_json_has_exactly_the_documented_fields() -> None:
    document = sample_receipt().to_json()
    assert list(document) == [
        "version",
        "event_hash",
        "salt",
        "leaf",
        "proof",
        "root",
        "chain_id",
        "contract",
        "tx_hash",
        "block_number",
        "anchored_by",
        "event",
    ]
    assert document["version"] == 1
    assert all(document[k].startswith("0x") for k in ("event_hash", "salt", "leaf", "root"))


def test_the_event_is_optional() -> None:
    document = sample_receipt(event=None).to_json()
    assert "event" not in document
    assert Receipt.from_json(document).event is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("root"), "field 'root' is missing"),
        (lambda d: d.update(version=2), "unsupported receipt version 2"),
        (lambda d: d.update(salt="0x1234"), "'salt' must be a 0x-prefixed 32-byte hex"),
        (lambda d: d.update(leaf="0x" + "zz" * 32), "'leaf' is not hex"),
        (lambda d: d.update(proof="0x00"), "'proof' must be a list"),
        (lambda d: d.update(proof=["0x00"]), r"'proof\[0\]' must be"),
        (lambda d: d.update(chain_id="1337"), "'chain_id' must be a non-negative integer"),
        (lambda d: d.update(block_number=True), "'block_number' must be"),
        (lambda d: d.update(contract="0x12"), "'contract' must be a 0x-prefixed 20-byte"),
        (lambda d: d.update(event=[1]), "'event' must be a JSON object"),
    ],
    ids=[
        "missing",
        "version",
        "short",
        "not-hex",
        "proof-type",
        "proof-item",
        "chain-id",
        "bool-block",
        "contract",
        "event-type",
    ],
)
def test_a_malformed_receipt_is_rejected_with_the_field_named(change: Any, message: str) -> None:
    document = sample_receipt().to_json()
    change(document)
    with pytest.raises(ReceiptFormatError, match=message):
        Receipt.from_json(document)


def test_unreadable_files_are_format_errors(tmp_path: Path) -> None:
    with pytest.raises(ReceiptFormatError, match="cannot read"):
        Receipt.read(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ReceiptFormatError, match="is not JSON"):
        Receipt.read(bad)
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps([1, 2]))
    with pytest.raises(ReceiptFormatError, match="a receipt is a JSON object"):
        Receipt.read(listed)


def test_an_event_receipt_writes_no_kind_and_reads_as_an_event() -> None:
    document = sample_receipt().to_json()
    assert "kind" not in document  # receipts written before declarations are unchanged
    assert Receipt.from_json(document).kind == "event"
    assert Receipt.from_json({**document, "kind": "event"}).kind == "event"


def test_a_declaration_receipt_carries_its_kind_and_its_declaration() -> None:
    declaration = {"type": "ErrorDeclaration", "eventID": "x", "errorDeclaration": {}}
    receipt = sample_receipt(event=None, kind="errorDeclaration", declaration=declaration)
    document = receipt.to_json()
    assert document["kind"] == "errorDeclaration" and document["declaration"] == declaration
    again = Receipt.from_json(document)
    assert (again.kind, again.declaration, again.event) == ("errorDeclaration", declaration, None)


def test_a_masterdata_receipt_carries_its_kind_and_its_record() -> None:
    record = {"type": "MasterData", "id": "https://id.gs1.org/414/4700000000012"}
    receipt = sample_receipt(event=None).with_embedded(masterdata=record)
    document = receipt.to_json()
    assert document["kind"] == "masterdata" and document["masterdata"] == record
    again = Receipt.from_json(document)
    assert (again.kind, again.masterdata, again.event) == ("masterdata", record, None)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"kind": "recall"}, "'kind'"),
        ({"kind": "errorDeclaration", "declaration": []}, "'declaration'"),
        ({"declaration": {"type": "ErrorDeclaration"}}, "no 'declaration'"),
        ({"kind": "errorDeclaration"}, "no 'event'"),
        ({"kind": "masterdata"}, "no 'event'"),
        ({"masterdata": {"type": "MasterData"}}, "only a master data receipt"),
        ({"kind": "masterdata", "masterdata": []}, "'masterdata'"),
    ],
)
def test_a_kind_and_what_it_embeds_must_agree(change: dict[str, Any], named: str) -> None:
    with pytest.raises(ReceiptFormatError, match=named):
        Receipt.from_json({**sample_receipt().to_json(), **change})
