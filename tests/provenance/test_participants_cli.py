"""``provenance participants add|list|show|suspend|reinstate|set-region|prefixes`` against a real
gateway (uvicorn on a free port, in-process chain, SQLite): tables and --json, a key written
0600 and never printed, participants named by address or GLN, exit codes 0 / 1 / 2, and an
``add`` whose first answer is lost on the way (tests/support/lossy_relay.py)."""

from __future__ import annotations

import json
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from devkit.nodes import free_port
from gateway.api.app import create_app
from medledger.epcis.gs1 import check_digit
from provenance.cli import app
from provenance.exits import EXIT_OK, EXIT_REFUSED, EXIT_UNUSABLE
from provenance.journey import MANUFACTURER, PHARMACY
from tests.support.lossy_relay import LossyRelay
from tests.support.network import Network, start_network

runner = CliRunner()


def gln(body: str) -> str:
    return body + str(check_digit(body))


@dataclass
class Served:
    network: Network
    url: str
    port: int
    folder: Path

    def key_file(self, name: str, headers: dict[str, str]) -> Path:
        path = self.folder / f"{name}.api-key"
        path.write_text(headers["Authorization"].removeprefix("Bearer ") + "\n")
        return path

    @property
    def regulator(self) -> Path:
        return self.key_file("regulator", self.network.regulator)

    def run(self, *args: str, key: Path | None = None, url: str | None = None) -> Any:
        return runner.invoke(
            app,
            [
                "participants",
                *args,
                "--gateway",
                url or self.url,
                "--key-file",
                str(key or self.regulator),
            ],
        )

    def json(self, *args: str) -> Any:
        result = self.run(*args, "--json")
        assert result.exit_code == EXIT_OK, result.output
        return json.loads(result.output)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder: Path = tmp_path_factory.mktemp("participants-cli")
    network = start_network(folder / "gateway")
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(network.gateway, run_batcher=False, run_deliverer=False),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        threading.Event().wait(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield Served(network, f"http://127.0.0.1:{port}", port, folder)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        network.gateway.stop()


def add(served: Served, number: str, key_out: Path, *extra: str, url: str | None = None) -> Any:
    return served.run(
        "add",
        "Apteka Chui",
        "--role",
        "pharmacy",
        "--role",
        "hospital",
        "--gln",
        number,
        "--region",
        "kg-c",
        "--prefix",
        "4709999",
        "--key-out",
        str(key_out),
        *extra,
        url=url,
    )


def test_add_writes_the_key_0600_shows_the_participant_and_never_the_key(
    served: Served, tmp_path: Path
) -> None:
    number = gln("470099950000")
    key_out = tmp_path / "keys" / "apteka.api-key"
    result = add(served, number, key_out)
    assert result.exit_code == EXIT_OK, result.output
    key = key_out.read_text().strip()
    assert stat.S_IMODE(key_out.stat().st_mode) == 0o600
    assert key.startswith("pk_") and key not in result.output
    assert "Apteka Chui" in result.output and "KG-C" in result.output
    assert str(key_out) in result.output.replace("\n", "")
    shown = served.json("show", number)
    assert shown[0]["gln"] == number and shown[0]["roles"] == ["pharmacy", "hospital"]
    assert shown[0]["region"] == "KG-C" and shown[0]["companyPrefixes"] == ["4709999"]
    # the key written is the participant's own
    me = httpx.get(
        f"{served.url}/participants/{shown[0]['address']}",
        headers={"Authorization": f"Bearer {key}"},
    )
    assert me.status_code == 200


def test_add_with_show_key_and_json_prints_it_for_a_script(served: Served, tmp_path: Path) -> None:
    key_out = tmp_path / "k"
    result = add(served, gln("470099950001"), key_out, "--json", "--show-key")
    assert result.exit_code == EXIT_OK, result.output
    answer = json.loads(result.output)
    assert answer["apiKey"] == key_out.read_text().strip()
    assert answer["keyFile"] == str(key_out) and answer["replayed"] is False


def test_list_show_and_changes_by_address_or_gln(served: Served) -> None:
    listed = served.json("list")
    names = {p["name"] for p in listed}
    assert {MANUFACTURER.name, PHARMACY.name} <= names
    table = served.run("list")
    assert table.exit_code == EXIT_OK and "GLN" in table.output and "region" in table.output
    pharmacy = next(p for p in listed if p["name"] == PHARMACY.name)
    by_gln = served.json("show", pharmacy["gln"])
    by_address = served.json("show", pharmacy["address"].lower())
    assert by_gln == by_address and by_gln[0]["address"] == pharmacy["address"]

    assert served.json("set-region", pharmacy["gln"], "KG-GB")[0]["region"] == "KG-GB"
    assert served.json("set-region", pharmacy["address"], "none")[0]["region"] is None
    suspended = served.run("suspend", pharmacy["gln"])
    assert suspended.exit_code == EXIT_OK and "suspended" in suspended.output
    again = served.run("suspend", pharmacy["gln"])
    assert again.exit_code == EXIT_REFUSED and "409" in again.output
    assert served.json("reinstate", pharmacy["gln"])[0]["status"] == "active"

    maker = next(p for p in listed if p["name"] == MANUFACTURER.name)
    assert served.json("prefixes", maker["gln"]) == maker["companyPrefixes"]
    changed = served.json("prefixes", maker["gln"], *maker["companyPrefixes"], "4709998")
    assert changed[0]["companyPrefixes"] == [*maker["companyPrefixes"], "4709998"]
    restored = served.json("prefixes", maker["gln"], *maker["companyPrefixes"])
    assert restored[0]["companyPrefixes"] == maker["companyPrefixes"]


def test_the_wrong_role_is_refused_with_exit_1_and_nothing_written(
    served: Served, tmp_path: Path
) -> None:
    maker = served.key_file("maker", served.network.keys[MANUFACTURER.name])
    key_out = tmp_path / "never.api-key"
    result = served.run(
        "add", "X", "--role", "pharmacy", "--gln", gln("470099950002"), "--key-out", str(key_out),
        key=maker,
    )  # fmt: skip
    assert result.exit_code == EXIT_REFUSED and "403" in result.output, result.output
    assert not key_out.exists()
    pharmacy = served.network.addresses[PHARMACY.name]
    refused = served.run("suspend", pharmacy, key=maker)
    assert refused.exit_code == EXIT_REFUSED and "403" in refused.output
    refused = served.run("set-region", pharmacy, "KG", key=maker)
    assert refused.exit_code == EXIT_REFUSED


def test_unknown_participants_are_refused_with_exit_1(served: Served) -> None:
    by_gln = served.run("show", gln("470099959999"))
    assert by_gln.exit_code == EXIT_REFUSED and "no participant with GLN" in by_gln.output
    by_address = served.run("show", "0x" + "ab" * 20)
    assert by_address.exit_code == EXIT_REFUSED and "404" in by_address.output


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["show", "Apteka"], "address"),
        (["set-region", "4700999500033", "Chui"], "ISO 3166-2"),
        (["prefixes", "4700999500033", "4709999", "--clear"], "not both"),
    ],
    ids=["not-an-address-or-gln", "bad-region", "prefixes-and-clear"],
)
def test_unusable_input_exits_2(served: Served, args: list[str], said: str) -> None:
    result = served.run(*args)
    assert result.exit_code == EXIT_UNUSABLE and said in result.output, result.output


def test_add_refuses_bad_input_before_sending_anything(served: Served, tmp_path: Path) -> None:
    before = len(served.json("list"))
    key_out = tmp_path / "k"
    bad_digit = gln("470099950004")[:12] + str((int(gln("470099950004")[12]) + 1) % 10)
    for extra, said in (
        (["--gln", bad_digit], "check digit"),
        (["--gln", gln("470099950004"), "--region", "KG-XX"], "ISO 3166-2"),
    ):
        result = served.run("add", "X", "--role", "pharmacy", *extra, "--key-out", str(key_out))
        assert result.exit_code == EXIT_UNUSABLE and said in result.output, result.output
    result = served.run(
        "add", "X", "--role", "chemist", "--gln", gln("470099950004"), "--key-out", str(key_out)
    )
    assert result.exit_code == EXIT_UNUSABLE and "unknown role" in result.output
    key_out.write_text("a key that must not be lost\n")
    result = served.run(
        "add", "X", "--role", "pharmacy", "--gln", gln("470099950004"), "--key-out", str(key_out)
    )
    assert result.exit_code == EXIT_UNUSABLE and "exists" in result.output
    assert len(served.json("list")) == before
    # the gateway's own refusal of a taken GLN (422): unusable, nothing changed
    taken = served.network.gateway.participants.all()[1].gln
    result = served.run(
        "add", "X", "--role", "pharmacy", "--gln", taken, "--key-out", str(tmp_path / "k2")
    )
    assert result.exit_code == EXIT_UNUSABLE and "already registered" in result.output
    unreachable = served.run("list", url="http://127.0.0.1:9")
    assert unreachable.exit_code == EXIT_UNUSABLE and "does not answer" in unreachable.output


def test_add_sends_again_after_a_lost_answer_and_the_lost_key_is_dead(
    served: Served, tmp_path: Path
) -> None:
    number = gln("470099950005")
    key_out = tmp_path / "lost.api-key"
    with LossyRelay(served.port, lose=1) as relay:
        result = add(served, number, key_out, url=relay.url)
        lost = json.loads(relay.lost_body())
    assert result.exit_code == EXIT_OK, result.output
    assert "sending it again with the same Idempotency-Key" in result.output
    assert "answered again" in result.output
    registered = [p for p in served.json("list") if p["gln"] == number]
    assert len(registered) == 1 and registered[0]["address"] == lost["address"]
    url = f"{served.url}/participants/{lost['address']}"
    assert httpx.get(url, headers={"Authorization": f"Bearer {lost['apiKey']}"}).status_code == 401
    kept = key_out.read_text().strip()
    assert httpx.get(url, headers={"Authorization": f"Bearer {kept}"}).status_code == 200


def test_add_again_with_the_same_idempotency_key_gives_a_fresh_key(
    served: Served, tmp_path: Path
) -> None:
    number = gln("470099950006")
    first, second = tmp_path / "first", tmp_path / "second"
    assert add(served, number, first, "--idempotency-key", "onboard-6").exit_code == EXIT_OK
    result = add(served, number, second, "--idempotency-key", "onboard-6")
    assert result.exit_code == EXIT_OK, result.output
    assert "answered again" in result.output
    address = served.json("show", number)[0]["address"]
    url = f"{served.url}/participants/{address}"
    old, new = first.read_text().strip(), second.read_text().strip()
    assert httpx.get(url, headers={"Authorization": f"Bearer {old}"}).status_code == 401
    assert httpx.get(url, headers={"Authorization": f"Bearer {new}"}).status_code == 200
    other = served.run(
        "add", "Other", "--role", "pharmacy", "--gln", number, "--key-out",
        str(tmp_path / "third"), "--idempotency-key", "onboard-6",
    )  # fmt: skip
    assert other.exit_code == EXIT_REFUSED and "409" in other.output
