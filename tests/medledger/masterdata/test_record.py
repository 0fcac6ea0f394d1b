"""A master data record: canonical attributes, its own digest and id, read back from storage."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from medledger.epcis.event_id import EventId
from medledger.errors import ValidationError
from medledger.masterdata import vocabulary as v
from medledger.masterdata.record import (
    ID_SUFFIX,
    PREHASH_PREFIX,
    canonical_json,
    is_masterdata_id,
    make_record,
    masterdata_digest,
    parse_masterdata_id,
    read_record,
)
from medledger.masterdata.views import location, product

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DEPOT = "urn:epc:id:sgln:4700000.00001.0"


def depot(**extra: str) -> list[tuple[str, object]]:
    attributes: dict[str, object] = {
        v.NAME: "Bishkek depot",
        v.COUNTRY_CODE: "kg",
        v.STATE: "c",
        v.LATITUDE: "+42.8700",
        v.LONGITUDE: 74.59,
        **extra,
    }
    return list(attributes.items())


def test_a_location_is_canonical_and_typed() -> None:
    record = make_record(v.BUSINESS_LOCATION, DEPOT, depot(), effective_time=T0)
    assert record.element_id == "https://id.gs1.org/414/4700000000012"
    place = location(record)
    assert (place.gln, place.name, place.country_code) == ("4700000000012", "Bishkek depot", "KG")
    assert (place.subdivision, place.region) == ("KG-C", "KG-C")
    assert (place.latitude, place.longitude) == ("42.87", "74.59")


def test_a_product_is_canonical_and_typed() -> None:
    record = make_record(
        v.EPC_CLASS,
        "urn:epc:idpat:sgtin:4700000.012345.*",
        [
            (v.REGULATED_PRODUCT_NAME, "Amoxicillin 500 mg"),
            (v.DOSAGE_FORM, "CAPSULE"),
            (v.STRENGTH, "500 mg"),
            (v.NET_CONTENT, "20 capsules"),
            (v.ATC_CODE, "j01ca04"),
            (v.MA_HOLDER, "Kyrgyz Pharm LLC"),
        ],
        effective_time=T0,
    )
    drug = product(record)
    assert drug.gtin == "04700000123452"
    assert (drug.name, drug.atc_code, drug.ma_holder) == (
        "Amoxicillin 500 mg",
        "J01CA04",
        "Kyrgyz Pharm LLC",
    )


def test_the_digest_has_its_own_prefix_and_id() -> None:
    record = make_record(v.BUSINESS_LOCATION, DEPOT, depot(), effective_time=T0)
    assert record.prehash.startswith(PREHASH_PREFIX)
    assert record.prehash == PREHASH_PREFIX + canonical_json(record.document())
    assert record.digest == hashlib.sha256(record.prehash.encode()).digest()
    assert record.id.endswith(ID_SUFFIX) and is_masterdata_id(record.id)
    assert parse_masterdata_id(record.id) == record.digest
    with pytest.raises(ValidationError):  # never read as an event's id
        EventId.parse_uri(record.id)


def test_the_same_facts_written_differently_have_one_digest() -> None:
    one = make_record(v.BUSINESS_LOCATION, DEPOT, depot(), effective_time=T0)
    other = make_record(
        v.BUSINESS_LOCATION,
        "https://example.org/414/4700000000012",
        list(reversed(depot(**{v.STATE: "KG-C", v.COUNTRY_CODE: "KG", v.LATITUDE: "42.87"}))),
        effective_time=T0,
    )
    assert one.digest == other.digest


def test_a_new_effective_time_is_a_new_version() -> None:
    one = make_record(v.BUSINESS_LOCATION, DEPOT, depot(), effective_time=T0)
    later = make_record(v.BUSINESS_LOCATION, DEPOT, depot(), effective_time=T0.replace(year=2027))
    assert one.digest != later.digest


def test_a_stored_document_reads_back_to_its_digest() -> None:
    record = make_record(v.BUSINESS_LOCATION, DEPOT, depot(), effective_time=T0)
    assert read_record(record.document()) == record
    assert masterdata_digest(record.document()) == record.digest


def test_a_stored_document_not_in_canonical_form_is_refused() -> None:
    document = make_record(v.BUSINESS_LOCATION, DEPOT, depot(), effective_time=T0).document()
    document["attributes"] = list(reversed(document["attributes"]))
    with pytest.raises(ValidationError, match="canonical"):
        read_record(document)


@pytest.mark.parametrize(
    ("kind", "element_id", "attributes", "rule"),
    [
        (v.BUSINESS_LOCATION, "urn:epc:id:sgtin:4700000.012345.1", [], "masterdata.id"),
        (v.EPC_CLASS, DEPOT, [], "masterdata.id"),
        (v.EPC_CLASS, "https://id.gs1.org/01/04700000123452/10/L1", [], "masterdata.id"),
        (v.BUSINESS_LOCATION, DEPOT, [(v.STATE, "Chuy")], "masterdata.subdivision"),
        (
            v.BUSINESS_LOCATION,
            DEPOT,
            [(v.STATE, "DE-BY"), (v.COUNTRY_CODE, "KG")],
            "masterdata.subdivision",
        ),
        (v.BUSINESS_LOCATION, DEPOT, [(v.LATITUDE, "91")], "masterdata.attribute"),
        (v.BUSINESS_LOCATION, DEPOT, [(v.NAME, "")], "masterdata.attribute"),
        (v.BUSINESS_LOCATION, DEPOT, [(v.NAME, "a"), (v.NAME, "b")], "masterdata.attribute"),
        (v.BUSINESS_LOCATION, DEPOT, [(v.SITE, "4700000000013")], "gs1.checkDigit"),
        (v.EPC_CLASS, "https://id.gs1.org/01/04700000123452", [(v.ATC_CODE, "J1")], None),
        (v.BUSINESS_LOCATION, DEPOT, [("urn:x:flag", True)], "masterdata.attribute"),
        (v.BUSINESS_LOCATION, DEPOT, [("urn:x:n", float("nan"))], "masterdata.attribute"),
        ("urn:epcglobal:epcis:vtype:BusinessStep", DEPOT, [], "masterdata.vocabulary-type"),
    ],
)
def test_what_is_refused(
    kind: str, element_id: str, attributes: list[tuple[str, object]], rule: str | None
) -> None:
    with pytest.raises(ValidationError) as caught:
        make_record(kind, element_id, attributes, effective_time=T0)
    assert rule is None or caught.value.rule == rule


def test_attribute_ids_are_read_in_the_cbv_form() -> None:
    assert v.attribute_id("cbvmda:name") == v.NAME
    assert v.attribute_id("urn:epcglobal:cbv:mda:city") == v.CITY
    assert v.attribute_id("urn:epcglobal:cbv:mda:site") == v.SITE
    assert v.attribute_id("mpl:atcCode", {"mpl": v.MDA_NAMESPACE}) == v.ATC_CODE
    assert v.attribute_id("https://x.example/a") == "https://x.example/a"
