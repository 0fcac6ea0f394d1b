"""A synthetic supply chain for the index benchmark: batch files, cached, anchored on a node.

``generate`` builds EPCIS events for ``packs`` packs in lots of ``lot_size`` (per lot: the API
maker commissions and ships an API lot; the manufacturer receives it, transforms it into the
finished lot, commissions each pack with ILMD lot/expiry, inspects, commissions cases, packs
them, ships them; the cases go through 2 or 3 custody hops (importer on every other lot,
distributor, pharmacy), each receiving and shipping cases and scanning packs (``accepting``,
``storing``, ``inspecting`` ... observations: they make the ~10 events per pack); the pharmacy
unpacks the cases and dispenses 30% of the packs). Events are cut into batches of at most
``batch_size`` of one participant, in the order they happened, and written as the gateway's
batch files (``0x<root>.json``) with a manifest, in a folder keyed by the parameters so a rerun
reuses them. Participants' keys are derived from the parameters, so the same files can be
anchored on any fresh node (``anchor_all``).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import tempfile
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from chain.client import Chain
from chain.deployment import Deployment, deploy_contracts
from chain.ledger import Ledger
from devkit.constants import REGULATOR_GLN
from indexer.verification import event_digest
from medledger.epcis import builders as epcis
from medledger.epcis.builders import Actor
from medledger.epcis.event_id import EventId
from medledger.merkle import MerkleTree
from provenance.journey import (
    ACTORS,
    API_ITEM_REF,
    API_MAKER,
    DISTRIBUTOR,
    IMPORTER,
    MANUFACTURER,
    PHARMACY,
)

VERSION = 1  # bump when the shape of the data changes (invalidates the cache)
CASE_SIZE = 100
DISPENSED_SHARE = 0.3
OBSERVATIONS = {
    MANUFACTURER.name: ("inspecting", "storing"),
    IMPORTER.name: ("accepting", "inspecting"),
    DISTRIBUTOR.name: ("accepting", "storing", "picking"),
    PHARMACY.name: ("accepting", "storing"),
}
PRODUCT_REFS = ("012345", "054321")  # indicator digit + item reference of two products
CACHE = Path(os.environ.get("PROVENANCE_BENCH_CACHE", Path(tempfile.gettempdir())))


@dataclass(frozen=True)
class Params:
    events: int
    packs: int
    lot_size: int = 10_000
    batch_size: int = 1_000

    @property
    def key(self) -> str:
        return f"v{VERSION}-e{self.events}-p{self.packs}-l{self.lot_size}-b{self.batch_size}"

    @property
    def lots(self) -> int:
        return max(1, -(-self.packs // self.lot_size))


@dataclass(frozen=True)
class BatchRef:
    actor: str
    root: bytes
    count: int


@dataclass
class DataSet:
    folder: Path  # batch files
    params: Params
    batches: list[BatchRef]
    lots: list[tuple[str, str]]  # (gtin, lot)
    packs: list[str]  # a sample of pack URNs (for queries)

    @property
    def events(self) -> int:
        return sum(b.count for b in self.batches)


def account_of(params_key: str, actor: str) -> LocalAccount:
    """The participant's key, derived from the data set (the same on every node)."""
    seed = hashlib.sha256(f"bench-index/{params_key}/{actor}".encode()).digest()
    account: LocalAccount = Account.from_key(seed)
    return account


def _gtin(company_prefix: str, item_ref: str) -> str:
    from medledger.epcis.gs1 import check_digit

    body = item_ref[0] + company_prefix + item_ref[1:]
    return body + str(check_digit(body))


# --- events ----------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.moment = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)

    def tick(self) -> datetime:
        self.moment += timedelta(seconds=1)
        return self.moment


Phase = tuple[Actor, list[dict[str, Any]]]


def lot_phases(params: Params, number: int, clock: Clock) -> Iterator[Phase]:
    """The events of one finished lot, phase by phase (each phase one participant's)."""
    size = _lot_size(params, number)
    item_ref = PRODUCT_REFS[number % len(PRODUCT_REFS)]
    prefix = MANUFACTURER.company_prefix
    lot = f"L{number:05d}"
    api_lot = f"API-{number:05d}"
    expiry = f"{2028 + number % 3}-{1 + number % 12:02d}-28"
    packs = [f"urn:epc:id:sgtin:{prefix}.{item_ref}.{lot}S{i:06d}" for i in range(size)]
    cases = [f"urn:epc:id:sscc:{prefix}.0{number:04d}{c:05d}" for c in range(-(-size // CASE_SIZE))]
    contents = {c: packs[i * CASE_SIZE : (i + 1) * CASE_SIZE] for i, c in enumerate(cases)}
    route = [MANUFACTURER, *([IMPORTER] if number % 2 == 0 else []), DISTRIBUTOR, PHARMACY]
    sites = len(route)
    other = 2 + 2 + 1 + 100  # API lot, transformation, cases; estimate, corrected below
    other += size + len(cases) * (2 + 2 * (sites - 1) + 1) + int(size * DISPENSED_SHARE)
    budget = max(0, params.events * size // params.packs - other)
    per_pack = [budget * (i + 1) // size - budget * i // size for i in range(size)]

    def observations(actor: Actor, site: int) -> list[dict[str, Any]]:
        steps = OBSERVATIONS[actor.name]
        out = []
        for i, pack in enumerate(packs):
            k = per_pack[i] * (site + 1) // sites - per_pack[i] * site // sites
            for j in range(k):
                out.append(
                    epcis.observe(
                        actor,
                        clock.tick(),
                        [pack],
                        biz_step=steps[j % len(steps)],
                        disposition="active",
                    )
                )
        return out

    api_class = f"urn:epc:class:lgtin:{API_MAKER.company_prefix}.{API_ITEM_REF}.{api_lot}"
    api_qty = [{"epcClass": api_class, "quantity": 50.0, "uom": "KGM"}]
    used = [{"epcClass": api_class, "quantity": 12.5, "uom": "KGM"}]
    finished = f"urn:epc:class:lgtin:{prefix}.{item_ref}.{lot}"
    yield (
        API_MAKER,
        [
            epcis.commission(API_MAKER, clock.tick(), quantities=api_qty),
            epcis.ship(API_MAKER, MANUFACTURER, clock.tick(), quantities=api_qty),
        ],
    )
    ilmd = {"cbvmda:lotNumber": lot, "cbvmda:itemExpirationDate": expiry}
    making = [
        epcis.receive(API_MAKER, MANUFACTURER, clock.tick(), quantities=api_qty),
        epcis.transform(
            MANUFACTURER,
            clock.tick(),
            inputs=used,
            output_quantities=[{"epcClass": finished, "quantity": float(size)}],
            ilmd=ilmd,
        ),
    ]
    making += [
        epcis.commission(MANUFACTURER, clock.tick(), epcs=[pack], ilmd=ilmd) for pack in packs
    ]
    making += observations(MANUFACTURER, 0)
    making.append(epcis.commission(MANUFACTURER, clock.tick(), epcs=cases))
    making += [
        epcis.aggregate(MANUFACTURER, clock.tick(), case, children)
        for case, children in contents.items()
    ]
    making += [epcis.ship(MANUFACTURER, route[1], clock.tick(), epcs=[c]) for c in cases]
    yield MANUFACTURER, making
    for site in range(1, sites):
        actor, previous = route[site], route[site - 1]
        events = [epcis.receive(previous, actor, clock.tick(), epcs=[c]) for c in cases]
        events += observations(actor, site)
        if site + 1 < sites:
            events += [epcis.ship(actor, route[site + 1], clock.tick(), epcs=[c]) for c in cases]
        else:
            events += [
                epcis.aggregate(actor, clock.tick(), case, action="DELETE") for case in cases
            ]
            events += [
                epcis.dispense(actor, clock.tick(), [pack])
                for pack in packs[: int(size * DISPENSED_SHARE)]
            ]
        yield actor, events


def batch_document(participant: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    """The gateway's batch JSON for ``events`` (hashes computed, fresh salts)."""
    entries: list[dict[str, Any]] = []
    leaves: list[tuple[bytes, bytes]] = []
    for event in events:
        digest = event_digest(event)
        salt = secrets.token_bytes(32)
        leaves.append((digest, salt))
        entries.append(
            {
                "eventID": EventId(digest).uri,
                "eventHash": "0x" + digest.hex(),
                "salt": "0x" + salt.hex(),
                "event": event,
            }
        )
    tree = MerkleTree.build(leaves)
    return {"root": "0x" + tree.root.hex(), "participant": participant, "events": entries}


def _write_batch(job: tuple[Path, str, str, list[dict[str, Any]]]) -> dict[str, Any]:
    folder, actor, participant, events = job
    document = batch_document(participant, events)
    (folder / f"{document['root']}.json").write_text(json.dumps(document), encoding="utf-8")
    return {"actor": actor, "root": document["root"], "count": len(events)}


def _jobs(params: Params, folder: Path, first_lot: int, lots: int) -> Iterator[Any]:
    clock = Clock()
    clock.moment += timedelta(days=30 * first_lot)
    for number in range(first_lot, first_lot + lots):
        for actor, events in lot_phases(params, number, clock):
            participant = account_of(params.key, actor.name).address
            for i in range(0, len(events), params.batch_size):
                yield folder, actor.name, participant, events[i : i + params.batch_size]


def generate(params: Params, *, workers: int = 2, extra_lots: int = 0) -> DataSet:
    """The data set of ``params``, from the cache or made (hashes on ``workers`` processes).

    ``extra_lots`` more lots (after the main set) are made too, in their own manifest: the
    batches anchored while the steady-state lag is measured."""
    folder = CACHE / f"provenance-bench-index-{params.key}"
    manifest = folder / "manifest.json"
    if not manifest.exists():
        folder.mkdir(parents=True, exist_ok=True)
        with ProcessPoolExecutor(workers) as pool:
            made = list(pool.map(_write_batch, _jobs(params, folder, 0, params.lots), chunksize=4))
        lots = [(_lot_key(params, n)) for n in range(params.lots)]
        manifest.write_text(json.dumps({"batches": made, "lots": lots}), encoding="utf-8")
    return _load(folder, params, manifest)


def generate_extra(params: Params, lots: int, *, workers: int = 2) -> DataSet:
    """Lots after the main set (their events follow it in time), for the steady-state phase."""
    folder = CACHE / f"provenance-bench-index-{params.key}"
    manifest = folder / f"manifest-extra-{lots}.json"
    if not manifest.exists():
        folder.mkdir(parents=True, exist_ok=True)
        first = params.lots
        with ProcessPoolExecutor(workers) as pool:
            made = list(pool.map(_write_batch, _jobs(params, folder, first, lots), chunksize=4))
        keys = [_lot_key(params, n) for n in range(first, first + lots)]
        manifest.write_text(json.dumps({"batches": made, "lots": keys}), encoding="utf-8")
    return _load(folder, params, manifest)


def _lot_size(params: Params, number: int) -> int:
    """Packs in lot ``number`` (lots after the main set, for the lag phase, are full)."""
    if number >= params.lots:
        return params.lot_size
    return min(params.lot_size, params.packs - number * params.lot_size)


def _lot_key(params: Params, number: int) -> tuple[str, str]:
    item_ref = PRODUCT_REFS[number % len(PRODUCT_REFS)]
    return _gtin(MANUFACTURER.company_prefix, item_ref), f"L{number:05d}"


def _load(folder: Path, params: Params, manifest: Path) -> DataSet:
    body = json.loads(manifest.read_text(encoding="utf-8"))
    batches = [
        BatchRef(b["actor"], bytes.fromhex(b["root"][2:]), b["count"]) for b in body["batches"]
    ]
    lots = [(g, lot) for g, lot in body["lots"]]
    prefix = MANUFACTURER.company_prefix
    packs = []
    for number, (_, lot) in enumerate(lots):
        item_ref = PRODUCT_REFS[number % len(PRODUCT_REFS)]
        size = _lot_size(params, number)
        packs += [f"urn:epc:id:sgtin:{prefix}.{item_ref}.{lot}S{i:06d}" for i in range(size)]
    return DataSet(folder, params, batches, lots, packs)


# --- the chain -------------------------------------------------------------------------------


@dataclass
class Anchoring:
    chain: Chain
    deployment: Deployment
    ledger: Ledger
    accounts: dict[str, LocalAccount]


def start_chain(chain: Chain, params: Params) -> Anchoring:
    """Contracts deployed; the journey's actors (keys of the data set) funded and registered."""
    regulator = chain.new_funded_account()
    deployment = deploy_contracts(chain, regulator, REGULATOR_GLN)
    ledger = Ledger(chain, deployment)
    accounts = {}
    for actor in ACTORS:
        account = account_of(params.key, actor.name)
        chain.fund(account.address, 10**21)
        ledger.register_participant(regulator, account.address, actor.roles, int(actor.gln))
        ledger.set_company_prefixes(regulator, account.address, [actor.company_prefix])
        accounts[actor.name] = account
    return Anchoring(chain, deployment, ledger, accounts)


def anchor(anchoring: Anchoring, batch: BatchRef) -> int:
    """Anchor one batch as its participant; the block it was mined in."""
    result = anchoring.ledger.anchor(anchoring.accounts[batch.actor], batch.root, batch.count)
    return int(result.block_number)
