"""``provenance suspend``, ``lift-suspension`` and ``escalate``: exit codes 0 done, 1 refused,
2 unusable; suspend, dispensing refused, lift, dispensing accepted; escalate recalls."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from medledger.epcis.builders import as_document
from provenance.cli import app
from provenance.exits import EXIT_OK, EXIT_REFUSED, EXIT_UNUSABLE
from provenance.journey import FINISHED_LOT, PHARMACY, build_journey
from provenance.suspension import run_suspension
from tests.provenance.test_recall_cli import gtin, key_file, network  # noqa: F401 - fixtures
from tests.support.network import Network

CASE = "PV-2026/0042"


def test_suspend_lift_and_escalate_through_the_gateway(
    network: Network,  # noqa: F811
    gtin: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    key = key_file(tmp_path, network.regulator)
    said: list[str] = []
    journey = build_journey(4, packs_per_case=2)
    for step in journey.steps[5:11]:  # down to the pharmacy, which holds a case
        network.capture(step.actor, step.events)

    def run(change: str, **options: object) -> int:
        return run_suspension(
            change,  # type: ignore[arg-type]
            gtin,
            FINISHED_LOT,
            key_file=key,
            client=network.http,
            echo=said.append,
            **options,  # type: ignore[arg-type]
        )

    assert run("suspend", reason="ADR", reason_code=1, case_number=CASE) == EXIT_OK, said
    assert said[-1].startswith(f"suspended lot {FINISHED_LOT} of GTIN {gtin} pending case {CASE}")
    assert "dispensing refused" in said[-1]
    dispense = as_document(journey.steps[11].events)
    headers = network.keys[PHARMACY.name]
    refused = network.http.post("/capture", json=dispense, headers=headers)
    assert refused.status_code == 400 and refused.json()["rule"] == "custody.suspended"
    assert run("suspend", reason="again", case_number=CASE) == EXIT_REFUSED
    assert "409" in said[-1]

    assert run("lift", reason_code=1) == EXIT_OK and said[-1].startswith("lifted")
    assert not network.gateway.ledger.is_suspended(int(gtin), FINISHED_LOT)
    assert network.http.post("/capture", json=dispense, headers=headers).status_code == 202
    assert run("lift") == EXIT_REFUSED

    assert run("suspend", reason="ADR", case_number="PV-2", stops_shipping=True) == EXIT_OK
    assert "dispensing and shipping refused" in said[-1]
    assert run("escalate", reason="confirmed", reason_code=8) == EXIT_OK
    assert said[-1].startswith("escalated the suspension") and "to recall 1" in said[-1]
    assert network.gateway.ledger.is_recalled(int(gtin), FINISHED_LOT)


def test_the_commands_refuse_unusable_input(gtin: str, tmp_path: Path) -> None:  # noqa: F811
    key = tmp_path / "key"
    key.write_text("pk_abc_def\n")
    runner = CliRunner()
    missing_case = runner.invoke(
        app, ["suspend", gtin, "L1", "--case", "", "--reason", "x", "--key-file", str(key)]
    )
    assert missing_case.exit_code == EXIT_UNUSABLE and "case number" in missing_case.output
    unreachable = runner.invoke(
        app,
        ["lift-suspension", gtin, "L1", "--gateway", "http://127.0.0.1:9", "--key-file", str(key)],
    )
    assert unreachable.exit_code == EXIT_UNUSABLE and "does not answer" in unreachable.output
    no_reason = runner.invoke(app, ["escalate", gtin, "L1", "--key-file", str(key)])
    assert no_reason.exit_code == EXIT_UNUSABLE
