"""The ``time.backdated`` rule (issue 14, finding 6: back-dated events made the public check lie).

An event may not be older than the current state of the items it names by more than the
tolerance; an item's current state carries the latest eventTime that made it, so small
back-datings within the tolerance cannot add up to a large one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from medledger.custody import RuleViolation, check_document
from medledger.custody.timebounds import TimeBounds
from medledger.epcis.normalise import normalise_events
from tests.medledger.custody.rules_support import (
    DISTRIBUTOR,
    MAKER,
    PHARMACY,
    World,
    dispense,
    pack_dl,
    packs_at_maker,
    receive,
    ship,
)


def dated(event: dict[str, Any], moment: datetime) -> dict[str, Any]:
    return {**event, "eventTime": moment.isoformat().replace("+00:00", "Z")}


def at_pharmacy(world: World) -> tuple[list[str], datetime]:
    """Packs received by the pharmacy; the time of the receipt."""
    packs = packs_at_maker(world, n=2)
    world.submit(MAKER, ship(MAKER, PHARMACY, packs))
    received = receive(MAKER, PHARMACY, packs)
    world.submit(PHARMACY, received)
    return packs, datetime.fromisoformat(received["eventTime"])


def test_a_dispensing_dated_0001_is_refused() -> None:
    world = World()
    packs, _ = at_pharmacy(world)
    long_ago = datetime(1, 1, 1, tzinfo=UTC)
    refused = world.reject(
        PHARMACY, dated(dispense(PHARMACY, packs[:1]), long_ago), rule="time.backdated"
    )
    assert refused.pointer == "/epcisBody/eventList/0/eventTime"
    assert pack_dl(0) in str(refused)
    assert world.store.item(pack_dl(0)).status.value == "active"  # type: ignore[union-attr]


def test_within_the_tolerance_an_event_may_precede_the_state_it_follows() -> None:
    world = World()
    packs, received = at_pharmacy(world)
    world.submit(PHARMACY, dated(dispense(PHARMACY, packs[:1]), received - timedelta(minutes=4)))
    state = world.store.item(pack_dl(0))
    assert state is not None and state.status == "dispensed"
    assert state.event_time == received  # the latest time never moves back


def test_small_back_datings_do_not_add_up() -> None:
    world = World()
    packs = packs_at_maker(world, n=1)
    shipped = ship(MAKER, DISTRIBUTOR, packs)
    world.submit(MAKER, shipped)
    at = datetime.fromisoformat(shipped["eventTime"])
    world.submit(DISTRIBUTOR, dated(receive(MAKER, DISTRIBUTOR, packs), at - timedelta(minutes=4)))
    later = dated(ship(DISTRIBUTOR, PHARMACY, packs), at - timedelta(minutes=8))
    world.reject(DISTRIBUTOR, later, rule="time.backdated")


def test_the_tolerance_is_a_setting() -> None:
    world = World()
    packs, received = at_pharmacy(world)
    events = normalise_events([dated(dispense(PHARMACY, packs[:1]), received - timedelta(days=1))])
    strict = TimeBounds(behind=timedelta(0))
    lenient = TimeBounds(behind=timedelta(days=2))
    assert check_document(events, world.who(PHARMACY), world.store, bounds=lenient)
    with pytest.raises(RuleViolation, match=r"time\.backdated"):
        check_document(events, world.who(PHARMACY), world.store, bounds=strict)
