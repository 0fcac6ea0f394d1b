"""``provenance alerts`` against the indexer app (an injected client with the app's transport):
a readable table, --json, filters, cursors followed up to --limit, exit codes 0 / 1 / 2."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rich.console import Console
from typer.testing import CliRunner

from devkit.nodes import free_port
from indexer.api.app import create_app
from indexer.store.models import AlertRow
from provenance import alerts as alerts_module
from provenance.cli import app, main
from provenance.http import Service
from tests.support.network import start_network

runner = CliRunner()
PACK = "https://id.gs1.org/01/04700123123452/21/S1"

#: (key, kind, severity, block, subject): six alerts, newest first by block.
ALERTS = [
    ("a1", "integrity", "critical", 12, None),
    ("a2", "integrity", "critical", 11, None),
    ("a3", "recommissioned", "warning", 10, PACK),
    ("a4", "integrity", "critical", 9, None),
    ("a5", "recommissioned", "warning", 8, PACK),
    ("a6", "expiring-soon", "info", 7, PACK),
]


@dataclass
class Served:
    http: TestClient
    key_file: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp: Path = tmp_path_factory.mktemp("alerts-cli")
    network = start_network(tmp / "gateway")
    service = None
    try:
        service = network.indexer(f"sqlite:///{tmp}/indexer.db", tmp / "indexer")
        service.catch_up()
        with service.sessions.begin() as session:
            for key, kind, severity, block, subject in ALERTS:
                session.add(
                    AlertRow(
                        key=key,
                        kind=kind,
                        severity=severity,
                        block_number=block,
                        subject=subject,
                        message=f"{kind} at block {block}",
                        evidence={"block": block},
                    )
                )
        assert service.bootstrap_key_file is not None
        with TestClient(create_app(service, follow=False)) as http:
            yield Served(http, service.bootstrap_key_file)
    finally:
        if service is not None:
            service.stop()
        network.gateway.stop()


def run(served: Served, **options: Any) -> tuple[int, str]:
    out = StringIO()
    options.setdefault("key_file", served.key_file)
    code = alerts_module.run(
        client=served.http, console=Console(file=out, width=200, soft_wrap=True), **options
    )
    return code, out.getvalue()


def test_matching_alerts_exit_1_with_a_table(served: Served) -> None:
    code, text = run(served)
    assert code == 1, text
    for name in ("kind", "severity", "subject", "message", "block"):
        assert name in text
    for _key, kind, severity, block, _subject in ALERTS:
        assert f"{kind} at block {block}" in text and severity in text
    assert PACK in text and "6 alerts" in text


def test_filters_and_json(served: Served) -> None:
    code, text = run(served, severity="critical", as_json=True)
    assert code == 1
    body = json.loads(text)
    assert [a["blockNumber"] for a in body["items"]] == [12, 11, 9]
    assert {a["kind"] for a in body["items"]} == {"integrity"} and body["more"] is False
    code, text = run(served, kind="recommissioned", as_json=True)
    assert code == 1 and [a["key"] for a in json.loads(text)["items"]] == ["a3", "a5"]
    code, text = run(served, kind="recommissioned", severity="info")
    assert code == 0 and "no alerts match" in text
    code, text = run(served, kind="no-such-kind", as_json=True)
    assert code == 2 and "--kind must be one of integrity," in json.loads(text)["error"]


def test_cursors_are_followed_up_to_the_limit(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(alerts_module, "PAGE_MAX", 2)
    code, text = run(served, limit=5, as_json=True)
    body = json.loads(text)
    assert code == 1 and [a["key"] for a in body["items"]] == ["a1", "a2", "a3", "a4", "a5"]
    assert body["more"] is True
    code, text = run(served, limit=10, as_json=True)
    body = json.loads(text)
    assert [a["key"] for a in body["items"]] == [a[0] for a in ALERTS] and body["more"] is False
    code, text = run(served, limit=3)
    assert code == 1 and "3 alerts (more beyond --limit 3)" in text


def test_unusable_input_and_refused_keys_exit_2(served: Served, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.api-key"
    wrong.write_text("ik_not_a_key\n")
    code, text = run(served, key_file=wrong)
    assert code == 2 and "refuses the key (401)" in text
    code, text = run(served, key_file=tmp_path / "missing.api-key", as_json=True)
    assert code == 2 and "cannot read the key file" in json.loads(text)["error"]
    empty = tmp_path / "empty.api-key"
    empty.write_text("\n")
    assert run(served, key_file=empty)[0] == 2
    assert run(served, severity="fatal")[0] == 2
    assert run(served, limit=0)[0] == 2


def test_the_command(served: Served) -> None:
    """The CLI: bad options and an indexer that does not answer exit 2."""
    key = str(served.key_file)
    nowhere = f"http://127.0.0.1:{free_port()}"
    result = runner.invoke(app, ["alerts", "--indexer", nowhere, "--key-file", key])
    assert result.exit_code == 2 and "does not answer" in result.output
    result = runner.invoke(app, ["alerts", "--severity", "loud", "--key-file", key])
    assert result.exit_code == 2 and "--severity" in result.output
    result = runner.invoke(app, ["alerts", "--indexer", nowhere, "--key-file", "/nonexistent/k"])
    assert result.exit_code == 2 and "cannot read the key file" in result.output
    result = runner.invoke(app, ["alerts", "--help"])
    assert result.exit_code == 0 and "--limit" in result.output


def test_a_typo_in_kind_is_one_line_naming_the_kinds_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A cron job's `--kind clones` must not read as "no alerts": the console script answers
    one line on stderr with the allowed values, exit code 2 (before any key or indexer)."""
    monkeypatch.setattr("sys.argv", ["provenance", "alerts", "--kind", "clones"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("provenance alerts: Invalid value for '--kind'")
    assert "'clones' is not one of 'integrity'" in err and "'expiring-soon'" in err


def test_the_indexer_refuses_an_unknown_kind_or_parameter(served: Served) -> None:
    auth = {"Authorization": f"Bearer {served.key_file.read_text().strip()}"}
    answer = served.http.get("/alerts", params={"kind": "clones"}, headers=auth)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    detail = answer.json()["detail"]
    assert detail.startswith("query parameter kind: Input should be 'integrity'")
    assert "'expiring-soon'" in detail
    answer = served.http.get("/alerts", params={"severty": "critical"}, headers=auth)
    assert answer.status_code == 422
    assert answer.json()["detail"] == (
        "unknown query parameter severty; this endpoint takes: cursor, kind, limit, region, "
        "severity, subject"
    )


MAKER = "0x99c3AF4858b532a1c7ca782ee206987617b47d60"
PARTICIPANTS = {
    MAKER.lower(): {"address": MAKER, "gln": "4700123100002", "roles": ["manufacturer"]}
}


def test_at_80_columns_each_alert_is_a_short_block_with_glns_beside_addresses() -> None:
    listing = alerts_module.Listing(
        items=[
            {
                "kind": "clone",
                "severity": "critical",
                "blockNumber": 30 + n,
                "subject": PACK,
                "message": f"shipping of {PACK} by {MAKER} where it is not",
                "evidence": {},
            }
            for n in range(4)
        ]  # fmt: skip
    )
    out = StringIO()
    alerts_module.render(Console(file=out, width=80), listing, PARTICIPANTS)
    lines = out.getvalue().splitlines()
    assert len(lines) <= 4 * 4 + 1, "\n".join(lines)  # was 45 lines in a five-column table
    assert lines[0] == "critical  clone  block 30" and lines[-1] == "4 alerts"
    assert lines[1] == f"  {PACK}" and all(len(line) <= 80 for line in lines)
    message = " ".join(line.strip() for line in lines[2:4])
    who = "GLN 4700123100002 manufacturer (0x99c3…7d60)"
    assert message == f"shipping of {PACK} by {who} where it is not"


def test_csv_has_a_row_per_alert(served: Served) -> None:
    code, text = run(served, output="csv", kind="recommissioned")
    rows = list(csv.reader(StringIO(text)))
    assert code == 1 and rows[0] == list(alerts_module.CSV_COLUMNS)
    assert [(r[0], r[1], r[3]) for r in rows[1:]] == [("a3", "recommissioned", "10"),
                                                      ("a5", "recommissioned", "8")]  # fmt: skip
    result = runner.invoke(app, ["alerts", "--format", "xml", "--key-file", str(served.key_file)])
    assert result.exit_code == 2


def test_a_named_participant_reads_name_then_gln_and_the_pages_map_is_used(
    served: Served,
) -> None:
    named = {MAKER.lower(): {**PARTICIPANTS[MAKER.lower()], "name": "Bishkek Pharma Plant"}}
    who = alerts_module.who(MAKER, named)
    assert who == "Bishkek Pharma Plant, GLN 4700123100002 manufacturer (0x99c3…7d60)"
    assert alerts_module.who(MAKER, {}) == "0x99c3…7d60"  # no record: the address alone
    # the indexer names who a page's alerts name; the command reads that map, not /participants
    listing = alerts_module.fetch(
        Service("indexer", served.http, api_key=served.key_file.read_text().strip()),
        limit=2,
    )
    assert listing.participants == {}  # these alerts name nobody
