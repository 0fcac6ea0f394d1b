"""docker-compose.yml, deploy/besu/docker-compose.yml and the Dockerfile, checked without Docker:
services, ports, settings variables that exist, health checks, persistent volumes, secrets."""

from __future__ import annotations

import re
from typing import Any

import pytest

from gateway.settings import GatewaySettings
from indexer.settings import IndexerSettings
from tests.deploy.deploy_support import BESU, ROOT, load_toml, load_yaml

SETTINGS: dict[str, tuple[str, set[str]]] = {
    "gateway": ("PROVENANCE_GATEWAY_", set(GatewaySettings.model_fields)),
    "indexer": ("PROVENANCE_INDEXER_", set(IndexerSettings.model_fields)),
}
PORTS = {"gateway": 8000, "indexer": 8001}
_SECRET_NAMES = ("PASSWORD", "SEED", "SECRET", "API_KEY")
_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?])?([^}]*)\}")


def _compose() -> dict[str, Any]:
    return load_yaml(ROOT / "docker-compose.yml")


def _services() -> dict[str, Any]:
    services: dict[str, Any] = _compose()["services"]
    return services


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _healthcheck_text(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    return " ".join(test) if isinstance(test, list) else str(test)


def _volume_targets(service: dict[str, Any]) -> dict[str, str]:
    """target path -> source (named volume or host path)."""
    targets = {}
    for volume in service.get("volumes", []):
        source, target = str(volume).split(":")[:2]
        targets[target] = source
    return targets


def test_the_services_are_chain_postgres_gateway_and_indexer() -> None:
    assert set(_services()) == {"chain", "postgres", "gateway", "indexer"}


@pytest.mark.parametrize("name", ["gateway", "indexer"])
def test_every_settings_variable_is_a_field_of_the_settings_class(name: str) -> None:
    prefix, fields = SETTINGS[name]
    env = _environment(_services()[name])
    ours = {k for k in env if k.startswith("PROVENANCE_")}
    assert ours, f"{name} sets no {prefix}* variable"
    for variable in ours:
        assert variable.startswith(prefix), f"{name} sets {variable}, not a {prefix}* variable"
        field = variable.removeprefix(prefix).lower()
        assert field in fields, f"{variable}: {field!r} is not a field of {name}'s settings"


@pytest.mark.parametrize("name", ["gateway", "indexer"])
def test_services_run_provenance_listen_on_all_interfaces_and_publish_their_port(
    name: str,
) -> None:
    service = _services()[name]
    prefix, _ = SETTINGS[name]
    env = _environment(service)
    port = PORTS[name]
    assert service["command"][0] == name  # the image's entrypoint is `provenance`
    assert env[f"{prefix}HOST"] == "0.0.0.0"
    assert env[f"{prefix}PORT"] == str(port)
    assert env[f"{prefix}ENVIRONMENT"] == "production"
    assert env[f"{prefix}CHAIN_URL"] == "http://chain:8545"
    assert env[f"{prefix}DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@postgres:5432/" in env[f"{prefix}DATABASE_URL"]
    assert f"{port}:{port}" in [str(p).removeprefix("127.0.0.1:") for p in service["ports"]]
    assert service["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_the_gateways_health_check_is_readiness_the_indexers_liveness() -> None:
    # The indexer depends on a *ready* gateway (deployment written, contracts on the chain);
    # an indexer catching up on a long chain is alive, not unhealthy (docs/operations.md).
    services = _services()
    assert "http://127.0.0.1:8000/readyz" in _healthcheck_text(services["gateway"])
    assert "http://127.0.0.1:8001/healthz" in _healthcheck_text(services["indexer"])


def test_the_gateway_data_dir_on_the_command_line_agrees_with_its_environment() -> None:
    gateway = _services()["gateway"]
    command = gateway["command"]
    env = _environment(gateway)
    assert command[command.index("--data-dir") + 1] == env["PROVENANCE_GATEWAY_DATA_DIR"]


def test_chain_postgres_keys_and_service_data_persist_in_named_volumes() -> None:
    named = set(_compose()["volumes"])
    services = _services()
    expected = {
        "chain": "/data",
        "postgres": "/var/lib/postgresql/data",
        "gateway": "/data",
        "indexer": "/data",
    }
    for service, target in expected.items():
        source = _volume_targets(services[service]).get(target)
        assert source in named, f"{service}:{target} is not on a named volume"
    chain_command = " ".join(services["chain"]["command"])
    assert "--database.dbPath=/data" in chain_command
    gateway_env = _environment(services["gateway"])
    keys = _volume_targets(services["gateway"])[gateway_env["PROVENANCE_GATEWAY_KEYSTORE_DIR"]]
    assert keys in named


def test_the_indexer_reads_only_the_gateways_export_read_only_never_the_regulator_key() -> None:
    """Issue 15: the gateway writes deployment.json and a batch-reader key for the indexer to
    an export volume; the indexer mounts that one, read-only, and not the gateway's data."""
    services = _services()
    indexer, gateway = services["indexer"], services["gateway"]
    env, gateway_env = _environment(indexer), _environment(gateway)
    mounts = [str(v) for v in indexer["volumes"]]
    gateway_mounts = _volume_targets(gateway)
    export = gateway_mounts[gateway_env["PROVENANCE_GATEWAY_EXPORT_DIR"]]
    assert export in set(_compose()["volumes"])
    assert f"{export}:/gateway-export:ro" in mounts
    for private in ("/data", gateway_env["PROVENANCE_GATEWAY_KEYSTORE_DIR"]):
        assert not any(m.split(":")[0] == gateway_mounts[private] for m in mounts)
    assert env["PROVENANCE_INDEXER_DEPLOYMENT_FILE"] == "/gateway-export/deployment.json"
    assert env["PROVENANCE_INDEXER_GATEWAY_API_KEY_FILE"] == "/gateway-export/indexer.api-key"
    assert env["PROVENANCE_INDEXER_GATEWAY_URL"] == "http://gateway:8000"
    assert indexer["depends_on"]["gateway"]["condition"] == "service_healthy"


def test_the_chain_runs_london_rules_and_postgres_has_a_pg_isready_check() -> None:
    services = _services()
    assert "--chain.hardfork=london" in services["chain"]["command"]
    assert "--server.host=0.0.0.0" in services["chain"]["command"]
    assert "eth_chainId" in _healthcheck_text(services["chain"])
    assert services["postgres"]["image"] == "postgres:16"
    assert _healthcheck_text(services["postgres"]).startswith("CMD pg_isready")


def _secret_values(document: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for name, service in document["services"].items():
        for key, value in _environment(service).items():
            found.append((f"{name}.{key}", value))
        command = service.get("command", [])
        for item in command if isinstance(command, list) else [command]:
            found.append((f"{name}.command", str(item)))
    return found


def test_secrets_come_from_the_environment_and_are_required() -> None:
    for where, value in _secret_values(_compose()):
        for variable, operator, _ in _INTERPOLATION.findall(value):
            if any(s in variable for s in _SECRET_NAMES):
                assert operator == ":?", f"{where}: ${{{variable}}} must be ${{{variable}:?...}}"
        if where.endswith(("PASSWORD", "SEED")):
            assert "${" in value and ":?" in value, f"{where} is not a required variable"
    env = dict(_secret_values(_compose()))
    assert env["gateway.PROVENANCE_GATEWAY_KEYSTORE_PASSWORD"].startswith(
        "${PROVENANCE_KEYSTORE_PASSWORD:?"
    )
    assert env["postgres.POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    assert "${POSTGRES_PASSWORD:?" in env["gateway.PROVENANCE_GATEWAY_DATABASE_URL"]


def test_the_dockerfile_installs_the_locked_package_and_runs_provenance_as_a_non_root_user() -> (
    None
):
    lines = [
        line.strip()
        for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    froms = [line for line in lines if line.startswith("FROM ")]
    # A supported Python on a slim Debian, pinned to a release (not a moving tag).
    assert froms and all(line.split()[1] == "python:3.12.11-slim-bookworm" for line in froms)
    # Every dependency pinned with hashes, then the package without resolving again.
    assert any("--require-hashes" in line and "requirements.lock" in line for line in lines)
    assert any("pip install --no-deps --no-build-isolation ." in line for line in lines)
    assert not any("[embedded]" in line or "[dev]" in line for line in lines)
    user = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert user and user[-1] not in {"root", "0"}
    assert 'ENTRYPOINT ["provenance"]' in lines
    # The compiled contracts are package data now: nothing to copy beside the package.
    assert not any("PROVENANCE_ARTIFACTS_DIR=" in line for line in lines)
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".venv", "node_modules", ".git", "deploy"} <= set(ignored)
    assert "requirements.lock" not in ignored


def test_the_lock_pins_every_runtime_dependency_with_hashes_and_leaves_dev_tools_out() -> None:
    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    pinned = {
        line.split("==")[0].strip().lower()
        for line in lock.splitlines()
        if "==" in line and not line.startswith((" ", "#"))
    }
    assert {"httpx", "web3", "fastapi", "uvicorn", "sqlalchemy", "setuptools"} <= pinned
    assert not pinned & {"eth-tester", "py-evm", "pytest", "coincurve", "schemathesis"}
    entries = [e for e in lock.split("\n") if "==" in e and not e.startswith((" ", "#"))]
    assert all(e.rstrip().endswith("\\") for e in entries), "a pin without --hash lines"
    dev = (ROOT / "requirements-dev.lock").read_text(encoding="utf-8")
    assert "\neth-tester==" in dev and "\npy-evm==" in dev and "\npytest==" in dev


def test_the_chain_image_is_a_supported_pinned_node() -> None:
    lines = (ROOT / "deploy" / "chain" / "Dockerfile").read_text(encoding="utf-8").splitlines()
    image = next(line.split()[1] for line in lines if line.startswith("FROM "))
    name, version = image.split(":")
    major = int(version.split(".")[0])
    assert name == "node" and major in (22, 24) and version.count(".") == 2  # LTS, pinned


# --- deploy/besu/docker-compose.yml -----------------------------------------------------------


def _besu() -> dict[str, Any]:
    return load_yaml(BESU / "docker-compose.yml")


def test_besu_compose_runs_the_four_validators_on_a_pinned_image() -> None:
    services = _besu()["services"]
    assert set(services) == {"validator-1", "validator-2", "validator-3", "validator-4"}
    for service in services.values():
        image = service["image"]
        assert image.startswith("hyperledger/besu:")
        assert re.fullmatch(r"\d+\.\d+\.\d+", image.split(":")[1]), f"{image} is not pinned"


@pytest.mark.parametrize("name", ["validator-1", "validator-2", "validator-3", "validator-4"])
def test_each_validator_mounts_its_own_config_and_key_and_keeps_its_data(name: str) -> None:
    document = _besu()
    service = document["services"][name]
    targets = _volume_targets(service)
    assert targets["/config/node.toml"] == f"./nodes/{name}.toml"
    assert targets["/keys"] == f"./keys/{name}"
    assert targets["/config/genesis.json"] == "./genesis.json"
    assert targets["/config/permissions_config.toml"] == "./permissions_config.toml"
    node = load_toml(BESU / "nodes" / f"{name}.toml")
    assert targets[node["data-path"]] in set(document["volumes"])
    assert node["node-private-key-file"] == "/keys/key"
    assert service["networks"]["qbft"]["ipv4_address"] == node["p2p-host"]
    assert "/liveness" in _healthcheck_text(service)
    assert f"127.0.0.1/{node['rpc-http-port']}" in _healthcheck_text(service)


def test_besu_rpc_is_published_on_loopback_only() -> None:
    published = [
        str(port) for service in _besu()["services"].values() for port in service.get("ports", [])
    ]
    assert published == ["127.0.0.1:8545:8545"]


def test_the_besu_network_subnet_holds_the_validator_addresses() -> None:
    import ipaddress

    subnet = ipaddress.ip_network(_besu()["networks"]["qbft"]["ipam"]["config"][0]["subnet"])
    for service in _besu()["services"].values():
        assert ipaddress.ip_address(service["networks"]["qbft"]["ipv4_address"]) in subnet


@pytest.mark.parametrize("compose", ["docker-compose.yml", "deploy/besu/docker-compose.yml"])
def test_every_service_is_restarted_when_it_fails(compose: str) -> None:
    """Issue 14, Supervision: a service that dies (a crash, or `provenance gateway` exiting 1
    because its batcher process died) is started again by compose."""
    services: dict[str, Any] = load_yaml(ROOT / compose)["services"]
    for name, service in services.items():
        assert service.get("restart") in {"on-failure", "unless-stopped", "always"}, name
