"""``provenance keys list|issue|rotate|revoke|audit``: a participant's gateway keys managed from
the command line, against a real gateway (in-process chain, SQLite).

Exit codes: 0 done, 1 refused by the gateway, 2 unusable input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from provenance import key_lifecycle as lifecycle
from provenance.exits import EXIT_OK, EXIT_REFUSED, EXIT_UNUSABLE
from provenance.http import Service
from provenance.journey import MANUFACTURER, PHARMACY
from tests.support.network import Network, start_network


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    network = start_network(tmp_path_factory.mktemp("gateway"))
    yield network
    network.gateway.stop()


class Said:
    """What a verb printed (plain text), and its JSON when it printed some."""

    def __init__(self, *, as_json: bool = False) -> None:
        self.console = Console(record=True, width=200, color_system=None)
        self.output = lifecycle.Output(self.console, as_json)

    @property
    def text(self) -> str:
        return self.console.export_text(clear=False)


def service(network: Network, headers: dict[str, str]) -> Service:
    token = headers["Authorization"].removeprefix("Bearer ")
    return Service("gateway", network.http, token)


def run(verb: Any, said: Said) -> int:
    code: int = lifecycle.run(verb, said.output)
    return code


def works(network: Network, token: str) -> bool:
    answer = network.http.get("/participants", headers={"Authorization": f"Bearer {token}"})
    status: int = answer.status_code
    return status == 200


def test_the_regulator_issues_rotates_and_revokes_a_participants_key_by_gln(
    network: Network, tmp_path: Path
) -> None:
    regulator = service(network, network.regulator)
    address = lifecycle.participant_address(regulator, MANUFACTURER.gln)
    assert address == network.addresses[MANUFACTURER.name]
    ring = lifecycle.Keyring(regulator, address)

    said = Said()
    erp = tmp_path / "erp.api-key"
    body = {"label": "ERP", "expiresAt": None}
    issued = run(
        lambda: lifecycle.issue_key(ring, body, out=erp, show=False, output=said.output), said
    )
    assert issued == EXIT_OK, said.text
    first = erp.read_text().strip()
    assert erp.stat().st_mode & 0o777 == 0o600
    assert first not in said.text and str(erp) in said.text
    assert works(network, first)

    said = Said(as_json=True)
    assert run(lambda: lifecycle.list_keys(ring, said.output), said) == EXIT_OK
    assert "ERP" in said.text and first not in said.text

    said = Said()
    rotated = run(
        lambda: lifecycle.rotate_key(
            ring, "ERP", grace_seconds=0, out=erp, show=False, output=said.output
        ),
        said,
    )
    assert rotated == EXIT_OK, said.text
    second = erp.read_text().strip()
    assert second != first
    assert works(network, second) and not works(network, first)

    said = Said()
    assert run(lambda: lifecycle.revoke_key(ring, "ERP", said.output), said) == EXIT_OK
    assert not works(network, second)

    said = Said(as_json=True)
    assert run(lambda: lifecycle.audit(ring, said.output), said) == EXIT_OK
    assert said.text.count('"action": "issue"') >= 2  # the initial key and the ERP key
    assert '"action": "rotate"' in said.text and '"action": "revoke"' in said.text


def test_a_participant_manages_its_own_keys_and_no_one_elses(network: Network) -> None:
    maker = service(network, network.keys[MANUFACTURER.name])
    own = lifecycle.Keyring(maker, lifecycle.participant_address(maker, "me"))
    said = Said()
    assert run(lambda: lifecycle.list_keys(own, said.output), said) == EXIT_OK

    pharmacy = lifecycle.Keyring(maker, network.addresses[PHARMACY.name])
    said = Said()
    assert run(lambda: lifecycle.list_keys(pharmacy, said.output), said) == EXIT_REFUSED
    assert "403" in said.text


def test_unusable_requests_exit_2_and_change_nothing(network: Network, tmp_path: Path) -> None:
    regulator = service(network, network.regulator)
    ring = lifecycle.Keyring(regulator, network.addresses[PHARMACY.name])
    before = network.http.get(ring.keys_path(), headers=network.regulator).json()

    said = Said()
    nowhere = run(
        lambda: lifecycle.issue_key(ring, {"label": "x"}, out=None, show=False, output=said.output),
        said,
    )
    assert nowhere == EXIT_UNUSABLE and "--key-out" in said.text

    said = Said()
    unknown_label = run(
        lambda: lifecycle.rotate_key(
            ring, "nobody", grace_seconds=0, out=tmp_path / "k", show=False, output=said.output
        ),
        said,
    )
    assert unknown_label == EXIT_UNUSABLE and "labelled 'nobody'" in said.text

    said = Said()
    unknown_gln = run(lambda: lifecycle.participant_address(regulator, "4700000000007") and 0, said)
    assert unknown_gln == EXIT_REFUSED and "no participant with GLN" in said.text

    assert network.http.get(ring.keys_path(), headers=network.regulator).json() == before


@pytest.mark.parametrize(
    ("text", "seconds"), [("0", 0), ("90s", 90), ("15m", 900), ("24h", 86_400), ("7d", 604_800)]
)
def test_durations(text: str, seconds: int) -> None:
    assert lifecycle.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "1w", "-1h", "h", "1.5h"])
def test_not_durations(text: str) -> None:
    with pytest.raises(lifecycle.KeysError):
        lifecycle.parse_duration(text)
