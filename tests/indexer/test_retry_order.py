"""Held-back events re-tried in an order that depends on nothing but the events.

A receipt of two cases never commissioned is held back once per case, with the same eventTime
and sequence number. When the cases are commissioned both are re-tried, each taking the next
sequence number of the batch: which case takes which must not depend on the order the
database happened to return the held-back rows in (a live index and a fresh one, PostgreSQL
and SQLite, or one plan and another, would otherwise number the same versions differently).
"""

from __future__ import annotations

from collections.abc import Iterable

from indexer.projection import (
    EventContext,
    Held,
    HoldingKey,
    HoldingState,
    ItemState,
    PendingEvent,
    Projector,
    SeqSlots,
)
from medledger.epcis.identifiers import canonical_identifier
from medledger.epcis.normalise import NormalisedEvent, normalise_event
from provenance.journey import IMPORTER, MANUFACTURER

MAKER, IMPORTER_ADDRESS = "0x" + "11" * 20, "0x" + "22" * 20
CASES = [f"urn:epc:id:sscc:{MANUFACTURER.company_prefix}.000000000{n}" for n in (1, 2)]


class Reader:
    """Nothing stored but the held-back receipt's two rows, in the order given."""

    def __init__(self, pending: list[PendingEvent]) -> None:
        self._pending = pending

    def items(self, identifiers: Iterable[str]) -> dict[str, ItemState]:
        return {}

    def children(self, parents: Iterable[str]) -> dict[str, list[str]]:
        return {}

    def holding(self, key: HoldingKey) -> HoldingState | None:
        return None

    def participant_by_gln(self, gln: str) -> str | None:
        return {MANUFACTURER.gln: MAKER, IMPORTER.gln: IMPORTER_ADDRESS}.get(gln)

    def lots(self, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        return set()

    def roles(self, address: str) -> int:
        return 0

    def pending(self, identifiers: Iterable[str]) -> list[PendingEvent]:
        return list(self._pending)


def event(**fields: object) -> NormalisedEvent:
    return normalise_event({"type": "ObjectEvent", "eventTimeZoneOffset": "+00:00", **fields}, 0)


COMMISSIONING = event(
    action="ADD",
    bizStep="commissioning",
    disposition="active",
    epcList=CASES,
    eventTime="2026-11-02T09:00:00Z",
    bizLocation={"id": MANUFACTURER.sgln},
)
RECEIPT = event(
    action="OBSERVE",
    bizStep="receiving",
    disposition="in_progress",
    epcList=CASES,
    eventTime="2026-11-02T12:00:00Z",
    bizLocation={"id": IMPORTER.sgln},
    sourceList=[{"type": "owning_party", "source": MANUFACTURER.pgln}],
    destinationList=[{"type": "owning_party", "destination": IMPORTER.pgln}],
)


def held_receipt(order: list[str]) -> list[PendingEvent]:
    return [
        PendingEvent(
            Held(b"\x02" * 32, canonical_identifier(case), "unknown-code", 10, RECEIPT.event_time),
            RECEIPT,
            IMPORTER_ADDRESS,
        )
        for case in order
    ]


def versions_after_retry(order: list[str]) -> list[tuple[str, int]]:
    held = held_receipt(order)
    projector = Projector(Reader(held), [COMMISSIONING])
    projector.apply(COMMISSIONING, EventContext(b"\x01" * 32, 20, MAKER))
    projector.retry(SeqSlots(21, 100))
    assert [outcome for _, outcome in projector.out.resolved] == ["applied", "applied"]
    return sorted(
        (identifier, v.seq)
        for identifier, versions in projector.out.item_versions.items()
        for v in versions
    )


def test_two_held_back_rows_of_one_event_are_retried_in_the_same_order_whatever_order_read() -> (
    None
):
    assert versions_after_retry(CASES) == versions_after_retry(CASES[::-1])


def unknown_codes_when_settled(order: list[str]) -> list[tuple[str, int]]:
    held = held_receipt(order)
    projector = Projector(Reader(held), [])
    projector.settle(held, SeqSlots(21, 100))
    return sorted((a.subject, a.seq) for a in projector.out.anomalies)


def test_two_held_back_rows_of_one_event_settle_in_the_same_order_whatever_order_read() -> None:
    assert unknown_codes_when_settled(CASES) == unknown_codes_when_settled(CASES[::-1])
