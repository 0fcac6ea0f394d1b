"""A small, realistic molecule-to-pack journey as GS1 EPCIS 2.0 events, for the demo.

Company prefixes, GTINs, GLNs and SSCCs below are made up but carry valid GS1 check digits.
The events come from :mod:`medledger.epcis.builders`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from medledger.epcis import builders as epcis
from medledger.epcis.builders import Actor
from medledger.roles import Role

API_MAKER = Actor("Hetero API Works (API maker)", Role.API_MAKER, "8901234")
MANUFACTURER = Actor("Bishkek Pharma Plant (manufacturer)", Role.MANUFACTURER, "4700123")
IMPORTER = Actor("Dordoi Med Import (importer)", Role.IMPORTER, "4700321")
DISTRIBUTOR = Actor("Tian Shan Distribution (distributor)", Role.DISTRIBUTOR, "4700456")
PHARMACY = Actor("Ala-Too Pharmacy No. 7 (pharmacy)", Role.PHARMACY, "4700789")
ACTORS = (API_MAKER, MANUFACTURER, IMPORTER, DISTRIBUTOR, PHARMACY)

API_ITEM_REF = "099999"  # indicator digit + LGTIN item reference of the API (paracetamol, KGM)
PACK_ITEM_REF = "012345"  # indicator digit + SGTIN item reference of the finished pack
API_LOT = "APIL-2026-0042"
FINISHED_LOT = "B2026-117"
API_USED_KG = 12.5


@dataclass(frozen=True)
class Step:
    """One capture: a participant sends one EPCISDocument; ``story`` says what happened."""

    actor: Actor
    story: str
    events: list[dict[str, Any]]


@dataclass
class Journey:
    """The story in order, one capture per step."""

    steps: list[Step]
    dispensed_pack: str
    packs: list[str]
    api_class: str

    @property
    def events(self) -> dict[str, list[dict[str, Any]]]:
        """Events grouped by the participant that performs (and so anchors) them."""
        grouped: dict[str, list[dict[str, Any]]] = {a.name: [] for a in ACTORS}
        for step in self.steps:
            grouped[step.actor.name].extend(step.events)
        return grouped


def build_journey(
    pack_count: int = 20, *, packs_per_case: int = 10, start: datetime | None = None
) -> Journey:
    """API lot → finished batch of ``pack_count`` packs in cases → importer → distributor →
    pharmacy, which dispenses one pack."""
    clock = start or datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    counter = iter(range(1, 10_000))

    def at() -> datetime:
        return clock + timedelta(hours=next(counter))

    api_class = f"urn:epc:class:lgtin:{API_MAKER.company_prefix}.{API_ITEM_REF}.{API_LOT}"
    packs = [
        f"urn:epc:id:sgtin:{MANUFACTURER.company_prefix}.{PACK_ITEM_REF}.{serial}"
        for serial in (f"S{n:08d}" for n in range(1, pack_count + 1))
    ]
    # SSCC: company prefix + extension digit + serial reference = 17 digits.
    case_count = max(1, -(-pack_count // packs_per_case))
    cases = [
        f"urn:epc:id:sscc:{MANUFACTURER.company_prefix}.0{n:09d}" for n in range(1, case_count + 1)
    ]
    contents = {
        case: packs[i * packs_per_case : (i + 1) * packs_per_case] for i, case in enumerate(cases)
    }
    api_qty = [{"epcClass": api_class, "quantity": 50.0, "uom": "KGM"}]
    used_qty = [{"epcClass": api_class, "quantity": API_USED_KG, "uom": "KGM"}]
    first_case = cases[0]
    steps = [
        Step(
            API_MAKER,
            f"commissions API lot {API_LOT}: 50 kg of paracetamol",
            [
                epcis.commission(API_MAKER, at(), quantities=api_qty),
            ],
        ),
        Step(
            API_MAKER,
            "ships the API lot to the manufacturer",
            [epcis.ship(API_MAKER, MANUFACTURER, at(), quantities=api_qty)],
        ),
        Step(
            MANUFACTURER,
            "receives the API lot",
            [epcis.receive(API_MAKER, MANUFACTURER, at(), quantities=api_qty)],
        ),
        Step(
            MANUFACTURER,
            f"transforms 12.5 kg of API into batch {FINISHED_LOT} of {pack_count} packs",
            [
                epcis.transform(
                    MANUFACTURER,
                    at(),
                    inputs=used_qty,
                    output_epcs=packs,
                    ilmd={
                        "cbvmda:lotNumber": FINISHED_LOT,
                        "cbvmda:itemExpirationDate": "2028-10-31",
                        # API content of one pack: the 12.5 kg spread over the batch
                        "mpl:apiPerPack": f"{API_USED_KG * 1000 / pack_count:g} g",
                    },
                ),
            ],
        ),
        Step(
            MANUFACTURER,
            f"commissions {case_count} cases and packs the packs into them",
            [
                # SSCCs are commissioned before packs go in (pharma: commissioned once, first)
                epcis.commission(MANUFACTURER, at(), epcs=cases),
                *[
                    epcis.aggregate(MANUFACTURER, at(), case, children)
                    for case, children in contents.items()
                ],
            ],
        ),
        Step(
            MANUFACTURER,
            "ships the cases to the importer",
            [epcis.ship(MANUFACTURER, IMPORTER, at(), epcs=cases)],
        ),
        Step(
            IMPORTER,
            "receives the cases at the border",
            [epcis.receive(MANUFACTURER, IMPORTER, at(), epcs=cases)],
        ),
        Step(
            IMPORTER,
            "ships the cases to the distributor",
            [epcis.ship(IMPORTER, DISTRIBUTOR, at(), epcs=cases)],
        ),
        Step(
            DISTRIBUTOR,
            "receives the cases",
            [epcis.receive(IMPORTER, DISTRIBUTOR, at(), epcs=cases)],
        ),
        Step(
            DISTRIBUTOR,
            "ships one case to the pharmacy",
            [epcis.ship(DISTRIBUTOR, PHARMACY, at(), epcs=[first_case])],
        ),
        Step(
            PHARMACY,
            "receives the case",
            [epcis.receive(DISTRIBUTOR, PHARMACY, at(), epcs=[first_case])],
        ),
        Step(
            PHARMACY,
            "dispenses one pack to a patient",
            [
                epcis.dispense(PHARMACY, at(), [packs[0]]),
            ],
        ),
    ]
    return Journey(steps=steps, dispensed_pack=packs[0], packs=packs, api_class=api_class)
