"""A seeded scenario: a realistic network, thousands of packs, and a known set of frauds.

:func:`simulate` registers participants through the gateway's HTTP API (API makers,
manufacturers, a distributor, pharmacies and a hospital per region: each with its name and
region, and its site's location master data declared before its first events), moves lots of
packs from API to patient through it, then injects each kind of fraud ``frauds`` times and
returns the :class:`Case` list: kind, subject and the event that commits the fraud.
Fraudulent actors are registered with ruleSet ``epcis`` (the gateway checks only the schema of
what they send); the mass balance, unusual transit and new route frauds go through the
``pharma`` rules, which do not forbid them. Detection rules: docs/detection.md.

It runs against a running gateway (``provenance simulate --gateway URL --key-file KEY``, the
gateway's batcher anchoring on its own) or in-process (tests: a TestClient and a ``flush``
that anchors what was captured). Every clean lot visits every lane, the first two lots
(``warm-up``) before the others, so once their receipts are indexed no clean receipt opens a
new route: :attr:`Scenario.warmup_observations` is the history a ``new-route`` alert needs.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from medledger.epcis import builders as epcis
from medledger.epcis.builders import Actor, as_document
from medledger.epcis.identifiers import canonical_identifier
from medledger.roles import Role

API_ITEM_REF = "099999"
PACK_ITEM_REF = "012345"
PACKS_PER_CASE = 10
STRENGTH_G = 5  # grams of API per pack
#: In the past: the gateway refuses an eventTime later than its clock (rule ``time.future``), and
#: every step of an item is dated after the one before (``time.backdated``).
#: The ISO 3166-2 regions of the simulated outlets (region ``r``: the ``r``-th, round the list):
#: Bishkek, Chüy, Osh city, Jalal-Abad, Osh, Talas, Naryn, Issyk-Kul, Batken.
REGIONS = ("KG-GB", "KG-C", "KG-GO", "KG-J", "KG-O", "KG-T", "KG-N", "KG-Y", "KG-B")
MAKERS_REGION = "KG-C"  # the plants, near Kant
API_REGION = "IN"  # the API makers abroad: a country code, no subdivision
START = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
SHORT_EXPIRY = "2026-06-30"  # the lot left in stock past its expiry
LONG_EXPIRY = "2029-12-31"
KINDS = (
    "after-end",
    "recommissioned",
    "unauthorised-commissioning",
    "clone",
    "diversion",
    "unknown-code",
    "mass-balance",
    "unusual-transit",
    "new-route",
    "expired-in-stock",
)


class Http(Protocol):
    """``httpx.Client`` or a FastAPI ``TestClient`` (the subset used)."""

    def post(self, url: str, *, json: Any = ..., headers: Any = ...) -> Any: ...


@dataclass(frozen=True)
class Case:
    """One injected fraud: what should be detected, about what, raised by which event."""

    kind: str
    subject: str
    event_id: str | None
    note: str

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "subject": self.subject,
            "eventID": self.event_id,
            "note": self.note,
        }


@dataclass
class Scenario:
    cases: list[Case] = field(default_factory=list)
    events: int = 0
    packs: int = 0
    warmup_observations: int = 0
    observations: int = 0
    addresses: dict[str, str] = field(default_factory=dict)
    clean_packs: set[str] = field(default_factory=set)


class SimulationError(RuntimeError):
    """The gateway refused a step of the scenario."""


@dataclass
class _Site:
    actor: Actor
    region: int
    kind: str


class _Run:
    def __init__(
        self,
        http: Http,
        regulator_key: str,
        *,
        seed: int,
        flush: Callable[[], None],
        report: Callable[[str, int], None] = lambda _what, _count: None,
    ) -> None:
        self.http = http
        self.report = report  # progress: ("participants" | "events", how many more)
        self.regulator = {"Authorization": f"Bearer {regulator_key}"}
        self.rng = random.Random(seed)
        self.flush = flush
        self.keys: dict[str, dict[str, str]] = {}
        self.out = Scenario()
        base = 4_700_000 + (seed % 900) * 100  # company prefixes of this seed
        self._next_prefix = iter(range(base + 1, base + 100))

    # --- gateway --------------------------------------------------------------------------

    def actor(self, name: str, roles: Role, region: str, rule_set: str = "pharma") -> Actor:
        """Register a participant in ``region`` (ISO 3166-2) and declare its site's master data
        (its name, country and region), as a participant would before its first events: the
        dashboard names its places and counts its stock by region."""
        actor = Actor(name, roles, str(next(self._next_prefix)))
        body = actor.registration(ruleSet=rule_set, region=region)
        response = self.http.post("/participants", json=body, headers=self.regulator)
        if response.status_code != 201:
            raise SimulationError(f"registering {name}: {response.status_code} {response.text}")
        self.keys[name] = {"Authorization": f"Bearer {response.json()['apiKey']}"}
        self.out.addresses[name] = response.json()["address"]
        self.report("participants", 1)
        site = as_document([])
        site["epcisHeader"] = {"epcisMasterData": {"vocabularyList": [_site(actor, region)]}}
        declared = self.http.post("/capture", json=site, headers=self.keys[name])
        if declared.status_code != 202:
            raise SimulationError(
                f"{name}'s site master data refused: {declared.status_code} {declared.text}"
            )
        return actor

    def capture(self, actor: Actor, events: list[dict[str, Any]]) -> list[str]:
        ids: list[str] = []
        for start in range(0, len(events), 500):
            part = events[start : start + 500]
            response = self.http.post(
                "/capture", json=as_document(part), headers=self.keys[actor.name]
            )
            if response.status_code != 202:
                raise SimulationError(
                    f"{actor.name} capture refused: {response.status_code} {response.text}"
                )
            ids.extend(response.json()["eventIDs"])
            self.report("events", len(part))
        self.out.events += len(events)
        return ids


def _site(actor: Actor, region: str) -> dict[str, Any]:
    """The BusinessLocation master data of ``actor``'s site: its name, country and region."""
    attributes = {
        "urn:epcglobal:cbv:mda#name": actor.name,
        "urn:epcglobal:cbv:mda#countryCode": region[:2],
    }
    if "-" in region:
        attributes["urn:epcglobal:cbv:mda#state"] = region
    return {
        "type": "urn:epcglobal:epcis:vtype:BusinessLocation",
        "vocabularyElementList": [
            {
                "id": actor.sgln,
                "attributes": [{"id": k, "attribute": v} for k, v in attributes.items()],
            }
        ],
    }


@dataclass
class _Lot:
    maker: Actor
    api: Actor
    api_class: str
    number: str
    start: datetime
    expiry: str
    packs: list[str]
    cases: dict[str, list[str]]


@dataclass
class _Delivery:
    """A case on its way: shipped by ``frm`` at ``shipped``, received ``hours`` later."""

    frm: Actor
    to: Actor
    case: str
    shipped: datetime
    hours: float


def simulate(
    http: Http,
    regulator_key: str,
    *,
    seed: int = 1,
    packs: int = 2000,
    frauds: int = 1,
    regions: int = 2,
    pharmacies_per_region: int = 2,
    flush: Callable[[], None] = lambda: None,
    report: Callable[[str, int], None] = lambda _what, _count: None,
) -> Scenario:
    """Build the network, move ``packs`` packs (rounded up to whole lots), inject ``frauds``
    cases of each kind; the scenario with the injected cases. ``report`` hears of progress:
    ``("participants", 1)`` per registration, ``("events", n)`` per capture."""
    run = _Run(http, regulator_key, seed=seed, flush=flush, report=report)
    rng = run.rng
    tag = f"S{seed}"
    api_makers = [run.actor(f"{tag} API maker {i}", Role.API_MAKER, API_REGION) for i in range(2)]
    makers = [
        run.actor(f"{tag} manufacturer {i}", Role.MANUFACTURER, MAKERS_REGION) for i in range(2)
    ]
    distributors: list[Actor] = []
    outlets: list[list[_Site]] = []
    for r in range(regions):
        where = REGIONS[r % len(REGIONS)]
        distributors.append(run.actor(f"{tag} distributor region {r}", Role.DISTRIBUTOR, where))
        sites = [
            _Site(run.actor(f"{tag} pharmacy {r}.{p}", Role.PHARMACY, where), r, "pharmacy")
            for p in range(pharmacies_per_region)
        ]
        hospital = run.actor(f"{tag} hospital {r}", Role.HOSPITAL, where)
        sites.append(_Site(hospital, r, "hospital"))
        outlets.append(sites)
    rogue_pharmacy = run.actor(f"{tag} rogue pharmacy", Role.PHARMACY, REGIONS[0], "epcis")
    rogue_maker = run.actor(f"{tag} rogue plant", Role.MANUFACTURER, MAKERS_REGION, "epcis")

    # lots: every lot sends one case to each outlet and one to each distributor's stock
    cases_per_lot = sum(len(s) + 1 for s in outlets)
    per_lot = cases_per_lot * PACKS_PER_CASE
    lot_count = max(3, -(-packs // per_lot))
    lots: list[_Lot] = []
    for n in range(lot_count):
        maker = makers[n % 2]
        api = api_makers[n % 2]
        number = f"L{seed}-{n:03d}"
        serials = [
            f"urn:epc:id:sgtin:{maker.company_prefix}.{PACK_ITEM_REF}.{number}-{i:05d}"
            for i in range(per_lot)
        ]
        sscc = [
            f"urn:epc:id:sscc:{maker.company_prefix}.0{n:04d}{c:05d}" for c in range(cases_per_lot)
        ]
        lots.append(
            _Lot(
                maker,
                api,
                f"urn:epc:class:lgtin:{api.company_prefix}.{API_ITEM_REF}.API-{seed}-{n % 2}",
                number,
                START + timedelta(days=3 * n),
                SHORT_EXPIRY if n == lot_count - 1 else LONG_EXPIRY,
                serials,
                {
                    c: serials[i * PACKS_PER_CASE : (i + 1) * PACKS_PER_CASE]
                    for i, c in enumerate(sscc)
                },
            )
        )
    run.out.packs = lot_count * per_lot

    # API: each maker commissions one lot, enough for every batch, and ships it
    need_kg = dict.fromkeys(range(2), 0)
    for n in range(lot_count):
        need_kg[n % 2] += per_lot * STRENGTH_G
    for i in range(2):
        kg = need_kg[i] / 1000 + 5  # 5 kg spare (the mass-balance fraud consumes 1)
        qty = [{"epcClass": lots[i].api_class, "quantity": kg, "uom": "KGM"}]
        at = START - timedelta(days=10)
        run.capture(
            api_makers[i],
            [
                epcis.commission(api_makers[i], at, quantities=qty),
                epcis.ship(api_makers[i], makers[i], at + timedelta(hours=1), quantities=qty),
            ],
        )
        run.flush()
        run.capture(
            makers[i],
            [epcis.receive(api_makers[i], makers[i], at + timedelta(days=2), quantities=qty)],
        )
        run.flush()

    stock: dict[str, list[str]] = {}  # distributor name: its spare cases
    at_outlet: dict[str, list[tuple[_Site, str]]] = {}  # lot: (site, case)
    dispensed: list[tuple[Actor, str, str]] = []  # (by, pack, event id)

    def make(group: list[_Lot]) -> None:
        for lot in group:
            kg = len(lot.packs) * STRENGTH_G / 1000
            run.capture(
                lot.maker,
                [
                    epcis.transform(
                        lot.maker,
                        lot.start,
                        inputs=[{"epcClass": lot.api_class, "quantity": kg, "uom": "KGM"}],
                        output_epcs=lot.packs,
                        ilmd={
                            "cbvmda:lotNumber": lot.number,
                            "cbvmda:itemExpirationDate": lot.expiry,
                            "mpl:apiPerPack": f"{STRENGTH_G} g",
                        },
                    ),
                    epcis.commission(
                        lot.maker, lot.start + timedelta(hours=1), epcs=list(lot.cases)
                    ),
                    *[
                        epcis.aggregate(lot.maker, lot.start + timedelta(hours=2), case, children)
                        for case, children in lot.cases.items()
                    ],
                ],
            )
        run.flush()

    def deliver(deliveries: list[_Delivery]) -> None:
        by_shipper: dict[str, tuple[Actor, list[dict[str, Any]]]] = {}
        by_receiver: dict[str, tuple[Actor, list[dict[str, Any]]]] = {}
        for d in deliveries:
            by_shipper.setdefault(d.frm.name, (d.frm, []))[1].append(
                epcis.ship(d.frm, d.to, d.shipped, epcs=[d.case])
            )
            by_receiver.setdefault(d.to.name, (d.to, []))[1].append(
                epcis.receive(d.frm, d.to, d.shipped + timedelta(hours=d.hours), epcs=[d.case])
            )
        for actor, events in by_shipper.values():
            run.capture(actor, events)
        run.flush()
        for actor, events in by_receiver.values():
            run.capture(actor, events)
        run.flush()
        run.out.observations += len(deliveries)

    def distribute(group: list[_Lot]) -> None:
        to_distributors: list[_Delivery] = []
        to_outlets: list[_Delivery] = []
        for lot in group:
            cases = list(lot.cases)
            for r, distributor in enumerate(distributors):
                mine = [cases.pop() for _ in range(len(outlets[r]) + 1)]
                for case in mine:
                    to_distributors.append(
                        _Delivery(
                            lot.maker,
                            distributor,
                            case,
                            lot.start + timedelta(hours=4),
                            rng.uniform(20, 40),
                        )
                    )
                stock.setdefault(distributor.name, []).append(mine[0])
                for site, case in zip(outlets[r], mine[1:], strict=True):
                    to_outlets.append(
                        _Delivery(
                            distributor,
                            site.actor,
                            case,
                            lot.start + timedelta(days=2),
                            rng.uniform(6, 12),
                        )
                    )
                    at_outlet.setdefault(lot.number, []).append((site, case))
        deliver(to_distributors)
        deliver(to_outlets)
        for lot in group:
            by_site: dict[str, tuple[Actor, list[dict[str, Any]]]] = {}
            for site, case in at_outlet[lot.number]:
                for pack in lot.cases[case][: rng.randint(1, 3)]:
                    moment = lot.start + timedelta(days=3, hours=rng.uniform(0, 20))
                    by_site.setdefault(site.actor.name, (site.actor, []))[1].append(
                        epcis.dispense(site.actor, moment, [pack])
                    )
            for actor, events in by_site.values():
                for event, eid in zip(events, run.capture(actor, events), strict=True):
                    dispensed.append((actor, event["epcList"][0], eid))
        run.flush()

    warmup = lots[:2]
    make(warmup)
    distribute(warmup)
    run.out.warmup_observations = run.out.observations
    make(lots[2:])
    distribute(lots[2:])
    for lot in lots:
        run.out.clean_packs.update(canonical_identifier(p) for p in lot.packs)

    _inject(
        run,
        frauds,
        lots,
        distributors,
        outlets,
        stock,
        at_outlet,
        dispensed,
        rogue_pharmacy,
        rogue_maker,
    )
    return run.out


def _inject(
    run: _Run,
    frauds: int,
    lots: list[_Lot],
    distributors: list[Actor],
    outlets: list[list[_Site]],
    stock: dict[str, list[str]],
    at_outlet: dict[str, list[tuple[_Site, str]]],
    dispensed: list[tuple[Actor, str, str]],
    rogue_pharmacy: Actor,
    rogue_maker: Actor,
) -> None:
    rng = run.rng
    late = max(lot.start for lot in lots) + timedelta(days=20)
    cases = run.out.cases
    dispensed_packs = {p for _, p, _ in dispensed}
    in_stock: list[tuple[_Site, str]] = []  # (outlet, pack) not dispensed
    for lot in lots[:-1]:
        for site, case in at_outlet[lot.number]:
            in_stock.extend((site, p) for p in lot.cases[case] if p not in dispensed_packs)
    rng.shuffle(in_stock)
    pharmacy_stock = [(s, p) for s, p in in_stock if s.kind == "pharmacy"]
    hospital_stock = [(s, p) for s, p in in_stock if s.kind == "hospital"]
    rogue_events: list[tuple[str, str, str, dict[str, Any]]] = []  # kind, subject, note, event

    for i in range(frauds):
        moment = late + timedelta(hours=i)
        by, pack, _ = dispensed[i]
        rogue_events.append(
            (
                "after-end",
                pack,
                f"dispensed by {by.name}, sold again",
                epcis.dispense(rogue_pharmacy, moment, [pack]),
            )
        )
        site, held = pharmacy_stock.pop()
        rogue_events.append(
            (
                "clone",
                held,
                f"in stock at {site.actor.name}, sold by the rogue",
                epcis.dispense(rogue_pharmacy, moment, [held]),
            )
        )
        hospital, kept = hospital_stock.pop()
        rogue_events.append(
            (
                "diversion",
                kept,
                f"received by {hospital.actor.name}",
                epcis.receive(hospital.actor, rogue_pharmacy, moment, epcs=[kept]),
            )
        )
        unknown = lots[0].packs[0].rsplit(".", 1)[0] + f".FAKE{i:05d}"
        rogue_events.append(
            (
                "unknown-code",
                unknown,
                "a serial never commissioned",
                epcis.observe(rogue_pharmacy, moment, [unknown]),
            )
        )
    for i in range(frauds):
        copied = lots[1].packs[-1 - i]
        event = epcis.commission(
            rogue_maker,
            late + timedelta(hours=i),
            epcs=[copied],
            ilmd={"cbvmda:lotNumber": "COPY", "cbvmda:itemExpirationDate": LONG_EXPIRY},
        )
        [eid] = run.capture(rogue_maker, [event])
        cases.append(
            Case(
                "recommissioned",
                canonical_identifier(copied),
                eid,
                "a genuine serial printed again by the rogue plant",
            )
        )
        cases.append(
            Case(
                "unauthorised-commissioning",
                canonical_identifier(copied),
                eid,
                "the rogue plant commissions a product under another company's prefix",
            )
        )
    events = [e for _, _, _, e in rogue_events]
    for (kind, subject, note, _), eid in zip(
        rogue_events, run.capture(rogue_pharmacy, events), strict=True
    ):
        cases.append(Case(kind, canonical_identifier(subject), eid, note))

    # mass balance: a manufacturer claims three times the packs its API makes
    maker = lots[0].maker
    for i in range(frauds):
        serials = [
            f"urn:epc:id:sgtin:{maker.company_prefix}.{PACK_ITEM_REF}.OVER{i}-{n:04d}"
            for n in range(60)
        ]
        over = f"OVER-{i}"
        [eid] = run.capture(
            maker,
            [
                epcis.transform(
                    maker,
                    late + timedelta(hours=i),
                    inputs=[
                        {
                            "epcClass": lots[0].api_class,
                            "quantity": 60 * STRENGTH_G / 3000,
                            "uom": "KGM",
                        }
                    ],
                    output_epcs=serials,
                    ilmd={
                        "cbvmda:lotNumber": over,
                        "cbvmda:itemExpirationDate": LONG_EXPIRY,
                        "mpl:apiPerPack": f"{STRENGTH_G} g",
                    },
                )
            ],
        )
        gtin = canonical_identifier(serials[0]).split("/")[4]
        cases.append(
            Case(
                "mass-balance",
                f"https://id.gs1.org/01/{gtin}/10/{over}",
                eid,
                "60 packs from the API of 20",
            )
        )
    run.flush()

    # slow and new routes: a distributor's spare cases, shipped late
    deliveries: list[tuple[str, Actor, Actor, str, float]] = []
    for i in range(frauds):
        distributor = distributors[0]
        spare = stock[distributor.name]
        usual = outlets[0][0].actor
        deliveries.append(("unusual-transit", distributor, usual, spare.pop(), 24 * 25))
        foreign = outlets[-1][i % len(outlets[-1])].actor  # a new lane each time
        deliveries.append(("new-route", distributor, foreign, spare.pop(), 10))
    shipped: list[dict[str, Any]] = []
    for n, (_, frm, to, case, _) in enumerate(deliveries):
        shipped.append(epcis.ship(frm, to, late + timedelta(hours=n), epcs=[case]))
    run.capture(distributors[0], shipped)
    run.flush()
    for n, (kind, frm, to, case, hours) in enumerate(deliveries):
        moment = late + timedelta(hours=n + hours)
        [eid] = run.capture(to, [epcis.receive(frm, to, moment, epcs=[case])])
        gtin = _gtin_of_case(lots, case)
        cases.append(
            Case(
                kind,
                f"https://id.gs1.org/01/{gtin}",
                eid,
                f"{case} from {frm.name} to {to.name}, {hours:g} h in transit",
            )
        )
    run.flush()
    last = lots[-1]
    cases.append(
        Case(
            "expired-in-stock",
            f"https://id.gs1.org/01/{_gtin(last.packs[0])}/10/{last.number}",
            None,
            f"lot {last.number} expires {SHORT_EXPIRY}",
        )
    )


def _gtin(epc: str) -> str:
    return canonical_identifier(epc).split("/")[4]


def _gtin_of_case(lots: list[_Lot], case: str) -> str:
    for lot in lots:
        if case in lot.cases:
            return _gtin(lot.packs[0])
    raise KeyError(case)


def run_against(
    gateway_url: str,
    regulator_key: str,
    *,
    seed: int,
    packs: int,
    frauds: int,
    report: Callable[[str, int], None] = lambda _what, _count: None,
) -> Scenario:
    """:func:`simulate` over HTTP against a running gateway (its batcher anchors)."""
    import httpx

    with httpx.Client(base_url=gateway_url, timeout=120) as client:
        return simulate(client, regulator_key, seed=seed, packs=packs, frauds=frauds, report=report)
