"""A small world for rule tests: participants, a custody store, and EPCIS 2.0 event builders.

Events are built as JSON-LD dicts (what a participant sends) and go through the real
normalisation, so the tests exercise the same path as the gateway.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import pytest

from medledger.custody import InMemoryCustody, RuleViolation, check_document
from medledger.custody.state import Participant, StateChange
from medledger.epcis import builders as epcis
from medledger.epcis.builders import Actor, as_document
from medledger.epcis.normalise import normalise_events
from medledger.epcis.schema import validate_document
from medledger.roles import Role

Event = dict[str, Any]

API_MAKER = Actor("api maker", Role.API_MAKER, "8901234")
MAKER = Actor("manufacturer", Role.MANUFACTURER, "4700123")
IMPORTER = Actor("importer", Role.IMPORTER, "4700234")
DISTRIBUTOR = Actor("distributor", Role.DISTRIBUTOR, "4700456")
WHOLESALER = Actor("wholesaler", Role.WHOLESALER, "4700567")
PHARMACY = Actor("pharmacy", Role.PHARMACY, "4700789")
HOSPITAL = Actor("hospital", Role.HOSPITAL, "4700890")
AUDITOR = Actor("auditor", Role.AUDITOR, "4700901")
REGULATOR = Actor("regulator", Role.REGULATOR, "4700012")
ACTORS = (API_MAKER, MAKER, IMPORTER, DISTRIBUTOR, WHOLESALER, PHARMACY, HOSPITAL, AUDITOR,
          REGULATOR)  # fmt: skip
TRADERS = (IMPORTER, DISTRIBUTOR, WHOLESALER)

PACK_GTIN = "04700123123452"
API_CLASS = "urn:epc:class:lgtin:8901234.099999.API-LOT-1"
API_CLASS_DL = "https://id.gs1.org/01/08901234999998/10/API-LOT-1"
LOT = "B-1"


def pack(n: int) -> str:
    return f"urn:epc:id:sgtin:4700123.012345.P{n}"


def pack_dl(n: int) -> str:
    return f"https://id.gs1.org/01/{PACK_GTIN}/21/P{n}"


def case(n: int) -> str:
    """SSCC of the manufacturer (extension digit 0, 9-digit serial reference)."""
    return f"urn:epc:id:sscc:4700123.0{n:09d}"


_clock = count()


def _now() -> datetime:
    return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=next(_clock))


def _lot(lot: str) -> dict[str, str]:
    return {"cbvmda:lotNumber": lot, "cbvmda:itemExpirationDate": "2028-10-31"}


def commission(actor: Actor, epcs: Sequence[str], lot: str | None = LOT) -> Event:
    return epcis.commission(actor, _now(), epcs=epcs, ilmd=None if lot is None else _lot(lot))


def commission_lot(actor: Actor, kg: float = 50.0, cls: str = API_CLASS) -> Event:
    qty = [{"epcClass": cls, "quantity": kg, "uom": "KGM"}]
    return epcis.commission(actor, _now(), quantities=qty)


def transform(actor: Actor, kg: float, outputs: Sequence[str], lot: str = LOT) -> Event:
    inputs = [{"epcClass": API_CLASS, "quantity": kg, "uom": "KGM"}]
    return epcis.transform(actor, _now(), inputs=inputs, output_epcs=outputs, ilmd=_lot(lot))


def aggregate(actor: Actor, parent: str, children: Sequence[str], action: str = "ADD") -> Event:
    return epcis.aggregate(actor, _now(), parent, children, action=action)


def _quantities(kg: float | None) -> list[dict[str, Any]] | None:
    return None if kg is None else [{"epcClass": API_CLASS, "quantity": kg, "uom": "KGM"}]


def ship(frm: Actor, to: Actor, epcs: Sequence[str] = (), kg: float | None = None) -> Event:
    return epcis.ship(frm, to, _now(), epcs=epcs, quantities=_quantities(kg))


def receive(frm: Actor, to: Actor, epcs: Sequence[str] = (), kg: float | None = None) -> Event:
    return epcis.receive(frm, to, _now(), epcs=epcs, quantities=_quantities(kg))


def send_back(frm: Actor, to: Actor, epcs: Sequence[str] = (), kg: float | None = None) -> Event:
    return epcis.send_back(frm, to, _now(), epcs=epcs, quantities=_quantities(kg))


def receive_back(frm: Actor, to: Actor, epcs: Sequence[str] = (), kg: float | None = None) -> Event:
    return epcis.receive_back(frm, to, _now(), epcs=epcs, quantities=_quantities(kg))


def dispense(actor: Actor, epcs: Sequence[str]) -> Event:
    return epcis.dispense(actor, _now(), epcs)


def destroy(actor: Actor, epcs: Sequence[str]) -> Event:
    return epcis.destroy(actor, _now(), epcs)


def decommission(actor: Actor, epcs: Sequence[str]) -> Event:
    return epcis.decommission(actor, _now(), epcs)


def inspect(actor: Actor, epcs: Sequence[str]) -> Event:
    return epcis.observe(actor, _now(), epcs, disposition="active")


@dataclass
class World:
    """Participants registered in an in-memory custody store; documents applied on success."""

    store: InMemoryCustody = field(default_factory=InMemoryCustody)
    participants: dict[str, Participant] = field(default_factory=dict)
    validate: bool = False

    def __post_init__(self) -> None:
        for i, actor in enumerate(ACTORS, start=1):
            participant = Participant(
                f"0x{i:040x}", int(actor.roles), actor.gln, True, (actor.company_prefix,)
            )
            self.participants[actor.name] = participant
            self.store.add_participant(participant)

    def who(self, actor: Actor) -> Participant:
        return self.participants[actor.name]

    def check(self, actor: Actor, events: Sequence[Event]) -> list[StateChange]:
        if self.validate:
            validate_document(as_document(list(events)))
        return check_document(normalise_events(events), self.who(actor), self.store)

    def submit(self, actor: Actor, *events: Event) -> list[StateChange]:
        changes = self.check(actor, events)
        self.store.apply(changes)
        return changes

    def reject(self, actor: Actor, *events: Event, rule: str) -> RuleViolation:
        with pytest.raises(RuleViolation) as info:
            self.check(actor, events)
        assert info.value.rule == rule, str(info.value)
        return info.value


def api_at_maker(world: World, kg: float = 50.0) -> None:
    """An API lot commissioned, shipped to and received by the manufacturer."""
    world.submit(API_MAKER, commission_lot(API_MAKER, kg), ship(API_MAKER, MAKER, kg=kg))
    world.submit(MAKER, receive(API_MAKER, MAKER, kg=kg))


def packs_at_maker(world: World, n: int = 4, cases: int = 0) -> list[str]:
    """API received, ``n`` packs made from it; the packs split over ``cases`` packed cases."""
    api_at_maker(world)
    packs = [pack(i) for i in range(n)]
    world.submit(MAKER, transform(MAKER, 12.5, packs))
    if cases:
        ids = [case(c) for c in range(cases)]
        events = [commission(MAKER, ids, lot=None)]
        events += [aggregate(MAKER, ids[c], packs[c::cases]) for c in range(cases)]
        world.submit(MAKER, *events)
    return packs
