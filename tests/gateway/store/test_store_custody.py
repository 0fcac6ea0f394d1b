from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from gateway.store.capture import record_capture
from gateway.store.custody_view import SqlCustodyView, custody_lock, set_lot_recalled
from gateway.store.participants import set_participant_status
from medledger.custody.state import CustodyView, ItemState, ItemStatus, MoveQuantity, PutItem
from medledger.errors import StoreConflictError
from tests.gateway.store.store_support import ParticipantMaker, make_event

GTIN = "09506000134352"
API_LOT = "https://id.gs1.org/01/09506000134369/10/API-7"


def pack(n: int) -> str:
    return f"https://id.gs1.org/01/{GTIN}/21/{n}"


def case(n: int) -> str:
    return f"https://id.gs1.org/00/0950600013435{n:05d}"


def state(identifier: str, holder: str, **kw: object) -> ItemState:
    fields: dict[str, object] = {
        "identifier": identifier,
        "status": ItemStatus.ACTIVE,
        "holder": holder,
        "location": "https://id.gs1.org/414/4700000000017",
        "parent": None,
        "gtin": GTIN,
        "lot": "L1",
    }
    fields.update(kw)
    return ItemState(**fields)  # type: ignore[arg-type]


def test_view_is_a_custody_view(session: Session) -> None:
    view: CustodyView = SqlCustodyView(session)
    assert view.item(pack(1)) is None


def test_view_reads_back_applied_items(
    session: Session, make_participant: ParticipantMaker
) -> None:
    maker, importer = make_participant(), make_participant()
    packs = [state(pack(n), maker.address, parent=case(1)) for n in range(3)]
    record_capture(
        session,
        maker.address,
        [make_event()],
        [PutItem(state(case(1), maker.address, gtin=None, lot=None)), *map(PutItem, packs)],
    )
    view = SqlCustodyView(session)
    assert view.item(pack(1)) == packs[1]
    assert view.children(case(1)) == sorted(pack(n) for n in range(3))
    assert view.children(pack(1)) == []
    # ship the case: it is replaced, the last PutItem of an identifier wins
    shipped = state(
        case(1),
        maker.address,
        status=ItemStatus.IN_TRANSIT,
        in_transit_to=importer.address,
        gtin=None,
        lot=None,
        commissioned_by=maker.address,
    )
    record_capture(
        session,
        maker.address,
        [make_event()],
        [PutItem(state(case(1), maker.address)), PutItem(shipped)],
    )
    assert SqlCustodyView(session).item(case(1)) == shipped


def test_prefetch_loads_a_document_in_a_few_queries(
    session: Session, make_participant: ParticipantMaker
) -> None:
    maker = make_participant()
    changes: list[PutItem] = [PutItem(state(case(c), maker.address)) for c in range(10)]
    changes += [
        PutItem(state(pack(c * 100 + p), maker.address, parent=case(c)))
        for c in range(10)
        for p in range(100)
    ]
    record_capture(session, maker.address, [make_event()], changes)
    view = SqlCustodyView(session)
    view.prefetch([case(c) for c in range(10)] + [pack(99_999)])
    before = view.queries
    assert before <= 6  # cases, their children, the packs' (empty) children
    for c in range(10):
        for child in view.children(case(c)):
            item = view.item(child)
            assert item is not None and item.parent == case(c)
    assert view.item(pack(99_999)) is None
    assert view.queries == before


def test_quantities_held_and_in_transit(
    session: Session, make_participant: ParticipantMaker
) -> None:
    api, maker = make_participant(), make_participant()
    record_capture(
        session,
        api.address,
        [make_event()],
        [MoveQuantity(API_LOT, api.address, Decimal("50.000001"), "KGM")],
    )
    # ship 12.5 kg: leaves the holder, in transit to the manufacturer
    record_capture(
        session,
        api.address,
        [make_event()],
        [
            MoveQuantity(API_LOT, api.address, Decimal("-12.5"), "KGM"),
            MoveQuantity(API_LOT, api.address, Decimal("12.5"), "KGM", in_transit_to=maker.address),
        ],
    )
    view = SqlCustodyView(session)
    assert view.quantity_held(API_LOT, api.address) == Decimal("37.500001")
    assert view.quantity_in_transit(API_LOT, api.address, maker.address) == Decimal("12.5")
    assert view.quantity_held(API_LOT, maker.address) == 0
    # receive it, and consume 0.1 kg three times in one document (netted)
    record_capture(
        session,
        maker.address,
        [make_event()],
        [
            MoveQuantity(
                API_LOT, api.address, Decimal("-12.5"), "KGM", in_transit_to=maker.address
            ),
            MoveQuantity(API_LOT, maker.address, Decimal("12.5"), "KGM"),
            *[MoveQuantity(API_LOT, maker.address, Decimal("-0.1"), "KGM") for _ in range(3)],
        ],
    )
    view = SqlCustodyView(session)
    view.prefetch_quantities([API_LOT])
    queries = view.queries
    assert view.quantity_held(API_LOT, maker.address) == Decimal("12.2")
    assert view.quantity_in_transit(API_LOT, api.address, maker.address) == 0
    assert view.quantity_held(API_LOT, api.address) == Decimal("37.500001")
    assert view.quantity_held(API_LOT, "0x" + "9" * 40) == 0
    assert view.queries == queries


def test_over_consumption_and_unit_mismatch_are_refused(
    session: Session, make_participant: ParticipantMaker
) -> None:
    api = make_participant()
    record_capture(
        session,
        api.address,
        [make_event()],
        [MoveQuantity(API_LOT, api.address, Decimal(1), "KGM")],
    )
    with pytest.raises(StoreConflictError, match="ck_quantities_not_negative"):
        record_capture(
            session,
            api.address,
            [make_event()],
            [MoveQuantity(API_LOT, api.address, Decimal("-1.000001"), "KGM")],
        )
    with pytest.raises(StoreConflictError, match="held in 'KGM'; a move in 'GRM'"):
        record_capture(
            session,
            api.address,
            [make_event()],
            [MoveQuantity(API_LOT, api.address, Decimal(1), "GRM")],
        )
    assert SqlCustodyView(session).quantity_held(API_LOT, api.address) == 1


def test_recalls_and_participants(session: Session, make_participant: ParticipantMaker) -> None:
    alice = make_participant()
    set_lot_recalled(session, GTIN, "L1", True)
    set_lot_recalled(session, GTIN, "L1", True)
    view = SqlCustodyView(session)
    assert view.is_lot_recalled(GTIN, "L1") and not view.is_lot_recalled(GTIN, "L2")
    assert view.participant_by_gln(alice.gln) == alice.to_custody()
    assert view.participant_by_gln("4712345678901") is None
    set_lot_recalled(session, GTIN, "L1", False)
    set_participant_status(session, alice.address, "suspended")
    view = SqlCustodyView(session)
    assert not view.is_lot_recalled(GTIN, "L1")
    found = view.participant_by_gln(alice.gln)
    assert found is not None and not found.active


def test_custody_lock_is_held_by_the_capture_transaction(
    session: Session, make_participant: ParticipantMaker
) -> None:
    alice = make_participant()
    custody_lock(session)  # before the view reads; released by record_capture's commit
    view = SqlCustodyView(session)
    assert view.item(pack(1)) is None
    record_capture(session, alice.address, [make_event()], [PutItem(state(pack(1), alice.address))])
    custody_lock(session)
    session.rollback()
