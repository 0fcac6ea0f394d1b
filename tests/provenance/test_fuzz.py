"""A bounded schemathesis run against the gateway and the indexer (issue 14, "Tests and numbers").

Real servers on 127.0.0.1 (`provenance up`'s network on the in-process chain, SQLite), every
operation of each OpenAPI document, all four phases (the documents' examples, coverage of each
schema's edges, random fuzzing, and stateful sequences that follow the documents' links), as a
regulator, as a participant (a manufacturer) and as an indexer reader. Wanted: no response >= 500
and no response that breaks the schema its document declares for it.

Bounded: each of the three runs stops after ``PROVENANCE_FUZZ_SECONDS`` (default 20 s in
``make test``, about a minute and a half for the module; ``make faults``, which CI runs after it,
fuzzes 90 s a run). Only 127.0.0.1 is reached: the requests go to the two servers, the webhook
deliverers are not started (a fuzzed recall or subscription could otherwise notify a fuzzed URL)
and the chain is in this process. Rate limits are off (a fuzzer is one client sending thousands
of requests; the limits have tests of their own). Operations, cases and time of each
run are in docs/security.md ("Fuzzing"); a failure prints schemathesis's report, with a curl
command for each failing case and the seed that replays the run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from devkit.nodes import free_port
from gateway.api.app import create_app as create_gateway_app
from provenance.up import Network, ServerThread, UpOptions

pytestmark = [pytest.mark.slow]

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
RUN_SECONDS = int(os.environ.get("PROVENANCE_FUZZ_SECONDS", "20"))
CHECKS = (
    "not_a_server_error,response_schema_conformance,status_code_conformance,"
    "content_type_conformance"
)
NO_LIMITS = {
    "PROVENANCE_GATEWAY_AUTH_FAILURE_RATE_LIMIT": "",
    "PROVENANCE_INDEXER_AUTH_FAILURE_RATE_LIMIT": "",
    "PROVENANCE_INDEXER_CHECK_RATE_LIMIT": "",
    # a fuzzed subscription must not be delivered to a fuzzed URL
    "PROVENANCE_INDEXER_SUBSCRIPTION_DELIVERY": "false",
}


@dataclass(frozen=True)
class Target:
    url: str
    key: str


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Target]]:
    if not SCHEMATHESIS.exists():
        pytest.skip("schemathesis is not installed (the dev extra: pip install -e '.[dev]')")
    options = UpOptions(embedded=True, gateway_port=free_port(), indexer_port=free_port())
    with pytest.MonkeyPatch.context() as env:
        for name, value in NO_LIMITS.items():
            env.setenv(name, value)
        network = Network(options, None, tmp_path_factory.mktemp("fuzz"))
    gateway = ServerThread(
        create_gateway_app(network.gateway, run_deliverer=False),
        options.host,
        options.gateway_port,
        "gateway",
    )
    network.servers[0] = gateway
    network.start()
    try:
        regulator = network.gateway_key_file.read_text().strip()
        created = httpx.post(
            f"{gateway.url}/participants",
            json={
                "name": "Fuzz Pharma",
                "roles": ["manufacturer"],
                "gln": "4700123000005",
                "companyPrefixes": ["4700123"],
            },
            headers={"Authorization": f"Bearer {regulator}"},
        )
        assert created.status_code == 201, created.text
        reader = network.indexer_settings.resolved_bootstrap_api_key_file.read_text().strip()
        yield {
            "gateway-as-regulator": Target(gateway.url, regulator),
            "gateway-as-participant": Target(gateway.url, created.json()["apiKey"]),
            "indexer-as-reader": Target(network.servers[1].url, reader),
        }
    finally:
        network.stop()


def schemathesis_run(target: Target, reports: Path) -> tuple[dict[str, Any], str]:
    """One bounded run; its JSON report and its console output."""
    command = [
        str(SCHEMATHESIS), "run", f"{target.url}/openapi.json",
        "--header", f"Authorization: Bearer {target.key}",
        "--checks", CHECKS,
        "--phases", "examples,coverage,fuzzing,stateful",
        "--max-time", str(RUN_SECONDS),
        "--workers", "1",
        "--request-timeout", "20",
        "--report", "json", "--report-dir", str(reports),
    ]  # fmt: skip
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS + 120,
        env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"},
    )
    output = done.stdout + done.stderr
    written = list(reports.glob("json-*.json"))
    assert len(written) == 1, f"schemathesis wrote no report (exit {done.returncode}):\n{output}"
    report: dict[str, Any] = json.loads(written[0].read_text())
    return report, output


@pytest.mark.parametrize(
    "name", ["gateway-as-regulator", "gateway-as-participant", "indexer-as-reader"]
)
def test_no_server_error_and_no_schema_violation(
    name: str, targets: dict[str, Target], tmp_path: Path
) -> None:
    report, output = schemathesis_run(targets[name], tmp_path)
    summary = (
        f"{name}: {report['operations']['tested']} of {report['operations']['total']} "
        f"operations, {report['test_cases']['generated']} cases in "
        f"{report['running_time']:.0f} s (seed {report['seed']})"
    )
    print(summary)
    assert report["failures"] == [] and report["errors"] == [], f"{summary}\n{output}"
    assert report["exit_code"] == 0, f"{summary}\n{output}"
    assert report["operations"]["tested"] == report["operations"]["total"], output
