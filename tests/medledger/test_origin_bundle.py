"""The origin bundle format (medledger/formats/origin_bundle.py), read without a chain or a
database; and the origin errors, one branch of the exception tree (issue 23: ``OriginError`` was
another name of ``MassBalanceError``)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from medledger.errors import (
    BundleFormatError,
    MassBalanceError,
    OriginError,
    OriginUnknownError,
    ProvenanceError,
    ValidationError,
)
from medledger.formats.mass_balance import compute_mass_balance, parse_strength
from medledger.formats.origin_bundle import (
    BUNDLE_TYPE,
    DEFAULT_TOLERANCE,
    ROLE_API_LOT,
    ROLE_TRANSFORMATION,
    BundleVerdict,
    Entry,
    commissioned_classes,
    is_bundle,
    output_lots,
    parse_bundle,
    parse_tolerance,
)
from medledger.formats.receipt import Check, Verdict
from servicekit.http.problems import problem_for
from tests.medledger.test_receipts import sample_receipt

PACK = "urn:epc:id:sgtin:9521141.012345.S1"
PACK_URI = "https://id.gs1.org/01/09521141123454/21/S1"
GTIN = "09521141123454"
API_LOT = "https://id.gs1.org/01/09521141123454/10/API-1"
MAKER = "0x" + "cd" * 20

TRANSFORMATION: dict[str, Any] = {
    "type": "TransformationEvent",
    "inputQuantityList": [{"epcClass": API_LOT, "quantity": 1, "uom": "KGM"}],
    "outputEPCList": [PACK],
    "outputQuantityList": [{"epcClass": "urn:epc:class:lgtin:9521141.012345.L2", "quantity": 5}],
    "ilmd": {"cbvmda:lotNumber": "L1", "mpl:apiPerPack": "12.5g"},
}
COMMISSIONING: dict[str, Any] = {
    "type": "ObjectEvent",
    "action": "ADD",
    "bizStep": "https://ref.gs1.org/cbv/BizStep-commissioning",
    "quantityList": [{"epcClass": API_LOT, "quantity": 100, "uom": "KGM"}],
}


def _entry(role: str, event: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "role": role,
        "eventID": f"ni:///sha-256;{'0' * 64}?ver=CBV2.0",
        **extra,
        "receipt": sample_receipt(event=event).to_json(),
    }


def _bundle(**overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "type": BUNDLE_TYPE,
        "version": 1,
        "subject": {"requested": PACK, "identifier": PACK, "kind": "pack"},
        "producedBy": None,
        "apiPerPack": "12.5 g",
        "massBalance": {"apiConsumedKg": "1", "packsProduced": 6},
        "receipts": [
            _entry(ROLE_TRANSFORMATION, TRANSFORMATION),
            _entry(ROLE_API_LOT, COMMISSIONING, lot=API_LOT, maker=MAKER),
        ],
    }
    document.update(overrides)
    read: dict[str, Any] = json.loads(json.dumps(document))  # as read from a file
    return read


def test_a_bundle_reads_back_with_its_subject_canonical() -> None:
    document = _bundle()
    assert is_bundle(document) and not is_bundle({"type": "receipt"})
    bundle = parse_bundle(document)
    assert bundle.subject["identifier"] == PACK_URI and bundle.subject["requested"] == PACK
    assert bundle.declared == parse_strength("12.5 g") and bundle.produced_by is None
    assert bundle.summary == {"apiConsumedKg": "1", "packsProduced": 6}
    assert [(e.role, e.lot, e.maker) for e in bundle.entries] == [
        (ROLE_TRANSFORMATION, None, None),
        (ROLE_API_LOT, API_LOT, MAKER),
    ]
    assert bundle.entries[0].event == TRANSFORMATION


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"type": "receipt"}, "not an origin bundle"),
        ({"version": 2}, "unsupported origin bundle version 2"),
        ({"subject": {"identifier": PACK, "kind": "pallet"}}, "field 'subject'"),
        ({"subject": {"identifier": "nope", "kind": "pack"}}, "not a GS1 identifier"),
        ({"producedBy": 7}, "field 'producedBy'"),
        ({"apiPerPack": "a lot"}, "field 'apiPerPack': API per pack must be"),
        ({"receipts": []}, "non-empty list"),
        ({"receipts": [{"role": "owner"}]}, r"receipts\[0\] needs a role"),
        ({"receipts": [{"role": ROLE_TRANSFORMATION}]}, r"receipts\[0\].eventID"),
        (
            {"receipts": [{"role": ROLE_TRANSFORMATION, "eventID": "x", "receipt": {}}]},
            r"receipts\[0\].receipt: ",
        ),
        ({"receipts": [_entry(ROLE_API_LOT, COMMISSIONING)]}, "needs 'lot' and 'maker'"),
    ],
)
def test_a_malformed_bundle_is_a_bundle_format_error(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(BundleFormatError, match=message):
        parse_bundle(_bundle(**overrides))


def test_a_receipt_without_its_event_is_refused() -> None:
    entry = _entry(ROLE_TRANSFORMATION, TRANSFORMATION)
    del entry["receipt"]["event"]
    with pytest.raises(BundleFormatError, match="must embed its event"):
        parse_bundle(_bundle(receipts=[entry]))


def test_the_tolerance_is_a_fraction_or_a_percentage_below_one() -> None:
    assert parse_tolerance("5%") == DEFAULT_TOLERANCE == parse_tolerance(" 0.05 ")
    assert parse_tolerance("0") == 0
    for text, message in [
        ("five", "fraction or a percentage"),
        ("100%", "below 100%"),
        ("-1%", "at least 0"),
        ("NaN", "below 100%"),
    ]:
        with pytest.raises(OriginError, match=message):
            parse_tolerance(text)


def test_what_a_transformation_made_and_what_an_event_commissioned() -> None:
    assert output_lots(TRANSFORMATION) == {(GTIN, "L1"), (GTIN, "L2")}
    assert output_lots({"type": "TransformationEvent"}) == set()
    assert commissioned_classes(COMMISSIONING) == {API_LOT}
    assert commissioned_classes(TRANSFORMATION) == {"https://id.gs1.org/01/09521141123454/10/L2"}
    assert commissioned_classes({**COMMISSIONING, "bizStep": "shipping"}) == set()
    assert commissioned_classes({**COMMISSIONING, "action": "OBSERVE"}) == set()
    assert commissioned_classes({"type": "AggregationEvent"}) == set()


def test_a_verdict_is_valid_only_when_every_part_is() -> None:
    entry = Entry(ROLE_TRANSFORMATION, "id", sample_receipt(event=TRANSFORMATION))
    good, bad = Check("c", True, "fine"), Check("c", False, "wrong")
    balance = compute_mass_balance([TRANSFORMATION], override=parse_strength("12.5g"))
    verdict = BundleVerdict(((entry, Verdict((good,))),), (good,), balance, good)
    assert verdict.valid and not verdict.violation
    assert not BundleVerdict(((entry, Verdict((bad,))),), (good,), balance, good).valid
    assert not BundleVerdict(((entry, Verdict((good,))),), (bad,), None, good).valid
    assert not BundleVerdict((), (), None, bad).valid


def test_origin_errors_are_one_branch_answered_as_before() -> None:
    """``OriginError`` was ``MassBalanceError`` under another name: every mass-balance error is
    still an origin error, none is a validation error, and an uncaught one still has no problem
    type of its own (the routes turn it into 422 or 404)."""
    for cls in (MassBalanceError, OriginUnknownError, BundleFormatError):
        assert issubclass(cls, OriginError)
        assert not issubclass(cls, ValidationError | ValueError)
    assert issubclass(OriginError, ProvenanceError)
    with pytest.raises(OriginError, match="no API"):
        compute_mass_balance([{"type": "TransformationEvent", "outputEPCList": [PACK]}])
    for error in (OriginError("x"), MassBalanceError("x"), OriginUnknownError("x")):
        assert problem_for(error).status_code == 500
    assert isinstance(parse_tolerance("1%"), Decimal)
