from __future__ import annotations

import pytest

from medledger.epcis.terms import (
    bare_term,
    default_vocabulary,
    normalise_bizstep,
    normalise_disposition,
)
from medledger.errors import ValidationError

SHIPPING = "https://ref.gs1.org/cbv/BizStep-shipping"


@pytest.mark.parametrize(
    "value",
    ["shipping", "urn:epcglobal:cbv:bizstep:shipping", SHIPPING],
    ids=["bare", "urn", "web-uri"],
)
def test_bizstep_forms_normalise_to_one_uri(value: str) -> None:
    assert normalise_bizstep(value) == SHIPPING


def test_disposition_forms_are_equal() -> None:
    forms = [
        "in_transit",
        "urn:epcglobal:cbv:disp:in_transit",
        "https://ref.gs1.org/cbv/Disp-in_transit",
    ]
    assert {normalise_disposition(f) for f in forms} == {"https://ref.gs1.org/cbv/Disp-in_transit"}


def test_non_cbv_uri_is_kept() -> None:
    assert (
        normalise_bizstep("https://example.com/steps/repacking")
        == "https://example.com/steps/repacking"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("transforming", "neither a standard CBV term"),
        ("urn:epcglobal:cbv:bizstep:transforming", "not a standard bizStep term"),
        ("https://ref.gs1.org/cbv/BizStep-nope", "not a standard bizStep term"),
        ("", "non-empty string"),
    ],
)
def test_unknown_bizstep_is_rejected(value: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        normalise_bizstep(value)
    assert info.value.rule == "cbv.bizStep"


def test_unknown_disposition_is_rejected() -> None:
    with pytest.raises(ValidationError, match="in_transport") as info:
        normalise_disposition("in_transport")
    assert info.value.rule == "cbv.disposition"


def test_bare_term_round_trip() -> None:
    assert bare_term("bizStep", SHIPPING) == "shipping"
    assert bare_term("bizStep", "https://example.com/x") is None


def test_vocabulary_read_from_contexts() -> None:
    vocab = default_vocabulary()
    for term in ("commissioning", "dispensing", "decommissioning", "destroying", "receiving"):
        assert term in vocab.tables["bizStep"]
    assert "recalled" in vocab.tables["disposition"]
    assert vocab.expand("measurementType", "Temperature") == "https://gs1.org/voc/Temperature"
