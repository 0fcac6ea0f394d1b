"""deploy/besu/: the committed genesis, allowlist and node configs agree with each other, and
generate.py makes keys that match what it writes."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_keys.datatypes import PublicKey

from tests.deploy.deploy_support import BESU, besu_generator, load_json, load_toml

#: Fork keys that would bring in Shanghai (PUSH0, withdrawals) or later rules.
FORBIDDEN_FORKS = (
    "shanghaiTime",
    "shanghaiBlock",
    "cancunTime",
    "cancunBlock",
    "pragueTime",
    "osakaTime",
    "futureEipsTime",
    "experimentalEipsTime",
    "terminalTotalDifficulty",
    "mergeNetsplitBlock",
)
#: QBFT extraData from Besu's documentation (configure/consensus/qbft.md, four validators).
BESU_DOCS_EXTRA_DATA = (
    "0xf87aa00000000000000000000000000000000000000000000000000000000000000000f8549464a702e626"
    "3b7297a96638cac6ae65e6541f4169943923390ad55e90c237593b3b0e401f3b08a0318594aefdb9a738c9f4"
    "33e5b6b212a6d62f6370c2f69294c7eeb9a4e00ce683cf93039b212648e01c6c6b78c080c0"
)
BESU_DOCS_VALIDATORS = [
    "0x64a702e6263b7297a96638cac6ae65e6541f4169",
    "0x3923390ad55e90c237593b3b0e401f3b08a03185",
    "0xaefdb9a738c9f433e5b6b212a6d62f6370c2f692",
    "0xc7eeb9a4e00ce683cf93039b212648e01c6c6b78",
]


def _genesis() -> dict[str, Any]:
    genesis: dict[str, Any] = load_json(BESU / "genesis.json")
    return genesis


def _validators() -> list[dict[str, str]]:
    document = load_json(BESU / "validators.json")
    validators: list[dict[str, str]] = document["validators"]
    return validators


def test_the_extra_data_encoding_matches_besus_documented_example() -> None:
    generate = besu_generator()
    assert generate.qbft_extra_data(BESU_DOCS_VALIDATORS) == BESU_DOCS_EXTRA_DATA
    vanity, validators, vote, round_number, seals = generate.decode_qbft_extra_data(
        BESU_DOCS_EXTRA_DATA
    )
    assert (vanity, validators, vote, round_number, seals) == (
        bytes(32),
        BESU_DOCS_VALIDATORS,
        [],
        0,
        [],
    )


def test_genesis_is_qbft_with_zero_base_fee_and_london_rules() -> None:
    config = _genesis()["config"]
    assert config["zeroBaseFee"] is True
    assert config["londonBlock"] == 0 and config["berlinBlock"] == 0
    assert config["chainId"] == load_json(BESU / "validators.json")["chainId"]
    qbft = config["qbft"]
    assert qbft["blockperiodseconds"] >= 1
    assert qbft["requesttimeoutseconds"] > qbft["blockperiodseconds"]
    assert qbft["epochlength"] > 0
    assert not {"ibft2", "clique", "ethash"} & set(config)
    assert _genesis()["mixHash"] == besu_generator().BFT_MIX_HASH


def test_genesis_enables_no_shanghai_or_later_fork() -> None:
    config = _genesis()["config"]
    assert not {key.lower() for key in config} & {key.lower() for key in FORBIDDEN_FORKS}


def test_genesis_extra_data_names_exactly_the_four_committed_validators() -> None:
    vanity, validators, vote, round_number, seals = besu_generator().decode_qbft_extra_data(
        _genesis()["extraData"]
    )
    assert vanity == bytes(32)
    assert (vote, round_number, seals) == ([], 0, [])
    committed = [v["address"].lower() for v in _validators()]
    assert len(committed) == 4 == len(set(committed))
    assert validators == committed


def test_each_validator_address_is_the_address_of_its_enode_public_key() -> None:
    for validator in _validators():
        public_key = PublicKey(bytes.fromhex(validator["public_key"]))
        assert public_key.to_checksum_address() == validator["address"]
        assert validator["enode"].startswith(f"enode://{validator['public_key']}@")


def test_the_allowlist_holds_every_validator_and_nothing_else() -> None:
    allowlist = load_toml(BESU / "permissions_config.toml")["nodes-allowlist"]
    assert sorted(allowlist) == sorted(v["enode"] for v in _validators())


@pytest.mark.parametrize("name", ["validator-1", "validator-2", "validator-3", "validator-4"])
def test_each_node_config_serves_rpc_at_zero_gas_price_to_allowlisted_peers(name: str) -> None:
    config = load_toml(BESU / "nodes" / f"{name}.toml")
    validator = next(v for v in _validators() if v["name"] == name)
    assert config["rpc-http-enabled"] is True
    assert set(config["rpc-http-api"]) == {"ETH", "NET", "WEB3", "QBFT"}
    assert name in config["host-allowlist"] and "*" not in config["host-allowlist"]
    assert config["min-gas-price"] == 0
    assert config["permissions-nodes-config-file-enabled"] is True
    assert config["permissions-nodes-config-file"] == "/config/permissions_config.toml"
    assert config["genesis-file"] == "/config/genesis.json"
    assert config["p2p-host"] == validator["ip"]
    others = {v["enode"] for v in _validators() if v["name"] != name}
    assert set(config["bootnodes"]) == others


def test_no_node_key_is_tracked_by_git_and_the_keys_folder_is_ignored() -> None:
    root = BESU.parents[1]
    tracked = subprocess.run(
        ["git", "ls-files", "deploy/besu"], cwd=root, capture_output=True, text=True, check=True
    ).stdout.split()
    assert "deploy/besu/genesis.json" in tracked
    assert not [p for p in tracked if "/keys/" in p or Path(p).name == "key"]
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "deploy/besu/keys/validator-1/key"], cwd=root, check=False
    )
    assert ignored.returncode == 0


def test_generate_writes_keys_that_match_the_genesis_it_writes(tmp_path: Path) -> None:
    generate = besu_generator()
    out, keys_dir = tmp_path / "besu", tmp_path / "keys"
    validators = generate.generate(out, keys_dir)

    genesis = load_json(out / "genesis.json")
    _, in_genesis, _, _, _ = generate.decode_qbft_extra_data(genesis["extraData"])
    for validator, address in zip(validators, in_genesis, strict=True):
        key_file = keys_dir / validator.name / "key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        private_key = bytes.fromhex(key_file.read_text(encoding="ascii").removeprefix("0x"))
        assert Account.from_key(private_key).address.lower() == address == validator.address.lower()
    allowlist = load_toml(out / "permissions_config.toml")["nodes-allowlist"]
    assert allowlist == [v.enode for v in validators]
    # The committed files have the same shape as freshly generated ones.
    assert sorted(p.name for p in (out / "nodes").iterdir()) == sorted(
        p.name for p in (BESU / "nodes").iterdir()
    )
    fresh = load_json(out / "genesis.json")
    committed = _genesis()
    assert {k: v for k, v in fresh.items() if k != "extraData"} == {
        k: v for k, v in committed.items() if k != "extraData"
    }


def test_generate_never_replaces_keys_silently(tmp_path: Path) -> None:
    generate = besu_generator()
    first = generate.generate(tmp_path / "out", tmp_path / "keys")
    with pytest.raises(FileExistsError, match="keys are never replaced silently"):
        generate.generate(tmp_path / "out", tmp_path / "keys")
    second = generate.generate(tmp_path / "out", tmp_path / "keys", force=True)
    assert {v.address for v in first}.isdisjoint({v.address for v in second})
