"""Several molecule-to-pack journeys at once: the demo's journey, renumbered and re-timed.

:func:`numbered_journey` gives journey ``number`` its own packs, cases, lots and API lot (so
journeys anchored side by side never name the same item) and its own pace: each step happens a
random number of hours after the one before, so receipts on a lane take different times and
the transit statistics have something to say.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from medledger.epcis.digital_link import gtin_of
from medledger.epcis.identifiers import canonical_identifier
from provenance.journey import (
    API_LOT,
    FINISHED_LOT,
    MANUFACTURER,
    PACK_ITEM_REF,
    Step,
    build_journey,
)

START = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
#: extra hours between two steps of a journey, drawn per step
DELAYS = (0, 0, 1, 2, 5, 12, 30)


def numbered_journey(
    number: int, rng: random.Random, *, packs: int = 4, packs_per_case: int = 2
) -> list[Step]:
    """The journey's steps with identifiers of journey ``number`` (0 to 999) and random delays
    between steps (eventTimes still in step order, from ``START`` + ``number`` days)."""
    journey = build_journey(packs, packs_per_case=packs_per_case, start=START)
    prefix = MANUFACTURER.company_prefix
    renames = {
        f".{PACK_ITEM_REF}.S": f".{PACK_ITEM_REF}.J{number}S",  # pack serials
        f"sscc:{prefix}.0000": f"sscc:{prefix}.0{number:03d}",  # case serial references
        FINISHED_LOT: f"{FINISHED_LOT}-{number}",
        API_LOT: f"{API_LOT}-{number}",
    }
    shift = timedelta(days=number)
    steps: list[Step] = []
    for step in journey.steps:
        text = json.dumps(step.events)
        for old, new in renames.items():
            text = text.replace(old, new)
        events: list[dict[str, Any]] = json.loads(text)
        shift += timedelta(hours=rng.choice(DELAYS))
        for event in events:
            moment = datetime.fromisoformat(event["eventTime"]) + shift
            event["eventTime"] = moment.isoformat().replace("+00:00", "Z")
        steps.append(Step(step.actor, step.story, events))
    return steps


def finished_lot(number: int) -> tuple[int, str]:
    """The GTIN (as a number) and lot of journey ``number``'s packs (for the recall registry)."""
    pack = canonical_identifier(f"urn:epc:id:sgtin:{MANUFACTURER.company_prefix}.{PACK_ITEM_REF}.X")
    gtin = gtin_of(pack)
    assert gtin is not None
    return int(gtin), f"{FINISHED_LOT}-{number}"
