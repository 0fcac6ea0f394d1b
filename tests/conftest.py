"""Fixtures shared across the suite: chains (embedded and real nodes), deployments, participants."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from eth_account.signers.local import LocalAccount

from chain.client import Chain
from chain.deployment import Deployment, deploy_contracts
from chain.ledger import Ledger
from devkit.constants import REGULATOR_GLN
from devkit.nodes import available, running_node
from medledger.epcis.gs1 import check_digit
from medledger.roles import Role

if TYPE_CHECKING:  # the gateway and indexer load only for the tests that use a network
    from tests.support.network import Network

# Gateways the tests start keep capture at their batcher's CPU priority: the suite shares its
# cores with itself (pytest -n 2), and a lowered priority only reorders work there, which the
# benchmarks measure; tests/provenance/test_serve.py sets and checks the niceness itself.
os.environ.setdefault("PROVENANCE_GATEWAY_CAPTURE_NICENESS", "0")


def gln_with_check_digit(body12: str) -> int:
    return int(body12 + str(check_digit(body12)))


@pytest.fixture
def chain() -> Chain:
    """A fresh in-process chain."""
    return Chain.embedded()


@pytest.fixture
def regulator(chain: Chain) -> LocalAccount:
    return chain.new_funded_account()


@pytest.fixture
def deployment(chain: Chain, regulator: LocalAccount) -> Deployment:
    return deploy_contracts(chain, regulator, REGULATOR_GLN)


@pytest.fixture
def ledger(chain: Chain, deployment: Deployment) -> Ledger:
    return Ledger(chain, deployment)


ParticipantFactory = Callable[[Role], LocalAccount]


def participants_of(ledger: Ledger, regulator: LocalAccount) -> ParticipantFactory:
    """A factory of funded, registered, active participants, each with a GLN of its own."""
    counter = iter(range(1, 10_000))

    def make(roles: Role) -> LocalAccount:
        account = ledger.chain.new_funded_account()
        gln = gln_with_check_digit(f"47001{next(counter):07d}")
        ledger.register_participant(regulator, account.address, roles, gln)
        return account

    return make


@pytest.fixture
def participant(ledger: Ledger, regulator: LocalAccount) -> ParticipantFactory:
    """Make a funded, registered, active participant with the given roles."""
    return participants_of(ledger, regulator)


@pytest.fixture(scope="module")
def module_ledger() -> tuple[Ledger, LocalAccount]:
    """A deployment on a chain of its own, kept for a module, and its regulator: for modules
    whose tests anchor and read, each with participants and roots of their own. A module takes
    it with module-scoped ``ledger`` and ``participant`` fixtures (see tests/chain)."""
    chain = Chain.embedded()
    regulator = chain.new_funded_account()
    return Ledger(chain, deploy_contracts(chain, regulator, REGULATOR_GLN)), regulator


@pytest.fixture(params=["ganache", "anvil"])
def rpc_chain(request: pytest.FixtureRequest) -> Iterator[Chain]:
    """A real JSON-RPC node from node_modules, started on a free port and stopped by pid."""
    kind = str(request.param)
    if not available(kind):
        pytest.skip(f"{kind} is not installed in node_modules (run `make deps`)")
    with running_node(kind) as node:
        yield Chain.from_url(node.url, poll_interval=0.05)


@pytest.fixture
def network(tmp_path: Path) -> Iterator[Network]:
    """A gateway on the in-process chain, with every journey actor registered."""
    from tests.support.network import start_network

    net = start_network(tmp_path / "gateway")
    yield net
    net.gateway.stop()


@pytest.fixture(scope="module")
def module_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    """``network`` once per module (a gateway costs 3-5 s of setup): for modules whose tests
    capture nothing, here the indexer's own tests that read no journey. A module takes it with
    a module-scoped ``network`` fixture returning it."""
    from tests.support.network import start_network

    net = start_network(tmp_path_factory.mktemp("network") / "gateway")
    yield net
    net.gateway.stop()
