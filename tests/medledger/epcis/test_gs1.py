"""The one GS1 syntax module (medledger/epcis/gs1.py): keys, lots, serials, company prefixes.

Issue 14, finding 7: lots and serials are GS1 AI 10 / AI 21 values everywhere (1 to 20 characters
of character set 82), checked by this module at capture, registration, lot declaration and recall.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from biip.gs1_application_identifiers import GS1ApplicationIdentifier

from medledger.epcis import gs1
from medledger.epcis.identifiers import canonical_identifier
from medledger.errors import ValidationError

_ROOT = Path(__file__).resolve().parents[3]


def test_character_set_82_is_biips_and_the_contracts() -> None:
    """The set equals the AI 10 pattern of biip (GS1's syntax dictionary) and the bitmap that
    contracts/Gs1.sol checks on chain."""
    pattern = re.compile(GS1ApplicationIdentifier.extract("10").pattern)
    assert {chr(c) for c in range(128) if pattern.fullmatch(f"10{chr(c)}")} == gs1.CSET82
    solidity = (_ROOT / "contracts/Gs1.sol").read_text()
    bitmap = int(re.search(r"_CSET82 = (0x[0-9a-f]+);", solidity).group(1), 16)  # type: ignore[union-attr]
    assert {chr(c) for c in range(256) if bitmap >> c & 1} == gs1.CSET82


@pytest.mark.parametrize(
    ("value", "expected"),
    [("96385074", "00000096385074"), ("614141000036", "00614141000036"),
     ("9521141123454", "09521141123454"), ("09521141123454", "09521141123454")],
)  # fmt: skip
def test_gtins_of_every_length_become_14_digits(value: str, expected: str) -> None:
    assert gs1.gtin(value) == expected


@pytest.mark.parametrize(
    ("check", "value", "rule"),
    [
        (gs1.gtin, "09521141123455", "gs1.checkDigit"),
        (gs1.gtin, "0952114112345", "gs1.checkDigit"),
        (gs1.gtin, "00000000000000", "gs1.gtin"),
        (gs1.gtin, "952114112345", "gs1.checkDigit"),
        (gs1.gtin, "9521141123454x", "gs1.gtin"),
        (gs1.gtin, "٠٩٥٢١١٤١١٢٣٤٥٤", "gs1.gtin"),  # digits, but not ASCII ones
        (gs1.gtin, 9521141123454, "gs1.gtin"),
        (gs1.gln, "4700000100003", "gs1.checkDigit"),
        (gs1.gln, "0000000000000", "gs1.gln"),
        (gs1.gln, "470000010000", "gs1.gln"),
        (gs1.sscc, "095211410000000015", "gs1.checkDigit"),
        (gs1.sscc, "000000000000000000", "gs1.sscc"),
        (gs1.lot, "L" * 21, "gs1.lot"),
        (gs1.lot, "", "gs1.lot"),
        (gs1.lot, "has space", "gs1.lot"),
        (gs1.lot, "LOT#1", "gs1.lot"),
        (gs1.lot, "LÖT", "gs1.lot"),
        (gs1.serial, "S" * 21, "gs1.serial"),
        (gs1.serial, "tab\t", "gs1.serial"),
        (gs1.company_prefix, "123", "gs1.companyPrefix"),
        (gs1.company_prefix, "1234567890123", "gs1.companyPrefix"),
        (gs1.company_prefix, "0000000", "gs1.companyPrefix"),
        (gs1.company_prefix, "12a4567", "gs1.companyPrefix"),
    ],
)
def test_malformed_values_are_refused_with_their_rule(check, value, rule) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as refused:
        check(value, pointer="/x")
    assert (refused.value.rule, refused.value.pointer) == (rule, "/x")


def test_well_formed_values_pass() -> None:
    assert gs1.gln("4700000100002") == "4700000100002"
    assert gs1.sscc("095211410000000014") == "095211410000000014"
    assert gs1.lot("B2026/\"%&'()*+,.:;<") == "B2026/\"%&'()*+,.:;<"
    assert gs1.lot("L" * 20) == "L" * 20
    assert gs1.serial("!\"%&'()*+,-./:;<=>?_") == "!\"%&'()*+,-./:;<=>?_"
    assert gs1.company_prefix("0614141") == "0614141"
    assert gs1.gtin_has_company_prefix("00614141000036", "0614141")
    assert not gs1.gtin_has_company_prefix("09521141123454", "0614141")


def test_a_lot_key_is_the_gtin_as_14_digits_and_the_lot_checked_first() -> None:
    assert gs1.gtin_lot("9521141123454", "B2026") == ("09521141123454", "B2026")
    with pytest.raises(ValidationError, match="lot") as refused:
        gs1.gtin_lot("123", "LÖT", gtin_pointer="/gtin", lot_pointer="/lot")
    assert (refused.value.rule, refused.value.pointer) == ("gs1.lot", "/lot")
    with pytest.raises(ValidationError, match="GTIN") as refused:
        gs1.gtin_lot("09521141123455", "B2026", gtin_pointer="/gtin", lot_pointer="/lot")
    assert (refused.value.rule, refused.value.pointer) == ("gs1.checkDigit", "/gtin")


def test_a_refusal_echoes_a_long_value_cut() -> None:
    """Issue 14, finding 8: the message echoes a few hundred characters, not the value."""
    with pytest.raises(ValidationError, match=r"\(1000000 characters\)") as refused:
        gs1.lot("L" * 1_000_000)
    assert len(str(refused.value)) < 500


@pytest.mark.parametrize(
    ("identifier", "rule"),
    [
        ("urn:epc:id:sgtin:9521141.012345." + "S" * 21, "gs1.serial"),
        ("urn:epc:id:sgtin:9521141.012345.has%20space", "gs1.serial"),
        ("https://id.gs1.org/01/09521141123454/21/" + "S" * 21, "gs1.serial"),
        ("urn:epc:class:lgtin:9521141.012345." + "L" * 21, "gs1.lot"),
        ("https://id.gs1.org/01/09521141123454/10/L%C3%96T", "gs1.lot"),
        # a lot the canonical form drops (the serial is finer) is checked too
        ("https://id.gs1.org/01/09521141123454/10/" + "L" * 21 + "/21/1", "gs1.lot"),
        ("urn:epc:id:sgtin:9521141.0123456.1", "gs1.gtin"),  # 15-digit GTIN
        ("urn:epc:id:sscc:9521141.00000000001", "gs1.sscc"),
        ("urn:epc:id:sgln:0000000.00000.0", "gs1.gln"),
        ("urn:epc:id:sgln:9521141.00001." + "E" * 21, "gs1.identifier"),  # AI 254
        # digits, but not ASCII ones (Python's \d and int() take them)
        ("https://id.gs1.org/01/\u0660\u0669521141123454/21/1", "gs1.gtin"),
        ("urn:epc:id:sgtin:\u0669521141.012345.1", "gs1.gtin"),
    ],
)
def test_identifiers_with_malformed_parts_are_refused(identifier: str, rule: str) -> None:
    with pytest.raises(ValidationError) as refused:
        canonical_identifier(identifier, pointer="/epcList/0")
    assert refused.value.rule == rule


def test_an_element_string_takes_the_canonical_form_of_the_urn() -> None:
    """A '/' in a serial is percent-encoded whichever form wrote it."""
    urn = canonical_identifier("urn:epc:id:sgtin:9521141.012345.A%2FB")
    assert urn == canonical_identifier("(01)09521141123454(21)A/B")
    assert urn == "https://id.gs1.org/01/09521141123454/21/A%2FB"
