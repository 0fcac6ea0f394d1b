"""Issue 16: an error declaration and its corrective event, through capture (the gateway's HTTP
API), anchoring (the embedded chain) and indexing, end with the custody state a world holds in
which the corrective event was the original, on SQLite and on PostgreSQL.

Two worlds per backend (gateway and index both on it), built once for the module: ``erroneous``
captures each erroneous event, later declares it erroneous and then captures its corrective;
``corrected`` captures only the corrective, where the erroneous one was. Cases:

- a shipping to the wrong party (a case shipped to the pharmacy, then to the distributor);
- an aggregation into the wrong case, **moved on** by a later event (the case shipped with the
  packs in it before the declaration), corrected into the right case;
- a commissioning with the wrong lot, re-commissioned with the right one;
- a quantity of the API lot shipped to the wrong party (holdings).

The participants capture under the ``pharma`` rule set, so the gateway's own custody state must
undo each erroneous event too (gateway/store/undo.py), or it would refuse the correctives: the
gateway's items and quantities end the same in both worlds as well.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from devkit.postgres import fresh_database
from gateway.store.models import ItemRow, QuantityRow
from indexer.store.models import ErrorDeclarationRow, HoldingVersionRow, ItemVersionRow
from medledger.epcis import builders as epcis
from medledger.epcis.builders import Actor
from provenance.journey import (
    API_ITEM_REF,
    API_MAKER,
    DISTRIBUTOR,
    IMPORTER,
    MANUFACTURER,
    PACK_ITEM_REF,
    PHARMACY,
)
from tests.indexer.conftest import INDEX_BACKENDS, index_database
from tests.support.network import Network, start_network
from tests.support.tallies import assert_tallies_recount

Event = dict[str, Any]

START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
PACKS = [
    f"urn:epc:id:sgtin:{MANUFACTURER.company_prefix}.{PACK_ITEM_REF}.S{n:08d}" for n in range(1, 8)
]
CASES = [f"urn:epc:id:sscc:{MANUFACTURER.company_prefix}.0{n:09d}" for n in range(1, 4)]
API = f"urn:epc:class:lgtin:{API_MAKER.company_prefix}.{API_ITEM_REF}.API-1"
LOT = {"cbvmda:lotNumber": "B-1", "cbvmda:itemExpirationDate": "2028-10-31"}


def kg(amount: float) -> list[dict[str, Any]]:
    return [{"epcClass": API, "quantity": amount, "uom": "KGM"}]


def at(hour: int) -> datetime:
    return START + timedelta(hours=hour)


#: (actor, event) captured in both worlds, in order
COMMON: list[tuple[Actor, Event]] = [
    (API_MAKER, epcis.commission(API_MAKER, at(0), quantities=kg(50))),
    (API_MAKER, epcis.ship(API_MAKER, MANUFACTURER, at(1), quantities=kg(50))),
    (MANUFACTURER, epcis.receive(API_MAKER, MANUFACTURER, at(2), quantities=kg(50))),
    (
        MANUFACTURER,
        epcis.transform(MANUFACTURER, at(3), inputs=kg(12.5), output_epcs=PACKS[:6], ilmd=LOT),
    ),
    (MANUFACTURER, epcis.commission(MANUFACTURER, at(4), epcs=CASES)),
    (MANUFACTURER, epcis.aggregate(MANUFACTURER, at(5), CASES[0], PACKS[:2])),
    (MANUFACTURER, epcis.aggregate(MANUFACTURER, at(5), CASES[2], PACKS[4:6])),
]


@dataclass(frozen=True)
class Correction:
    """An erroneous event, what follows it before its declaration, and its corrective."""

    name: str
    actor: Actor
    erroneous: Event
    corrective: Event
    between: tuple[tuple[Actor, Event], ...] = ()


CORRECTIONS = [
    Correction(
        "shipping to the wrong party",
        MANUFACTURER,
        epcis.ship(MANUFACTURER, PHARMACY, at(10), epcs=[CASES[2]]),
        epcis.ship(MANUFACTURER, DISTRIBUTOR, at(12), epcs=[CASES[2]]),
    ),
    Correction(
        "aggregation into the wrong case, the case shipped on since",
        MANUFACTURER,
        epcis.aggregate(MANUFACTURER, at(10), CASES[0], PACKS[2:4]),
        epcis.aggregate(MANUFACTURER, at(12), CASES[1], PACKS[2:4]),
        between=((MANUFACTURER, epcis.ship(MANUFACTURER, IMPORTER, at(11), epcs=[CASES[0]])),),
    ),
    Correction(
        "commissioning with the wrong lot",
        MANUFACTURER,
        epcis.commission(
            MANUFACTURER, at(10), epcs=[PACKS[6]], ilmd={**LOT, "cbvmda:lotNumber": "B-9"}
        ),
        epcis.commission(MANUFACTURER, at(12), epcs=[PACKS[6]], ilmd=LOT),
    ),
    Correction(
        "a quantity shipped to the wrong party",
        MANUFACTURER,
        epcis.ship(MANUFACTURER, PHARMACY, at(10), quantities=kg(5)),
        epcis.ship(MANUFACTURER, IMPORTER, at(12), quantities=kg(5)),
    ),
]

DECLARATION = {
    "declarationTime": "2026-11-02T20:00:00Z",
    "reason": "incorrect_data",
    "correctiveEventIDs": ["urn:uuid:7f1f3b4e-0000-4000-8000-000000000016"],
}


def erroneous_world(network: Network) -> None:
    for actor, event in COMMON:
        capture(network, actor, event)
    for c in CORRECTIONS:
        capture(network, c.actor, c.erroneous)
        for actor, event in c.between:
            capture(network, actor, event)
    for c in CORRECTIONS:
        body = capture(network, c.actor, {**c.erroneous, "errorDeclaration": DECLARATION})
        assert body["declarationsStored"] == 1
    for c in CORRECTIONS:
        capture(network, c.actor, c.corrective)


def corrected_world(network: Network) -> None:
    for actor, event in COMMON:
        capture(network, actor, event)
    for c in CORRECTIONS:
        for actor, event in c.between:
            capture(network, actor, event)
    for c in CORRECTIONS:
        capture(network, c.actor, c.corrective)


def capture(network: Network, actor: Actor, event: Event) -> dict[str, Any]:
    body = network.capture(actor, [event])
    network.anchor()
    return body


@dataclass
class World:
    engine: Engine
    gateway: Engine
    names: dict[str, str]  # address (lower case): actor name; each world registers its own

    def named(self, value: Any) -> Any:
        return self.names.get(value.lower(), value) if isinstance(value, str) else value


@dataclass
class Worlds:
    erroneous: World
    corrected: World


@pytest.fixture(scope="module", params=INDEX_BACKENDS)
def worlds(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worlds]:
    engines: list[World] = []
    with ExitStack() as stack:
        for build in (erroneous_world, corrected_world):
            directory = tmp_path_factory.mktemp(build.__name__)
            index_url = stack.enter_context(index_database(request.param, directory))
            gateway_url = (
                f"sqlite:///{directory}/gateway.db"
                if request.param == "sqlite"
                else stack.enter_context(fresh_database(prefix="gateway_test"))
            )
            network = start_network(
                directory / "gateway", database_url=gateway_url, rule_set="pharma"
            )
            stack.callback(network.gateway.stop)
            build(network)
            service = network.indexer(index_url, directory / "indexer")
            stack.callback(service.stop)
            service.catch_up()
            names = {a.lower(): name for name, a in network.addresses.items()}
            engines.append(World(service.engine, network.gateway.engine, names))
        yield Worlds(*engines)


#: Left out of the comparison: where in the chain a version was written. The erroneous world
#: wrote the corrected state at the declaration's sequence number, in its block, and its
#: chain holds more events, so ``valid_from``, ``valid_to`` and ``block_number`` differ; the
#: state itself (who, where, in what, since which event and when) must not.
VERSION_COLUMNS = (
    "identifier",
    "event_hash",
    "event_time",
    "status",
    "holder",
    "location",
    "parent",
    "in_transit_to",
    "gtin",
    "lot",
)
HOLDING_COLUMNS = ("class_id", "holder", "in_transit_to", "event_hash", "quantity", "uom")


def current_items(world: World) -> dict[str, tuple[Any, ...]]:
    v = ItemVersionRow.__table__.c
    with world.engine.connect() as conn:
        rows = conn.execute(
            select(*(v[c] for c in VERSION_COLUMNS)).where(v.valid_to.is_(None))
        ).all()
    return {row[0]: tuple(map(world.named, row)) for row in rows}


def current_holdings(world: World) -> dict[tuple[str, str, str], tuple[Any, ...]]:
    h = HoldingVersionRow.__table__.c
    with world.engine.connect() as conn:
        rows = conn.execute(
            select(*(h[c] for c in HOLDING_COLUMNS)).where(h.valid_to.is_(None))
        ).all()
    named = [tuple(map(world.named, row)) for row in rows]
    return {(r[0], r[1], r[2]): r for r in named}


def test_every_item_ends_as_if_the_corrective_had_been_the_original(worlds: Worlds) -> None:
    erroneous, corrected = current_items(worlds.erroneous), current_items(worlds.corrected)
    assert len(corrected) == len(PACKS) + len(CASES)
    assert erroneous == corrected


def test_every_holding_ends_as_if_the_corrective_had_been_the_original(worlds: Worlds) -> None:
    erroneous, corrected = current_holdings(worlds.erroneous), current_holdings(worlds.corrected)
    assert erroneous == corrected
    assert len(corrected) == 4  # the API maker's, the manufacturer's, two in transit


def test_the_overview_s_counts_follow_the_undone_declarations(worlds: Worlds) -> None:
    """The undo's new and closed versions are tallied in the declaration's block: the
    overview's counts by status equal a recount, in both worlds."""
    assert_tallies_recount(worlds.erroneous.engine)
    assert_tallies_recount(worlds.corrected.engine)


def test_the_erroneous_world_indexed_every_declaration(worlds: Worlds) -> None:
    with worlds.erroneous.engine.connect() as conn:
        declared = conn.scalar(select(func.count()).select_from(ErrorDeclarationRow))
    assert declared == len(CORRECTIONS)


#: The gateway's custody state of an item, as compared (``event_time`` included: the latest
#: eventTime of the events that made it).
GATEWAY_ITEM_COLUMNS = (
    "identifier",
    "status",
    "holder",
    "location",
    "parent",
    "gtin",
    "lot",
    "in_transit_to",
    "commissioned_by",
    "event_time",
)


def gateway_items(world: World) -> dict[str, tuple[Any, ...]]:
    c = ItemRow.__table__.c
    with world.gateway.connect() as conn:
        rows = conn.execute(select(*(c[n] for n in GATEWAY_ITEM_COLUMNS))).all()
    return {row[0]: tuple(map(world.named, row)) for row in rows}


def gateway_quantities(world: World) -> dict[tuple[Any, ...], Any]:
    q = QuantityRow.__table__.c
    with world.gateway.connect() as conn:
        rows = conn.execute(
            select(q.class_id, q.holder, q.in_transit_to, q.uom, func.sum(q.quantity)).group_by(
                q.class_id, q.holder, q.in_transit_to, q.uom
            )
        ).all()
    return {tuple(map(world.named, row[:4])): float(row[4]) for row in rows if float(row[4]) != 0}


def test_the_gateways_custody_ends_as_if_the_corrective_had_been_the_original(
    worlds: Worlds,
) -> None:
    erroneous, corrected = gateway_items(worlds.erroneous), gateway_items(worlds.corrected)
    assert len(corrected) == len(PACKS) + len(CASES) + 1  # and the API lot's record
    assert erroneous == corrected
    assert gateway_quantities(worlds.erroneous) == gateway_quantities(worlds.corrected)
