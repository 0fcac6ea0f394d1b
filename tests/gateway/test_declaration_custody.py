"""Issue 16: an error declaration undoes, in the gateway's own custody state, what the declared
event did (gateway/store/undo.py), so the ``pharma`` rules let the record be corrected: an item
shipped in error is back at its shipper, an item commissioned in error can be commissioned
again, later events on the items are replayed, and a declaration whose document fails leaves
nothing changed. On SQLite and PostgreSQL; one gateway per backend for the module, each test
with packs (serials) of its own.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

import gateway.store.capture as capture_store
from gateway.store.models import ErrorDeclarationRow, ItemRow
from medledger.epcis import builders as epcis
from medledger.epcis.builders import Actor, as_document
from medledger.epcis.gs1 import check_digit
from provenance.journey import DISTRIBUTOR, IMPORTER, MANUFACTURER, PACK_ITEM_REF, PHARMACY
from tests.gateway.conftest import Gateway, GatewayFactory

Event = dict[str, Any]

START = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
LOT = {"cbvmda:lotNumber": "D-16", "cbvmda:itemExpirationDate": "2028-10-31"}
DECLARATION = {"declarationTime": "2026-11-03T20:00:00Z", "reason": "incorrect_data"}


def at(hour: int) -> datetime:
    return START + timedelta(hours=hour)


def pack(name: str) -> str:
    return f"urn:epc:id:sgtin:{MANUFACTURER.company_prefix}.{PACK_ITEM_REF}.{name}"


def case(n: int) -> str:
    return f"urn:epc:id:sscc:{MANUFACTURER.company_prefix}.0{n:09d}"


def declared(event: Event) -> Event:
    return {**event, "errorDeclaration": DECLARATION}


@pytest.fixture(scope="module")
def gateway(make_module_gateway: GatewayFactory) -> Gateway:
    return make_module_gateway()


def post(gateway: Gateway, actor: Actor, *events: Event) -> Any:
    return gateway.capture(actor, as_document(list(events)))


def accepted(gateway: Gateway, actor: Actor, *events: Event) -> dict[str, Any]:
    response = post(gateway, actor, *events)
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def state(gateway: Gateway, serial_or_sscc: str) -> dict[str, Any] | None:
    """The gateway's custody state of a pack (by serial) or a case (by SSCC digits)."""
    suffix = serial_or_sscc.rsplit(".", 1)[-1]
    with gateway.service.sessions() as session:
        row = session.scalars(
            select(ItemRow).where(
                ItemRow.identifier.like(f"%/21/{suffix}")
                | ItemRow.identifier.like(f"%/00/%{suffix}%")
            )
        ).one_or_none()
        if row is None:
            return None
        names = {a: n for n, a in gateway.addresses.items()}
        return {
            "status": row.status,
            "holder": names.get(row.holder, row.holder),
            "to": names.get(row.in_transit_to or "", row.in_transit_to),
            "parent": row.parent,
            "lot": row.lot,
        }


def declarations(gateway: Gateway) -> int:
    with gateway.service.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(ErrorDeclarationRow)) or 0)


def test_a_shipping_declared_erroneous_leaves_the_pack_at_its_shipper(gateway: Gateway) -> None:
    p = pack("SHIP1")
    accepted(gateway, MANUFACTURER, epcis.commission(MANUFACTURER, at(0), epcs=[p], ilmd=LOT))
    wrong = epcis.ship(MANUFACTURER, PHARMACY, at(1), epcs=[p])
    accepted(gateway, MANUFACTURER, wrong)
    assert state(gateway, p) == {
        "status": "in_transit",
        "holder": MANUFACTURER.name,
        "to": PHARMACY.name,
        "parent": None,
        "lot": "D-16",
    }
    again = post(gateway, MANUFACTURER, epcis.ship(MANUFACTURER, DISTRIBUTOR, at(2), epcs=[p]))
    assert again.status_code == 400 and again.json()["rule"] == "custody.not-held"

    body = accepted(gateway, MANUFACTURER, declared(wrong))
    assert body["declarationsStored"] == 1
    assert state(gateway, p) == {
        "status": "active",
        "holder": MANUFACTURER.name,
        "to": None,
        "parent": None,
        "lot": "D-16",
    }
    refused = post(gateway, PHARMACY, epcis.receive(MANUFACTURER, PHARMACY, at(2), epcs=[p]))
    assert refused.json()["rule"] == "custody.not-shipped-to-submitter"
    accepted(gateway, MANUFACTURER, epcis.ship(MANUFACTURER, DISTRIBUTOR, at(2), epcs=[p]))
    accepted(gateway, DISTRIBUTOR, epcis.receive(MANUFACTURER, DISTRIBUTOR, at(3), epcs=[p]))
    assert state(gateway, p) == {
        "status": "active",
        "holder": DISTRIBUTOR.name,
        "to": None,
        "parent": None,
        "lot": "D-16",
    }


def test_a_corrective_in_the_declarations_document_applies_after_the_undo(
    gateway: Gateway,
) -> None:
    p = pack("SHIP2")
    accepted(gateway, MANUFACTURER, epcis.commission(MANUFACTURER, at(0), epcs=[p], ilmd=LOT))
    wrong = epcis.ship(MANUFACTURER, PHARMACY, at(1), epcs=[p])
    accepted(gateway, MANUFACTURER, wrong)
    right = epcis.ship(MANUFACTURER, IMPORTER, at(2), epcs=[p])
    body = accepted(gateway, MANUFACTURER, right, declared(wrong))  # the corrective first
    assert (body["stored"], body["declarationsStored"]) == (1, 1)
    assert state(gateway, p) == {
        "status": "in_transit",
        "holder": MANUFACTURER.name,
        "to": IMPORTER.name,
        "parent": None,
        "lot": "D-16",
    }


def test_a_commissioning_declared_erroneous_can_be_commissioned_again(gateway: Gateway) -> None:
    p = pack("COMM1")
    wrong = epcis.commission(
        MANUFACTURER, at(0), epcs=[p], ilmd={**LOT, "cbvmda:lotNumber": "D-99"}
    )
    accepted(gateway, MANUFACTURER, wrong)
    twice = post(gateway, MANUFACTURER, epcis.commission(MANUFACTURER, at(1), epcs=[p], ilmd=LOT))
    assert twice.json()["rule"] == "commission.duplicate"

    accepted(gateway, MANUFACTURER, declared(wrong))
    assert state(gateway, p) is None  # unknown again
    accepted(gateway, MANUFACTURER, epcis.commission(MANUFACTURER, at(1), epcs=[p], ilmd=LOT))
    assert state(gateway, p) == {
        "status": "active",
        "holder": MANUFACTURER.name,
        "to": None,
        "parent": None,
        "lot": "D-16",
    }


def test_the_later_events_of_the_items_are_replayed(gateway: Gateway) -> None:
    """A pack packed into a case in error, another packed after it, the case shipped since: the
    declaration takes the first pack out (back at the manufacturer, unpacked), the case and the
    other pack stay shipped; the importer receives them."""
    first, second, c = pack("LATE1"), pack("LATE2"), case(1601)
    accepted(
        gateway, MANUFACTURER, epcis.commission(MANUFACTURER, at(0), epcs=[first, second], ilmd=LOT)
    )
    accepted(gateway, MANUFACTURER, epcis.commission(MANUFACTURER, at(0), epcs=[c]))
    wrong = epcis.aggregate(MANUFACTURER, at(1), c, [first])
    accepted(gateway, MANUFACTURER, wrong)
    accepted(gateway, MANUFACTURER, epcis.aggregate(MANUFACTURER, at(2), c, [second]))
    accepted(gateway, MANUFACTURER, epcis.ship(MANUFACTURER, IMPORTER, at(3), epcs=[c]))
    assert state(gateway, first)["status"] == "in_transit"  # type: ignore[index]

    accepted(gateway, MANUFACTURER, declared(wrong))
    parent = state(gateway, second)["parent"]  # type: ignore[index]
    assert parent is not None and "/00/" in parent
    assert state(gateway, first) == {
        "status": "active",
        "holder": MANUFACTURER.name,
        "to": None,
        "parent": None,
        "lot": "D-16",
    }
    assert state(gateway, second) == {
        "status": "in_transit",
        "holder": MANUFACTURER.name,
        "to": IMPORTER.name,
        "parent": parent,
        "lot": "D-16",
    }
    accepted(gateway, IMPORTER, epcis.receive(MANUFACTURER, IMPORTER, at(4), epcs=[c]))
    assert state(gateway, second)["holder"] == IMPORTER.name  # type: ignore[index]
    assert state(gateway, first)["holder"] == MANUFACTURER.name  # type: ignore[index]


def test_an_event_that_no_longer_fits_changes_nothing(gateway: Gateway) -> None:
    """The commissioning of a pack declared erroneous after the pack was shipped: had it never
    been captured, the shipping would have been refused; the pack is unknown again."""
    p = pack("GONE1")
    wrong = epcis.commission(MANUFACTURER, at(0), epcs=[p], ilmd=LOT)
    accepted(gateway, MANUFACTURER, wrong)
    accepted(gateway, MANUFACTURER, epcis.ship(MANUFACTURER, IMPORTER, at(1), epcs=[p]))
    accepted(gateway, MANUFACTURER, declared(wrong))
    assert state(gateway, p) is None


def test_a_declaration_whose_document_is_refused_changes_nothing(gateway: Gateway) -> None:
    p = pack("ATOM1")
    accepted(gateway, MANUFACTURER, epcis.commission(MANUFACTURER, at(0), epcs=[p], ilmd=LOT))
    wrong = epcis.ship(MANUFACTURER, PHARMACY, at(1), epcs=[p])
    accepted(gateway, MANUFACTURER, wrong)
    before, counted = state(gateway, p), declarations(gateway)
    # the corrective is checked after the undo, and breaks a rule: all of it is rolled back
    broken = epcis.receive(MANUFACTURER, DISTRIBUTOR, at(2), epcs=[p])
    refused = post(gateway, MANUFACTURER, declared(wrong), broken)
    assert refused.status_code == 400, refused.text
    assert state(gateway, p) == before and before is not None and before["to"] == PHARMACY.name
    assert declarations(gateway) == counted


def test_a_store_failure_after_the_undo_changes_nothing(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The undo is written, then the store fails before its commit: nothing of either stays."""
    p = pack("ATOM2")
    accepted(gateway, MANUFACTURER, epcis.commission(MANUFACTURER, at(0), epcs=[p], ilmd=LOT))
    wrong = epcis.ship(MANUFACTURER, PHARMACY, at(1), epcs=[p])
    accepted(gateway, MANUFACTURER, wrong)
    before, counted = state(gateway, p), declarations(gateway)

    def fail(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("the store failed after the undo")

    monkeypatch.setattr(capture_store, "insert_declarations", fail)
    with pytest.raises(RuntimeError):
        post(gateway, MANUFACTURER, declared(wrong))
    monkeypatch.undo()
    assert state(gateway, p) == before
    assert declarations(gateway) == counted
    accepted(gateway, MANUFACTURER, declared(wrong))  # and it goes through once the store works
    assert state(gateway, p)["status"] == "active"  # type: ignore[index]


def test_a_declared_lot_counts_a_pack_commissioned_in_error_no_more(gateway: Gateway) -> None:
    body = "0" + MANUFACTURER.company_prefix + PACK_ITEM_REF[1:]
    gtin = body + str(check_digit(body))
    lot = {**LOT, "cbvmda:lotNumber": "D-ONE"}
    declared_lot = {"gtin": gtin, "lot": "D-ONE", "expiry": "2028-10-31", "packs": 1}
    made = gateway.http.post("/lots", json=declared_lot, headers=gateway.headers(MANUFACTURER))
    assert made.status_code == 201, made.text
    first, second = pack("LOT1"), pack("LOT2")
    wrong = epcis.commission(MANUFACTURER, at(0), epcs=[first], ilmd=lot)
    accepted(gateway, MANUFACTURER, wrong)
    full = post(
        gateway, MANUFACTURER, epcis.commission(MANUFACTURER, at(1), epcs=[second], ilmd=lot)
    )
    assert full.json()["rule"] == "commission.over-declared"

    accepted(gateway, MANUFACTURER, declared(wrong))
    counted = gateway.http.get(f"/lots/{gtin}/D-ONE", headers=gateway.headers(MANUFACTURER))
    assert counted.json()["issued"] == 0, counted.text
    accepted(gateway, MANUFACTURER, epcis.commission(MANUFACTURER, at(1), epcs=[second], ilmd=lot))


def test_under_proceed_the_undo_comes_before_the_documents_events(gateway: Gateway) -> None:
    p = pack("PROC1")
    accepted(gateway, MANUFACTURER, epcis.commission(MANUFACTURER, at(0), epcs=[p], ilmd=LOT))
    wrong = epcis.ship(MANUFACTURER, PHARMACY, at(1), epcs=[p])
    accepted(gateway, MANUFACTURER, wrong)
    right = epcis.ship(MANUFACTURER, DISTRIBUTOR, at(2), epcs=[p])
    stray = epcis.ship(MANUFACTURER, IMPORTER, at(2), epcs=[pack("PROC-NONE")])
    answer = gateway.http.post(
        "/capture",
        json=as_document([right, declared(wrong), stray]),
        headers={**gateway.headers(MANUFACTURER), "GS1-Capture-Error-Behaviour": "proceed"},
    )
    assert answer.status_code == 202, answer.text
    assert (answer.json()["stored"], answer.json()["declarationsStored"]) == (1, 1)
    assert state(gateway, p)["to"] == DISTRIBUTOR.name  # type: ignore[index]


def test_a_declaration_and_a_capture_about_the_same_pack_at_once_end_serially(
    gateway: Gateway,
) -> None:
    """The pharmacy receives packs shipped to it in error while the manufacturer declares each
    shipping erroneous, side by side: whichever goes first, each pack ends at the manufacturer
    (a receipt before the undo no longer fits the replay; after it, it is refused), and nothing
    fails otherwise (PostgreSQL: the undo holds the packs' custody keys)."""
    packs = [pack(f"RACE{n}") for n in range(4)]
    accepted(gateway, MANUFACTURER, epcis.commission(MANUFACTURER, at(0), epcs=packs, ilmd=LOT))
    wrong = [epcis.ship(MANUFACTURER, PHARMACY, at(1), epcs=[p]) for p in packs]
    for event in wrong:
        accepted(gateway, MANUFACTURER, event)
    answers: list[tuple[str, int, str]] = []

    def run(name: str, actor: Actor, event: Event) -> None:
        response = post(gateway, actor, event)
        answers.append((name, response.status_code, response.json().get("rule", "")))

    threads = []
    for p, event in zip(packs, wrong, strict=True):
        receipt = epcis.receive(MANUFACTURER, PHARMACY, at(2), epcs=[p])
        threads.append(
            threading.Thread(target=run, args=("declare", MANUFACTURER, declared(event)))
        )
        threads.append(threading.Thread(target=run, args=("receive", PHARMACY, receipt)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(a for a in answers if a[0] == "declare") == [("declare", 202, "")] * len(packs)
    assert {a[1:] for a in answers if a[0] == "receive"} <= {
        (202, ""),
        (400, "custody.not-shipped-to-submitter"),
    }
    for p in packs:
        assert state(gateway, p) == {
            "status": "active",
            "holder": MANUFACTURER.name,
            "to": None,
            "parent": None,
            "lot": "D-16",
        }
