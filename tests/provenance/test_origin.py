"""Origin proofs: `provenance origin-proof` gathers an origin bundle from the gateway and the
indexer; `provenance verify` checks its receipts, its links and the mass balance."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rich.console import Console
from typer.testing import CliRunner

from chain.client import Chain
from devkit.nodes import available, running_node
from indexer.api.app import create_app as create_indexer_app
from indexer.queries.trace import trace
from indexer.service import IndexerService
from provenance.cli import app
from provenance.journey import FINISHED_LOT, Journey, build_journey
from provenance.origin import (
    ROLE_API_LOT,
    ROLE_TRANSFORMATION,
    OriginError,
    build_bundle,
    compute_mass_balance,
    parse_bundle,
    parse_strength,
    parse_tolerance,
    verify_bundle,
)
from provenance.origin_command import write_origin_proof
from provenance.origin_http import HttpGateway, HttpIndexer
from provenance.verify import canonical_event_digest
from tests.support.network import Network, start_network

runner = CliRunner()
PACKS = 100  # the journey's 12.5 kg of API make 100 packs of 125 g
LOT_CLASS = f"urn:epc:class:lgtin:4700123.012345.{FINISHED_LOT}"


class QueryIndexer:
    """The indexer's trace query function, as an IndexerClient."""

    def __init__(self, service: IndexerService) -> None:
        self.service = service

    def trace(self, identifier: str) -> dict[str, Any]:
        with self.service.sessions() as session:
            return trace(session, identifier)


@dataclass
class World:
    network: Network
    journey: Journey
    indexer: IndexerService

    @property
    def gateway(self) -> HttpGateway:
        return HttpGateway(self.network.http, self.network.regulator["Authorization"][7:])

    def bundle(self, identifier: str, **options: Any) -> dict[str, Any]:
        return build_bundle(identifier, self.gateway, QueryIndexer(self.indexer), **options)


def make_world(data: Path, journey: Journey, chain: Chain | None = None) -> Iterator[World]:
    network = start_network(data / "gateway", chain=chain)
    for step in journey.steps:
        network.capture(step.actor, step.events)
        network.anchor()
    service = network.indexer(f"sqlite:///{data}/indexer.db", data / "indexer")
    service.catch_up()
    yield World(network, journey, service)
    service.stop()
    network.gateway.stop()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The demo journey (100 packs, cases of 25) captured, anchored and indexed."""
    yield from make_world(
        tmp_path_factory.mktemp("origin"), build_journey(PACKS, packs_per_case=25)
    )


@pytest.fixture(scope="module")
def overclaimed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The same journey, but the manufacturer states 250 g of API per pack: 12.5 kg make 50
    packs (52 with 5% tolerance), and the transformation claims 100."""
    journey = build_journey(PACKS, packs_per_case=25)
    for step in journey.steps:
        for event in step.events:
            if event["type"] == "TransformationEvent":
                event["ilmd"]["mpl:apiPerPack"] = "250 g"
    yield from make_world(tmp_path_factory.mktemp("overclaimed"), journey)


@pytest.fixture(scope="module")
def pack_bundle(world: World) -> dict[str, Any]:
    return world.bundle(world.journey.dispensed_pack)


def write(path: Path, document: Any) -> str:
    path.write_text(json.dumps(document, indent=2))
    return str(path)


def entry(bundle: dict[str, Any], role: str) -> dict[str, Any]:
    found: dict[str, Any] = next(e for e in bundle["receipts"] if e["role"] == role)
    return found


# --- the genuine bundle -----------------------------------------------------------------------


def test_the_bundle_of_the_dispensed_pack_links_it_to_its_api_lot(
    world: World, pack_bundle: dict[str, Any]
) -> None:
    assert pack_bundle["type"] == "origin-bundle" and pack_bundle["version"] == 1
    assert pack_bundle["subject"]["kind"] == "pack"
    assert pack_bundle["subject"]["lot"] == FINISHED_LOT
    roles = [e["role"] for e in pack_bundle["receipts"]]
    assert roles == [ROLE_TRANSFORMATION, ROLE_API_LOT]  # the pack was made by the transformation
    transformation = entry(pack_bundle, ROLE_TRANSFORMATION)
    assert pack_bundle["producedBy"] == transformation["eventID"]
    api = entry(pack_bundle, ROLE_API_LOT)
    assert api["lot"].endswith("/10/APIL-2026-0042")
    assert api["maker"] == world.network.addresses["Hetero API Works (API maker)"]
    assert api["receipt"]["event"]["bizStep"] == "commissioning"
    assert pack_bundle["massBalance"] | {"apiPerPack": None} == {
        "apiConsumedKg": "12.5",
        "packsProduced": PACKS,
        "apiPerPack": None,
        "apiRequiredKg": "12.5",
        "tolerance": "0.05",
        "apiLimitKg": "13.125",
        "maxPacks": 105,
        "withinTolerance": True,
    }
    assert pack_bundle["massBalance"]["apiPerPack"] == [{"value": "125 g", "source": "ilmd"}]


def test_verify_accepts_the_bundle_offline_with_exit_code_0(
    pack_bundle: dict[str, Any], tmp_path: Path
) -> None:
    result = runner.invoke(app, ["verify", write(tmp_path / "origin.json", pack_bundle)])
    assert result.exit_code == 0, result.output
    assert "VALID" in result.output and "1 of 1 origin bundles valid" in result.output
    assert "100 packs at 125 g (ilmd)" in result.output


def test_the_bundle_verifies_on_the_chain(world: World, pack_bundle: dict[str, Any]) -> None:
    verdict = verify_bundle(
        parse_bundle(pack_bundle),
        chain=world.network.chain,
        event_hasher=canonical_event_digest,
    )
    assert verdict.valid, verdict
    for _entry, receipt_verdict in verdict.receipts:
        names = {c.name for c in receipt_verdict.checks}
        assert {"anchored by", "transaction", "contract verifyEvent"} <= names


@pytest.mark.parametrize(
    "identifier",
    ["urn:epc:id:sscc:4700123.0000000001", LOT_CLASS, "(01)04700123123452(21)S00000002"],
    ids=["case", "batch", "element-string"],
)
def test_cases_batches_and_element_strings_have_valid_bundles(
    world: World, identifier: str
) -> None:
    bundle = world.bundle(identifier)
    verdict = verify_bundle(parse_bundle(bundle), event_hasher=canonical_event_digest)
    assert verdict.valid, verdict
    if identifier.startswith("urn:epc:id:sscc"):
        assert {e["role"] for e in bundle["receipts"]} == {
            "item",
            "packing",
            ROLE_TRANSFORMATION,
            ROLE_API_LOT,
        }


def test_origin_proof_over_http_writes_the_bundle(world: World, tmp_path: Path) -> None:
    key = world.indexer.settings.resolved_bootstrap_api_key_file.read_text().strip()
    with TestClient(create_indexer_app(world.indexer, follow=False)) as indexer_http:
        out = tmp_path / "out" / "origin.json"
        code = write_origin_proof(
            world.journey.dispensed_pack,
            world.gateway,
            HttpIndexer(indexer_http, key),
            out=out,
            api_per_pack=None,
            tolerance=parse_tolerance("5%"),
            console=Console(record=True, width=200),
        )
    assert code == 0
    written = json.loads(out.read_text())
    assert written["subject"]["identifier"].endswith("/21/S00000001")
    assert runner.invoke(app, ["verify", str(out)]).exit_code == 0


def test_origin_proof_of_an_unknown_pack_is_unusable(world: World, tmp_path: Path) -> None:
    key = world.indexer.settings.resolved_bootstrap_api_key_file.read_text().strip()
    with TestClient(create_indexer_app(world.indexer, follow=False)) as indexer_http:
        code = write_origin_proof(
            "urn:epc:id:sgtin:4700123.012345.NOSUCHPACK",
            world.gateway,
            HttpIndexer(indexer_http, key),
            out=tmp_path / "origin.json",
            api_per_pack=None,
            tolerance=parse_tolerance("5%"),
            console=Console(record=True, width=200),
        )
    assert code == 2
    assert not (tmp_path / "origin.json").exists()


# --- mass balance ---------------------------------------------------------------------------


def test_more_packs_than_the_api_can_make_is_a_mass_balance_violation(
    overclaimed: World, tmp_path: Path
) -> None:
    bundle = overclaimed.bundle(overclaimed.journey.dispensed_pack)
    assert bundle["massBalance"]["withinTolerance"] is False
    assert bundle["massBalance"]["maxPacks"] == 52
    # the summary is not trusted: a forged "within tolerance" changes nothing
    bundle["massBalance"]["withinTolerance"] = True
    result = runner.invoke(app, ["verify", write(tmp_path / "origin.json", bundle)])
    assert result.exit_code == 1, result.output
    assert "MASS-BALANCE VIOLATION" in result.output
    assert f"batch {FINISHED_LOT}" in result.output and "enough for 52 packs" in result.output
    # every receipt and link is genuine: only the mass balance fails
    verdict = verify_bundle(parse_bundle(bundle), event_hasher=canonical_event_digest)
    assert verdict.violation and all(c.ok for c in verdict.links)


def test_the_verifier_can_state_the_registered_strength(
    pack_bundle: dict[str, Any], tmp_path: Path
) -> None:
    path = write(tmp_path / "origin.json", pack_bundle)
    result = runner.invoke(app, ["verify", path, "--api-per-pack", "140g"])
    assert result.exit_code == 1 and "MASS-BALANCE VIOLATION" in result.output
    result = runner.invoke(app, ["verify", path, "--api-per-pack", "140g", "--tolerance", "15%"])
    assert result.exit_code == 0, result.output


def test_a_summary_that_misstates_the_events_is_invalid(
    pack_bundle: dict[str, Any], tmp_path: Path
) -> None:
    bundle = copy.deepcopy(pack_bundle)
    bundle["massBalance"]["apiConsumedKg"] = "50"
    result = runner.invoke(app, ["verify", write(tmp_path / "origin.json", bundle)])
    assert result.exit_code == 1 and "stated summary" in result.output


def test_mass_balance_formula() -> None:
    event = {
        "inputQuantityList": [
            {"epcClass": "a", "quantity": 12.5, "uom": "KGM"},
            {"epcClass": "b", "quantity": 500, "uom": "GRM"},
        ],
        "outputEPCList": ["p"] * 1000,
        "outputQuantityList": [{"epcClass": "c", "quantity": 40}],
    }
    balance = compute_mass_balance([event], override=parse_strength("12.5g"))
    assert (balance.consumed_kg, balance.produced) == (Decimal(13), 1040)
    assert balance.required_kg == 13 and balance.ok and balance.max_packs == 1092
    with pytest.raises(OriginError, match="not a mass"):
        compute_mass_balance([{"inputQuantityList": [{"quantity": 1, "uom": "LTR"}]}])
    assert parse_strength("12500 mg").kg == parse_strength("0.0125kg").kg
    with pytest.raises(OriginError, match="API per pack must be a number and mg, g or kg"):
        parse_strength("12.5 pills")


# --- forged bundles ---------------------------------------------------------------------------


def shipping_receipt(world: World) -> dict[str, Any]:
    """The receipt of an unrelated event: a shipping of the pack's case."""
    with world.indexer.sessions() as session:
        history = trace(session, world.journey.dispensed_pack)["history"]
    shipping = next(v["event"] for v in history if v["event"]["bizStep"] == "shipping")
    return world.gateway.receipt(shipping["eventID"])


@pytest.mark.parametrize("relabel", [False, True], ids=["as-is", "relabelled"])
def test_a_swapped_receipt_fails_the_link_check(
    world: World, pack_bundle: dict[str, Any], tmp_path: Path, relabel: bool
) -> None:
    bundle = copy.deepcopy(pack_bundle)
    api = entry(bundle, ROLE_API_LOT)
    api["receipt"] = shipping_receipt(world)
    if relabel:  # the forger also names the swapped event: it still commissions nothing
        api["eventID"] = "ni:///sha-256;" + api["receipt"]["event_hash"][2:] + "?ver=CBV2.0"
    result = runner.invoke(app, ["verify", write(tmp_path / "origin.json", bundle)])
    assert result.exit_code == 1, result.output
    assert "link" in result.output
    expected = "does not commission" if relabel else "the receipt proves"
    assert expected in result.output


def test_a_maker_other_than_the_anchoring_participant_fails(
    world: World, pack_bundle: dict[str, Any], tmp_path: Path
) -> None:
    bundle = copy.deepcopy(pack_bundle)
    entry(bundle, ROLE_API_LOT)["maker"] = world.network.addresses[
        "Bishkek Pharma Plant (manufacturer)"
    ]
    result = runner.invoke(app, ["verify", write(tmp_path / "origin.json", bundle)])
    assert result.exit_code == 1 and "link maker" in result.output


def test_a_tampered_embedded_event_fails(pack_bundle: dict[str, Any], tmp_path: Path) -> None:
    bundle = copy.deepcopy(pack_bundle)
    event = entry(bundle, ROLE_TRANSFORMATION)["receipt"]["event"]
    event["inputQuantityList"][0]["quantity"] = 50.0  # claim all 50 kg went into the batch
    result = runner.invoke(app, ["verify", write(tmp_path / "origin.json", bundle)])
    assert result.exit_code == 1, result.output
    assert "event hash" in result.output


def test_a_pack_of_another_batch_fails(pack_bundle: dict[str, Any], tmp_path: Path) -> None:
    bundle = copy.deepcopy(pack_bundle)
    bundle["subject"]["identifier"] = "urn:epc:id:sgtin:4700123.012345.OTHER1"
    result = runner.invoke(app, ["verify", write(tmp_path / "origin.json", bundle)])
    assert result.exit_code == 1 and "does not output" in result.output


# --- unusable input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda b: b.update(version=2), "unsupported origin bundle version 2"),
        (lambda b: b.update(receipts=[]), "'receipts' must be a non-empty list"),
        (lambda b: b["receipts"][0].pop("receipt"), "receipts[0].receipt"),
        (lambda b: b["receipts"][0].update(role="x"), "needs a role"),
    ],
    ids=["version", "no-receipts", "no-receipt", "role"],
)
def test_a_malformed_bundle_is_unusable(
    pack_bundle: dict[str, Any], tmp_path: Path, change: Any, message: str
) -> None:
    bundle = copy.deepcopy(pack_bundle)
    change(bundle)
    result = runner.invoke(app, ["verify", write(tmp_path / "origin.json", bundle)])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_garbage_is_unusable(tmp_path: Path) -> None:
    path = tmp_path / "origin.json"
    path.write_bytes(b"\x00\xffnot json at all")
    result = runner.invoke(app, ["verify", str(path)])
    assert result.exit_code == 2 and "is not JSON" in result.output
    bad_option = runner.invoke(app, ["verify", str(path), "--api-per-pack", "lots"])
    assert bad_option.exit_code == 2


def test_origin_proof_with_unreadable_key_files_is_unusable(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "origin-proof",
            "urn:epc:id:sgtin:4700123.012345.S00000001",
            "--gateway",
            "http://127.0.0.1:9",
            "--gateway-key-file",
            str(tmp_path / "missing.key"),
            "--indexer",
            "http://127.0.0.1:9",
            "--indexer-key-file",
            str(tmp_path / "missing.key"),
        ],
    )
    assert result.exit_code == 2 and "cannot read the key file" in result.output


# --- on a real node -------------------------------------------------------------------------------


@pytest.mark.node
def test_the_bundle_verifies_on_chain_through_json_rpc(tmp_path: Path) -> None:
    if not available("anvil"):
        pytest.skip("anvil is not installed in node_modules (run `make deps`)")
    with running_node("anvil") as node:
        chain = Chain.from_url(node.url, poll_interval=0.05)
        for world in make_world(tmp_path, build_journey(20, packs_per_case=10), chain=chain):
            path = write(tmp_path / "origin.json", world.bundle(world.journey.dispensed_pack))
            result = runner.invoke(app, ["verify", path, "--rpc", node.url])
            assert result.exit_code == 0, result.output
            assert "offline and on-chain" in result.output
