"""GS1 syntax at every edge of the gateway, and what a refusal echoes and keeps.

Issue 14, finding 7: a lot the recall registry cannot take (longer than 20 characters, or outside
GS1 character set 82) was accepted at capture and then could not be recalled; capture, lot
declaration, recall and release now refuse it alike, by the one module medledger/epcis/gs1.py.
Finding 8: a rejected capture stored (and answered) the whole bad value it echoed.
"""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from gateway.store.models import CaptureRow, EventRow
from medledger.epcis.builders import as_document
from medledger.epcis.digital_link import gtin_of
from medledger.epcis.identifiers import canonical_identifier
from provenance.journey import API_MAKER, MANUFACTURER, build_journey
from tests.gateway.conftest import Gateway, GatewayFactory

EVENTS = "/epcisBody/eventList/0"
#: What a refusal may weigh, answered or stored, whatever was sent.
SMALL = 2048


@pytest.fixture(scope="module")
def gateway(make_module_gateway: GatewayFactory) -> Gateway:
    """One gateway per module and database: its tests are refusals, counted before and after."""
    return make_module_gateway()


def _stored_events(gateway: Gateway) -> int:
    with gateway.service.sessions() as session:
        return len(session.execute(select(EventRow.event_id)).all())


def test_capture_refuses_a_lot_or_serial_the_recall_registry_could_not_take(
    gateway: Gateway,
) -> None:
    """Finding 7: a 21-character lot (LGTIN), a lot with a space (ILMD) and a 21-character serial
    (SGTIN) are each refused (400, the EPCIS binding's code) with the GS1 rule and the field's
    pointer; nothing is stored."""
    journey = build_journey(4, packs_per_case=2)
    commission = journey.steps[0].events[0]
    long_lot = copy.deepcopy(commission)
    lgtin = long_lot["quantityList"][0]["epcClass"]
    long_lot["quantityList"][0]["epcClass"] = lgtin.rsplit(".", 1)[0] + "." + "L" * 21
    transform = journey.steps[3].events[0]
    spaced_lot = copy.deepcopy(transform)
    spaced_lot["ilmd"]["cbvmda:lotNumber"] = "B 2026"
    long_serial = copy.deepcopy(transform)
    long_serial["outputEPCList"][1] = long_serial["outputEPCList"][1] + "X" * 12
    refusals: list[tuple[Any, dict[str, Any], str, str]] = [
        (API_MAKER, long_lot, "gs1.lot", f"{EVENTS}/quantityList/0/epcClass"),
        (MANUFACTURER, spaced_lot, "gs1.lot", f"{EVENTS}/ilmd/cbvmda:lotNumber"),
        (MANUFACTURER, long_serial, "gs1.serial", f"{EVENTS}/outputEPCList/1"),
    ]
    before = _stored_events(gateway)
    for actor, event, rule, pointer in refusals:
        response = gateway.capture(actor, as_document([event]))
        assert response.status_code == 400, response.text
        assert (response.json()["rule"], response.json()["pointer"]) == (rule, pointer)
    assert _stored_events(gateway) == before


def test_declaration_recall_and_release_refuse_a_malformed_lot_by_the_same_rule(
    gateway: Gateway,
) -> None:
    """Finding 7: the same module answers at every edge that takes a lot (rule ``gs1.lot``),
    before the store or the chain is asked."""
    gtin = gtin_of(canonical_identifier(build_journey(2).packs[0]))
    assert gtin is not None
    regulator = gateway.regulator
    for lot in ("L" * 21, "B 2026", "LÖT"):
        answers = [
            gateway.http.post(
                "/recalls", json={"gtin": gtin, "lot": lot, "reason": "x"}, headers=regulator
            ),
            gateway.http.post(
                f"/recalls/{gtin}/{lot}/release", json={"reason": "x"}, headers=regulator
            ),
            gateway.http.post(
                "/lots",
                json={"gtin": gtin, "lot": lot, "expiry": "2028-01-31", "packs": 3},
                headers=gateway.headers(MANUFACTURER),
            ),
        ]
        for answer in answers:
            assert answer.status_code == 422, answer.text
            assert (answer.json()["rule"], answer.json()["pointer"]) == ("gs1.lot", "/lot")
    bad_digit = gtin[:13] + str((int(gtin[13]) + 1) % 10)
    wrong = gateway.http.post(
        "/recalls", json={"gtin": bad_digit, "lot": "B1", "reason": "x"}, headers=regulator
    )
    assert (wrong.status_code, wrong.json()["rule"]) == (422, "gs1.checkDigit")


def test_a_megabyte_bad_epc_is_refused_small_and_stored_small(gateway: Gateway) -> None:
    """Finding 8: a 1 MB bad EPC (a GS1 serial, then a URI that is no GS1 key) answers 400 with
    a detail of a few hundred characters, and the rejected capture's stored record stays under
    2 KB."""
    shipping = build_journey(2).steps[1].events[0]
    refused: list[uuid.UUID] = []
    for bad in ("https://id.gs1.org/01/04700123001239/21/" + "S" * 2**20, "urn:x:" + "X" * 2**20):
        event = copy.deepcopy(shipping)
        event.pop("quantityList", None)
        event["epcList"] = [bad]
        response = gateway.capture(API_MAKER, as_document([event]))
        assert response.status_code == 400, response.text[:500]
        assert len(response.content) < SMALL
        assert "characters)" in response.json()["detail"]
        refused.append(uuid.UUID(response.json()["capture_id"]))
        status = gateway.http.get(
            f"/capture/{response.json()['capture_id']}", headers=gateway.headers(API_MAKER)
        )
        assert status.status_code == 200 and len(status.content) < SMALL
    with gateway.service.sessions() as session:
        rows = select(CaptureRow.error).where(CaptureRow.id.in_(refused))
        errors = session.execute(rows).scalars().all()
    assert len(errors) == 2
    assert all(len(json.dumps(error)) < SMALL for error in errors)
