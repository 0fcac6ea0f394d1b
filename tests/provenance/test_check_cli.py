"""``provenance check CODE`` against a real indexer API (uvicorn on a free port, SQLite index of
the journey): readable verdicts, --json, exit codes 0 / 1 / 2, scanner payloads on stdin; and
``provenance.check.run`` with an injected client."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from io import StringIO
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from rich.console import Console
from typer.testing import CliRunner

from devkit.nodes import free_port
from indexer.api.app import create_app
from indexer.api.deps import get_today
from provenance import check as check_module
from provenance.check import render
from provenance.cli import app
from provenance.journey import FINISHED_LOT, Journey
from tests.support.network import start_network

GTIN = "04700123123452"
runner = CliRunner()


@dataclass
class Served:
    url: str
    journey: Journey
    http: TestClient


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp: Path = tmp_path_factory.mktemp("check-cli")
    network = start_network(tmp / "gateway")
    service = None
    try:
        journey = network.run_journey()
        service = network.indexer(f"sqlite:///{tmp}/indexer.db", tmp / "indexer")
        service.catch_up()
        api = create_app(service, follow=False)
        api.dependency_overrides[get_today] = lambda: date(2027, 3, 1)
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(api, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        for _ in range(500):
            if server.started:
                break
            threading.Event().wait(0.02)
        assert server.started, "uvicorn did not start"
        try:
            with TestClient(api) as http:
                yield Served(f"http://127.0.0.1:{port}", journey, http)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
    finally:
        if service is not None:
            service.stop()
        network.gateway.stop()


def serial(journey: Journey, n: int) -> str:
    return journey.packs[n].rsplit(".", 1)[1]


def test_an_active_pack_exits_0_with_a_readable_verdict(served: Served) -> None:
    code = f"(01){GTIN}(21){serial(served.journey, 1)}(10){FINISHED_LOT}(17)281031"
    result = runner.invoke(app, ["check", code, "--indexer", served.url])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output and FINISHED_LOT in result.output
    assert "2028-10-31" in result.output and "anchored" in result.output
    assert "released    no" in result.output  # the journey never registers its lot


def test_the_dispensed_pack_exits_1_and_says_by_whom(served: Served) -> None:
    code = f"https://qr.example.kg/01/{GTIN}/21/{serial(served.journey, 0)}?10={FINISHED_LOT}"
    result = runner.invoke(app, ["check", code, "--indexer", served.url])
    assert result.exit_code == 1, result.output
    assert "DISPENSED" in result.output and "by a pharmacy" in result.output


def test_json_prints_the_raw_answer(served: Served) -> None:
    result = runner.invoke(
        app, ["check", served.journey.dispensed_pack, "--indexer", served.url, "--json"]
    )
    assert result.exit_code == 1, result.output
    body = json.loads(result.output)
    assert body["verdict"] == "dispensed" and body["code"]["form"] == "epc-urn"
    assert body["dispensed"]["kind"] == "pharmacy"


def test_a_raw_scanner_payload_on_stdin_and_gs_spelled_out(served: Served) -> None:
    raw = f"]d201{GTIN}21{serial(served.journey, 2)}\x1d10B2026-999\x1d17281031\r\n"
    result = runner.invoke(app, ["check", "-", "--indexer", served.url], input=raw)
    assert result.exit_code == 1, result.output
    assert "SUSPECT" in result.output and "mismatch" in result.output
    spelled = f"01{GTIN}21{serial(served.journey, 2)}<GS>10{FINISHED_LOT}"
    result = runner.invoke(app, ["check", spelled, "--indexer", served.url])
    assert result.exit_code == 0, result.output


def test_unknown_exits_1_malformed_and_unreachable_exit_2(served: Served) -> None:
    unknown = runner.invoke(app, ["check", f"(01){GTIN}(21)NOPE", "--indexer", served.url])
    assert unknown.exit_code == 1 and "UNKNOWN" in unknown.output
    bad = runner.invoke(app, ["check", "(01)04700123123453(21)X", "--indexer", served.url])
    assert bad.exit_code == 2 and "malformed code" in bad.output
    assert "check digit" in bad.output
    down = f"http://127.0.0.1:{free_port()}"
    gone = runner.invoke(app, ["check", f"(01){GTIN}(21)X", "--indexer", down])
    assert gone.exit_code == 2 and "does not answer" in gone.output
    gone_json = runner.invoke(app, ["check", f"(01){GTIN}(21)X", "--indexer", down, "--json"])
    assert gone_json.exit_code == 2 and "error" in json.loads(gone_json.output)


def test_run_with_an_injected_client(served: Served) -> None:
    out = StringIO()
    console = Console(file=out, soft_wrap=True, highlight=False)
    code = served.journey.packs[3]
    assert check_module.run(code, client=served.http, console=console) == 0
    assert "OK" in out.getvalue()


def test_a_suspended_lot_reads_as_suspended_with_its_case() -> None:
    """The verdict as the indexer gives it for a lot suspended pending investigation."""
    out = StringIO()
    body = {
        "verdict": "suspended",
        "known": True,
        "identifier": "https://id.gs1.org/01/04700123123452/21/S1",
        "recalled": False,
        "suspended": True,
        "suspension": {"caseNumber": "PV-2026/0042", "reasonCode": 1},
    }
    render(Console(file=out, width=200), body)
    text = out.getvalue()
    assert "SUSPENDED pending investigation" in text
    assert "case PV-2026/0042, adverse reactions reported (code 1)" in text
