"""A small, realistic molecule-to-pack journey as GS1 EPCIS 2.0 events, for the demo.

Company prefixes, GTINs, GLNs and SSCCs below are made up but carry valid GS1 check digits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from medledger.epcis.gs1 import check_digit
from medledger.roles import Role

EPCIS_CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]
#: The project's extension namespace (docs/origin.md): ``mpl:apiPerPack`` in the ILMD.
MPL_NAMESPACE = "https://ns.medicine-provenance-ledger.org/epcis/"


def gln(company_prefix: str, location: str) -> str:
    body = (company_prefix + location).ljust(12, "0")[:12]
    return body + str(check_digit(body))


@dataclass(frozen=True)
class Actor:
    """A participant in the story: who it is, its roles, and its GLN."""

    name: str
    roles: Role
    company_prefix: str

    @property
    def gln(self) -> str:
        return gln(self.company_prefix, "1")

    @property
    def sgln(self) -> str:
        prefix = self.company_prefix
        return f"urn:epc:id:sgln:{prefix}.{self.gln[len(prefix) : 12]}.0"

    @property
    def pgln(self) -> str:
        prefix = self.company_prefix
        return f"urn:epc:id:pgln:{prefix}.{self.gln[len(prefix) : 12]}"

    def registration(self, **extra: Any) -> dict[str, Any]:
        """The body of ``POST /participants`` registering this actor, with its company prefix
        (the products it may commission: docs/security.md#commissioning-authority)."""
        return {
            "name": self.name,
            "roles": self.roles.names(),
            "gln": self.gln,
            "companyPrefixes": [self.company_prefix],
            **extra,
        }


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

    def at() -> dict[str, str]:
        moment = clock + timedelta(hours=next(counter))
        return {
            "eventTime": moment.isoformat().replace("+00:00", "Z"),
            "eventTimeZoneOffset": "+00:00",
        }

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

    def transfer(
        kind: str,
        frm: Actor,
        to: Actor,
        epcs: list[str] | None = None,
        quantities: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        shipping = kind == "shipping"
        event: dict[str, Any] = {
            "type": "ObjectEvent",
            **at(),
            "action": "OBSERVE",
            "bizStep": kind,
            "disposition": "in_transit" if shipping else "in_progress",
            "readPoint": {"id": (frm if shipping else to).sgln},
            "sourceList": [{"type": "owning_party", "source": frm.pgln}],
            "destinationList": [{"type": "owning_party", "destination": to.pgln}],
        }
        if epcs:
            event["epcList"] = epcs
        if quantities:
            event["quantityList"] = quantities
        if not shipping:
            event["bizLocation"] = {"id": to.sgln}
        return event

    def at_site(actor: Actor, **fields: Any) -> dict[str, Any]:
        return {
            **fields,
            **at(),
            "readPoint": {"id": actor.sgln},
            "bizLocation": {"id": actor.sgln},
        }

    api_qty = [{"epcClass": api_class, "quantity": 50.0, "uom": "KGM"}]
    used_qty = [{"epcClass": api_class, "quantity": API_USED_KG, "uom": "KGM"}]
    first_case = cases[0]
    steps = [
        Step(
            API_MAKER,
            f"commissions API lot {API_LOT}: 50 kg of paracetamol",
            [
                at_site(
                    API_MAKER,
                    type="ObjectEvent",
                    action="ADD",
                    bizStep="commissioning",
                    disposition="active",
                    quantityList=api_qty,
                ),
            ],
        ),
        Step(
            API_MAKER,
            "ships the API lot to the manufacturer",
            [transfer("shipping", API_MAKER, MANUFACTURER, quantities=api_qty)],
        ),
        Step(
            MANUFACTURER,
            "receives the API lot",
            [transfer("receiving", API_MAKER, MANUFACTURER, quantities=api_qty)],
        ),
        Step(
            MANUFACTURER,
            f"transforms 12.5 kg of API into batch {FINISHED_LOT} of {pack_count} packs",
            [
                at_site(
                    MANUFACTURER,
                    type="TransformationEvent",
                    bizStep="commissioning",
                    disposition="active",
                    inputQuantityList=used_qty,
                    outputEPCList=packs,
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
                at_site(
                    MANUFACTURER,
                    type="ObjectEvent",
                    action="ADD",
                    bizStep="commissioning",
                    disposition="active",
                    epcList=cases,
                ),
                *[
                    at_site(
                        MANUFACTURER,
                        type="AggregationEvent",
                        action="ADD",
                        bizStep="packing",
                        disposition="in_progress",
                        parentID=case,
                        childEPCs=children,
                    )
                    for case, children in contents.items()
                ],
            ],
        ),
        Step(
            MANUFACTURER,
            "ships the cases to the importer",
            [transfer("shipping", MANUFACTURER, IMPORTER, epcs=cases)],
        ),
        Step(
            IMPORTER,
            "receives the cases at the border",
            [transfer("receiving", MANUFACTURER, IMPORTER, epcs=cases)],
        ),
        Step(
            IMPORTER,
            "ships the cases to the distributor",
            [transfer("shipping", IMPORTER, DISTRIBUTOR, epcs=cases)],
        ),
        Step(
            DISTRIBUTOR,
            "receives the cases",
            [transfer("receiving", IMPORTER, DISTRIBUTOR, epcs=cases)],
        ),
        Step(
            DISTRIBUTOR,
            "ships one case to the pharmacy",
            [transfer("shipping", DISTRIBUTOR, PHARMACY, epcs=[first_case])],
        ),
        Step(
            PHARMACY,
            "receives the case",
            [transfer("receiving", DISTRIBUTOR, PHARMACY, epcs=[first_case])],
        ),
        Step(
            PHARMACY,
            "dispenses one pack to a patient",
            [
                at_site(
                    PHARMACY,
                    type="ObjectEvent",
                    action="DELETE",
                    bizStep="dispensing",
                    disposition="dispensed",
                    epcList=[packs[0]],
                ),
            ],
        ),
    ]
    return Journey(steps=steps, dispensed_pack=packs[0], packs=packs, api_class=api_class)


def as_document(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Wrap events in an EPCISDocument, as a participant would send them to the gateway."""
    return {
        "@context": [*EPCIS_CONTEXT, {"mpl": MPL_NAMESPACE}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-26T00:00:00Z",
        "epcisBody": {"eventList": events},
    }
