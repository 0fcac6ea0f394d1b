"""Origin proofs from the indexer alone (both databases): ``GET /origin/{id}`` and
``GET /events/{eventID}/receipt``, and ``provenance origin-proof`` without a gateway."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from rich.console import Console
from typer.testing import CliRunner

from indexer.api.app import create_app
from indexer.queries.origin import IndexTraces, build_bundle
from indexer.service import IndexerService
from indexer.store.models import AnchorRow
from medledger.formats.receipt import Receipt
from provenance.cli import app as cli
from provenance.journey import FINISHED_LOT, Journey
from provenance.origin import (
    ROLE_API_LOT,
    ROLE_TRANSFORMATION,
    parse_bundle,
    parse_strength,
    parse_tolerance,
    verify_bundle,
)
from provenance.origin_command import write_origin_proof
from provenance.origin_http import HttpGateway, HttpIndexer
from provenance.verify import default_event_hasher
from tests.support.network import Network

PROBLEM = "application/problem+json"
LOT_CLASS = f"urn:epc:class:lgtin:4700123.012345.{FINISHED_LOT}"


@pytest.fixture(scope="module")
def network(module_network: Network) -> Network:
    """One gateway for the module: its tests only read the journey, with indexers of their own."""
    return module_network


@pytest.fixture(scope="module")
def journey(network: Network) -> Journey:
    """The journey, anchored once for the module."""
    return network.run_journey()


def reader(service: IndexerService) -> tuple[TestClient, dict[str, str]]:
    assert service.bootstrap_key_file is not None
    token = service.bootstrap_key_file.read_text().strip()
    return TestClient(create_app(service, follow=False)), {"Authorization": f"Bearer {token}"}


def gateway_receipt(network: Network, event_id: str) -> dict[str, Any]:
    response = network.http.get(
        f"/events/{quote(event_id, safe='')}/receipt", headers=network.regulator
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def problem(http: TestClient, auth: dict[str, str], path: str, status: int) -> dict[str, Any]:
    response = http.get(path, headers=auth)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def test_origin_bundle_from_the_index_verifies_and_matches_the_gateway(
    indexed: IndexerService, network: Network, journey: Journey, tmp_path: Path
) -> None:
    http, auth = reader(indexed)
    pack = journey.dispensed_pack
    with http:
        response = http.get(f"/origin/{quote(pack, safe='')}", headers=auth)
        assert response.status_code == 200, response.text
        document = response.json()
        bundle = parse_bundle(document)
        roles = [e.role for e in bundle.entries]
        assert ROLE_TRANSFORMATION in roles and ROLE_API_LOT in roles
        offline = verify_bundle(bundle, event_hasher=default_event_hasher())
        assert offline.valid, offline
        on_chain = verify_bundle(bundle, chain=network.chain, event_hasher=default_event_hasher())
        assert on_chain.valid, on_chain
        assert on_chain.mass_balance is not None and on_chain.mass_balance.ok

        # the same bundle `origin-proof` makes with the gateway's receipts
        token = network.regulator["Authorization"].removeprefix("Bearer ")
        with indexed.sessions() as session:
            via_gateway = build_bundle(pack, HttpGateway(network.http, token), IndexTraces(session))
        assert {**document, "created": None} == {**via_gateway, "created": None}

        # every receipt the index issues is the gateway's: same proof, root, tx, block, event
        for entry in bundle.entries:
            path = f"/events/{quote(entry.event_id, safe='')}/receipt"
            mine = http.get(path, headers=auth)
            assert mine.status_code == 200, mine.text
            theirs = gateway_receipt(network, entry.event_id)
            assert Receipt.from_json(mine.json()) == Receipt.from_json(theirs)
            assert mine.json()["event"] == theirs["event"]
            assert mine.json() == entry.receipt.to_json()
        # the 64 hex digits of the event id work as well
        first = bundle.entries[0]
        short = http.get(f"/events/{first.receipt.event_hash.hex()}/receipt", headers=auth)
        assert short.status_code == 200 and short.json() == first.receipt.to_json()

        # options: an explicit strength and tolerance
        response = http.get(
            f"/origin/{quote(LOT_CLASS, safe='')}",
            params={"api_per_pack": "125g", "tolerance": "10%"},
            headers=auth,
        )
        assert response.status_code == 200, response.text
        lot_bundle = response.json()
        assert lot_bundle["subject"]["kind"] == "lot"
        assert lot_bundle["apiPerPack"] is not None
        assert lot_bundle["massBalance"]["tolerance"] == "0.1"
        verdict = verify_bundle(
            parse_bundle(lot_bundle),
            event_hasher=default_event_hasher(),
            api_per_pack=parse_strength("125g"),
            tolerance=parse_tolerance("10%"),
        )
        assert verdict.valid, verdict

        # `provenance origin-proof` without a gateway: trace and receipts from the indexer
        client = HttpIndexer(http, auth["Authorization"].removeprefix("Bearer "))
        out, log = tmp_path / "origin.json", io.StringIO()
        code = write_origin_proof(
            pack,
            client,
            client,
            out=out,
            api_per_pack=None,
            tolerance=parse_tolerance("5%"),
            console=Console(file=log, width=200),
        )
        assert code == 0, log.getvalue()
        written = json.loads(out.read_text())
        assert {**written, "created": None} == {**document, "created": None}


def test_origin_proof_command_options(tmp_path: Path) -> None:
    """Without --gateway the indexer gives receipts; a half-given gateway is unusable (2)."""
    key_file = tmp_path / "reader.api-key"
    key_file.write_text("ik_test\n")
    key = str(key_file)
    runner = CliRunner()
    base = ["origin-proof", "urn:epc:id:sgtin:4700123.012345.S1", "--indexer-key-file", key]
    result = runner.invoke(cli, [*base, "--indexer", "http://127.0.0.1:9", "--gateway", "x"])
    assert result.exit_code == 2 and "--gateway-key-file" in result.output
    result = runner.invoke(cli, [*base, "--indexer", "http://127.0.0.1:9", "--tolerance", "2"])
    assert result.exit_code == 2 and "tolerance" in result.output
    missing = tmp_path / "missing.api-key"
    result = runner.invoke(cli, [*base[:-1], str(missing), "--indexer", "http://127.0.0.1:9"])
    assert result.exit_code == 2 and "cannot read the key file" in result.output


def test_batches_not_fully_indexed_and_bad_ids(indexed: IndexerService, journey: Journey) -> None:
    http, auth = reader(indexed)
    pack = quote(journey.dispensed_pack, safe="")
    with http:
        document = http.get(f"/origin/{pack}", headers=auth).json()
        transformation = next(e for e in document["receipts"] if e["role"] == ROLE_TRANSFORMATION)
        receipt_path = f"/events/{quote(transformation['eventID'], safe='')}/receipt"
        root = bytes.fromhex(transformation["receipt"]["root"][2:])

        # bad input: 422
        problem(http, auth, "/origin/not-an-identifier", 422)
        problem(http, auth, "/events/not-an-event/receipt", 422)
        problem(http, auth, f"/events/{'ab' * 31}/receipt", 422)
        for params in ("tolerance=150%25", "api_per_pack=12.5parsecs", "api_per_pack=-1g"):
            problem(http, auth, f"/origin/{pack}?{params}", 422)
        # unknown: 404
        problem(http, auth, f"/events/{'00' * 32}/receipt", 404)
        problem(http, auth, "/origin/urn:epc:id:sgtin:4700123.012345.NOPE", 404)
        # no key: 401
        assert http.get(receipt_path).status_code == 401
        assert http.get(f"/origin/{pack}").status_code == 401

        # the anchor counts one more event than the index holds: not fully indexed
        with indexed.sessions.begin() as session:
            anchor = session.get(AnchorRow, root)
            assert anchor is not None
            anchor.event_count += 1
        assert "not fully indexed" in problem(http, auth, receipt_path, 404)["detail"]
        assert "not fully indexed" in problem(http, auth, f"/origin/{pack}", 404)["detail"]

        # a batch the indexer could not fetch is not indexed at all
        with indexed.sessions.begin() as session:
            anchor = session.get(AnchorRow, root)
            assert anchor is not None
            anchor.event_count -= 1
            anchor.status = "unavailable"
        assert "unavailable" in problem(http, auth, receipt_path, 404)["detail"]
        problem(http, auth, f"/origin/{pack}", 404)

        with indexed.sessions.begin() as session:
            anchor = session.get(AnchorRow, root)
            assert anchor is not None
            anchor.status = "indexed"
        assert http.get(receipt_path, headers=auth).status_code == 200
