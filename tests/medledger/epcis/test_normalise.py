from __future__ import annotations

import pickle
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from medledger.epcis.normalise import NormalisedEvent, Party, Quantity, normalise_event
from medledger.errors import ValidationError

LOT_L = "urn:epc:class:lgtin:9521141.012345.L"
SHIP: dict[str, Any] = {
    "type": "ObjectEvent",
    "eventTime": "2026-11-02T10:00:00.000+02:00",
    "eventTimeZoneOffset": "+02:00",
    "action": "OBSERVE",
    "bizStep": "urn:epcglobal:cbv:bizstep:shipping",
    "disposition": "https://ref.gs1.org/cbv/Disp-in_transit",
    "epcList": ["urn:epc:id:sgtin:9521141.012345.2017", "(01)09521141123454(21)2018"],
    "quantityList": [{"epcClass": "urn:epc:class:lgtin:9521141.012345.LOT7", "quantity": 12.5,
                      "uom": "KGM"}],
    "readPoint": {"id": "urn:epc:id:sgln:9521141.00001.dock"},
    "bizLocation": {"id": "https://example.com/414/9521141000014"},
    "sourceList": [{"type": "owning_party", "source": "urn:epc:id:pgln:9521141.00001"}],
    "destinationList": [
        {"type": "urn:epcglobal:cbv:sdt:location", "destination": "urn:epc:id:sgln:4012345.00001.0"}
    ],
}  # fmt: skip


def test_an_object_event_in_canonical_form() -> None:
    event = normalise_event(SHIP, 3)
    assert event == NormalisedEvent(
        index=3,
        type="ObjectEvent",
        action="OBSERVE",
        biz_step="shipping",
        disposition="in_transit",
        event_time=datetime(2026, 11, 2, 8, 0, tzinfo=UTC),
        epcs=(
            "https://id.gs1.org/01/09521141123454/21/2017",
            "https://id.gs1.org/01/09521141123454/21/2018",
        ),
        quantities=(
            Quantity("https://id.gs1.org/01/09521141123454/10/LOT7", Decimal("12.5"), "KGM"),
        ),
        read_point="https://id.gs1.org/414/9521141000014/254/dock",
        biz_location="https://id.gs1.org/414/9521141000014",
        sources=(Party("owning_party", "https://id.gs1.org/417/9521141000014"),),
        destinations=(Party("location", "https://id.gs1.org/414/4012345000016"),),
    )
    assert event.event_time.utcoffset() == timedelta(hours=2)
    assert event.pointer("epcList", 1) == "/epcisBody/eventList/3/epcList/1"


def test_quantities_are_exact_decimals() -> None:
    quantities = [{"epcClass": LOT_L, "quantity": 0.1}]
    event = normalise_event({**SHIP, "quantityList": quantities}, 0)
    assert event.quantities[0].quantity == Decimal("0.1")
    assert event.quantities[0].uom is None


def test_a_non_cbv_bizstep_is_kept_as_its_uri() -> None:
    event = normalise_event({**SHIP, "bizStep": "https://example.com/steps/relabel"}, 0)
    assert event.biz_step == "https://example.com/steps/relabel"


def test_aggregation_and_transformation_fields() -> None:
    aggregation = normalise_event(
        {
            "type": "AggregationEvent",
            "eventTime": "2026-11-02T10:00:00Z",
            "eventTimeZoneOffset": "+00:00",
            "action": "ADD",
            "parentID": "urn:epc:id:sscc:9521141.0000000001",
            "childEPCs": ["urn:epc:id:sgtin:9521141.012345.2017"],
            "childQuantityList": [{"epcClass": LOT_L, "quantity": 2}],
        },
        0,
    )  # fmt: skip
    assert aggregation.parent_id == "https://id.gs1.org/00/095211410000000014"
    assert aggregation.child_epcs == ("https://id.gs1.org/01/09521141123454/21/2017",)
    assert aggregation.quantities[0].class_id == "https://id.gs1.org/01/09521141123454/10/L"
    assert aggregation.biz_step is None
    transformation = normalise_event(
        {
            "type": "TransformationEvent",
            "eventTime": "2026-11-02T10:00:00",
            "eventTimeZoneOffset": "-05:00",
            "inputQuantityList": [{"epcClass": LOT_L, "quantity": 2, "uom": "KGM"}],
            "inputEPCList": ["urn:epc:id:sgtin:9521141.012345.1"],
            "outputEPCList": ["urn:epc:id:sgtin:9521141.012345.2017"],
            "outputQuantityList": [{"epcClass": LOT_L[:-1] + "M", "quantity": 1}],
            "ilmd": {"cbvmda:lotNumber": "B1", "cbvmda:itemExpirationDate": "2028-10-31"},
        },
        0,
    )  # fmt: skip
    assert transformation.action is None
    assert transformation.event_time.utcoffset() == -timedelta(hours=5)
    assert transformation.input_quantities[0].quantity == 2
    assert transformation.input_epcs == ("https://id.gs1.org/01/09521141123454/21/1",)
    assert transformation.output_epcs == ("https://id.gs1.org/01/09521141123454/21/2017",)
    assert transformation.output_quantities[0].class_id.endswith("/10/M")
    assert (transformation.lot, transformation.expiry) == ("B1", date(2028, 10, 31))


def test_bare_ilmd_keys_are_read_too() -> None:
    event = normalise_event({**SHIP, "ilmd": {"lotNumber": "L9"}}, 0)
    assert (event.lot, event.expiry) == ("L9", None)


@pytest.mark.parametrize(
    ("field", "value", "pointer", "rule"),
    [
        ("epcList", ["urn:epc:id:sgtin:9521141.012345.1", "(01)09521141123455(21)2"],
         "/epcisBody/eventList/7/epcList/1", "gs1.checkDigit"),
        ("readPoint", {"id": "https://example.com/414/123"}, "/epcisBody/eventList/7/readPoint/id",
         "gs1.identifier"),
        ("quantityList", [{"epcClass": "urn:epc:class:lgtin:1.2.3"}],
         "/epcisBody/eventList/7/quantityList/0/epcClass", "gs1.identifier"),
        ("sourceList", [{"type": "owning_party", "source": "urn:x:y"}],
         "/epcisBody/eventList/7/sourceList/0/source", "gs1.identifier"),
        ("bizStep", "teleporting", "/epcisBody/eventList/7/bizStep", "cbv.bizStep"),
    ],
    ids=["epc-check-digit", "read-point", "class", "source", "bizstep"],
)  # fmt: skip
def test_bad_values_are_named_by_their_pointer(
    field: str, value: object, pointer: str, rule: str
) -> None:
    with pytest.raises(ValidationError) as info:
        normalise_event({**SHIP, field: value}, 7)
    assert (info.value.pointer, info.value.rule) == (pointer, rule)
    if rule.startswith("gs1"):
        assert str(info.value).startswith("event 7: ")


@pytest.mark.parametrize(
    "uri", ["geo:47.506694,11.104301", "https://maps.example/site/7", "urn:example:dock:3"]
)
def test_a_location_given_as_another_uri_is_kept_as_it_is(uri: str) -> None:
    """The schema takes any URI for readPoint and bizLocation; only GS1 forms are canonical."""
    event = normalise_event({**SHIP, "readPoint": {"id": uri}, "bizLocation": {"id": uri}}, 0)
    assert (event.read_point, event.biz_location) == (uri, uri)


@pytest.mark.parametrize(
    "uri",
    ["urn:epc:id:sgln:9521141.00001", "https://example.com/414/9521141000015", "(414)123",
     "https://example.com/gln/952114100001"],
)  # fmt: skip
def test_a_location_written_as_a_gs1_key_is_checked_as_strictly_as_ever(uri: str) -> None:
    with pytest.raises(ValidationError) as info:
        normalise_event({**SHIP, "readPoint": {"id": uri}}, 0)
    assert info.value.rule is not None and info.value.rule.startswith("gs1.")
    assert info.value.pointer == "/epcisBody/eventList/0/readPoint/id"


def test_a_naive_event_time_takes_the_declared_offset() -> None:
    event = normalise_event({**SHIP, "eventTime": "2026-11-02T10:00:00"}, 0)
    assert event.event_time == datetime(2026, 11, 2, 10, tzinfo=timezone(timedelta(hours=2)))


def test_a_normalised_event_pickles_to_an_equal_event() -> None:
    """The indexer's worker processes send normalised events to the follower by pickle."""
    event = {
        "type": "ObjectEvent",
        "eventTime": "2026-11-02T10:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "action": "OBSERVE",
        "bizStep": "shipping",
        "disposition": "in_transit",
        "readPoint": {"id": "urn:epc:id:sgln:4700123.00000.0"},
        "epcList": ["urn:epc:id:sgtin:4700123.012345.S1"],
        "quantityList": [
            {"epcClass": "urn:epc:class:lgtin:4700123.012345.L1", "quantity": 2.5, "uom": "KGM"}
        ],
        "sourceList": [{"type": "owning_party", "source": "urn:epc:id:pgln:4700123.00000"}],
        "destinationList": [
            {"type": "owning_party", "destination": "urn:epc:id:pgln:4700321.00000"}
        ],
    }
    normalised = normalise_event(event, 0)
    assert normalised.quantities and normalised.sources  # nested dataclasses too
    assert pickle.loads(pickle.dumps(normalised)) == normalised
