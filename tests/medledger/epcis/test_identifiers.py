from __future__ import annotations

import pytest

from medledger.epcis.gs1 import check_digit
from medledger.epcis.identifiers import canonical_identifier, to_canonical_dl
from medledger.errors import ValidationError

SGTIN_DL = "https://id.gs1.org/01/09521141123454/21/2017"


@pytest.mark.parametrize(
    "value",
    [
        "urn:epc:id:sgtin:9521141.012345.2017",
        SGTIN_DL,
        "https://brand.example.com/01/09521141123454/21/2017?17=260101",
        "https://id.gs1.org/gtin/9521141123454/ser/2017",
        "(01)09521141123454(21)2017",
        "0109521141123454212017",
        "]d20109521141123454212017\x1d10LOT7",
        "010952114112345410LOT7\x1d212017",
    ],
    ids=["epc-urn", "dl", "dl-custom-domain-query", "dl-short-names-gtin13", "hri", "raw",
         "symbology-gs", "lot-then-serial"],
)  # fmt: skip
def test_same_sgtin_in_every_form_is_equal(value: str) -> None:
    assert canonical_identifier(value) == SGTIN_DL


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("urn:epc:class:lgtin:9521141.012345.LOT7", "https://id.gs1.org/01/09521141123454/10/LOT7"),
        ("(01)09521141123454(10)LOT7(17)270101", "https://id.gs1.org/01/09521141123454/10/LOT7"),
        ("urn:epc:id:sscc:9521141.0000000001", "https://id.gs1.org/00/095211410000000014"),
        ("(00)095211410000000014", "https://id.gs1.org/00/095211410000000014"),
        ("urn:epc:id:sgln:9521141.00001.0", "https://id.gs1.org/414/9521141000014"),
        ("urn:epc:id:sgln:9521141.00001.7", "https://id.gs1.org/414/9521141000014/254/7"),
        ("urn:epc:id:pgln:9521141.00001", "https://id.gs1.org/417/9521141000014"),
    ],
)
def test_lots_cases_and_locations(value: str, expected: str) -> None:
    assert canonical_identifier(value) == expected


@pytest.mark.parametrize(
    "value",
    ["https://id.gs1.org/01/09521141123455/21/2017", "(01)09521141123455(21)2017",
     "(00)095211410000000015"],
)  # fmt: skip
def test_bad_check_digit_is_rejected_with_expected_digit(value: str) -> None:
    with pytest.raises(ValidationError, match=r"has check digit \d, expected \d") as info:
        canonical_identifier(value)
    assert info.value.rule == "gs1.checkDigit"


@pytest.mark.parametrize(
    "value", ["urn:epc:id:sgtin:952.1.2", "https://example.com/no/key", "(99)ABC", "hello", ""]
)
def test_non_identifiers_are_rejected(value: str) -> None:
    with pytest.raises(ValidationError) as info:
        canonical_identifier(value)
    assert info.value.rule == "gs1.identifier"


def test_check_digit() -> None:
    assert check_digit("0952114112345") == 4
    assert check_digit("09521141000000001") == 4


def test_lenient_conversion_keeps_non_gs1_values_out() -> None:
    assert to_canonical_dl("geo:47.5,11.1") is None
    assert to_canonical_dl("https://example.com/po/12") is None
