"""Generate the four-validator Besu QBFT network: node keys, genesis, allowlist, node configs.

Run from the repository root::

    .venv/bin/python deploy/besu/generate.py            # refuses to replace existing keys
    .venv/bin/python deploy/besu/generate.py --force    # new keys, new genesis (a new chain)

Private node keys go to ``deploy/besu/keys/<node>/key`` (git-ignored, mode 0600). Everything
public is rewritten beside this script and is meant to be committed: ``genesis.json`` (with the
validators in its QBFT ``extraData``), ``validators.json`` (the public node list),
``permissions_config.toml`` (the node allowlist) and ``nodes/<node>.toml`` (one Besu config per
node). A validator's address is the Ethereum address of its node key; its enode id is the
uncompressed public key.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import rlp  # type: ignore[import-untyped]
from eth_account import Account
from eth_keys.datatypes import PrivateKey

HERE = Path(__file__).resolve().parent

#: Network-wide settings (all validators must agree on these; they live in the genesis).
CHAIN_ID = 47001
BLOCK_PERIOD_SECONDS = 2
REQUEST_TIMEOUT_SECONDS = 4
EPOCH_LENGTH = 30000
GAS_LIMIT = "0x5F5E100"  # 100 M gas per block: gas is free, so the limit is about block time
#: The BFT "mix hash" Besu requires in IBFT 2.0 / QBFT genesis files.
BFT_MIX_HASH = "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365"
#: Fork rules: up to London at block 0. No Shanghai or Cancun (the contracts target paris and
#: ganache 7.9 / QBFT genesis files here stay pre-Shanghai: no PUSH0, no blobs).
FORK_BLOCKS = (
    "homesteadBlock",
    "eip150Block",
    "eip155Block",
    "eip158Block",
    "byzantiumBlock",
    "constantinopleBlock",
    "petersburgBlock",
    "istanbulBlock",
    "muirGlacierBlock",
    "berlinBlock",
    "londonBlock",
)

#: The docker network the compose file creates; each validator has a fixed address on it
#: (enode URLs in the allowlist name IP addresses).
SUBNET = "172.28.47.0/24"
P2P_PORT = 30303
RPC_PORT = 8545
METRICS_PORT = 9545
NODE_NAMES = ("validator-1", "validator-2", "validator-3", "validator-4")
#: Host names clients may use in the Host header of RPC requests.
RPC_HOST_ALLOWLIST = ("localhost", "127.0.0.1", *NODE_NAMES)
RPC_APIS = ("ETH", "NET", "WEB3", "QBFT")


@dataclass(frozen=True)
class Validator:
    name: str
    address: str
    public_key: str  # 64 bytes, hex without 0x: the enode id
    ip: str

    @property
    def enode(self) -> str:
        return f"enode://{self.public_key}@{self.ip}:{P2P_PORT}"


def node_ip(index: int) -> str:
    return f"172.28.47.{11 + index}"


def validator_from_key(name: str, index: int, private_key: bytes) -> Validator:
    key = PrivateKey(private_key)
    return Validator(
        name=name,
        address=Account.from_key(private_key).address,
        public_key=key.public_key.to_bytes().hex(),
        ip=node_ip(index),
    )


def qbft_extra_data(addresses: list[str]) -> str:
    """RLP([32-byte vanity, [validators], vote (none: empty list), round 0, seals (none)])."""
    validators = [bytes.fromhex(a.removeprefix("0x")) for a in addresses]
    encoded = rlp.encode([b"\x00" * 32, validators, [], 0, []])
    return "0x" + bytes(encoded).hex()


ExtraData = tuple[bytes, list[str], list[bytes], int, list[bytes]]


def decode_qbft_extra_data(extra_data: str) -> ExtraData:
    """The inverse of :func:`qbft_extra_data` (vanity, validators, vote, round, seals)."""
    vanity, validators, vote, round_bytes, seals = rlp.decode(
        bytes.fromhex(extra_data.removeprefix("0x"))
    )
    addresses = ["0x" + bytes(v).hex() for v in validators]
    return (
        bytes(vanity),
        addresses,
        list(vote),
        int.from_bytes(bytes(round_bytes), "big"),
        list(seals),
    )


def genesis(validators: list[Validator]) -> dict[str, object]:
    config: dict[str, object] = {"chainId": CHAIN_ID}
    config.update(dict.fromkeys(FORK_BLOCKS, 0))
    config["zeroBaseFee"] = True
    config["qbft"] = {
        "blockperiodseconds": BLOCK_PERIOD_SECONDS,
        "epochlength": EPOCH_LENGTH,
        "requesttimeoutseconds": REQUEST_TIMEOUT_SECONDS,
    }
    return {
        "config": config,
        "nonce": "0x0",
        "timestamp": "0x0",
        "gasLimit": GAS_LIMIT,
        "difficulty": "0x1",
        "mixHash": BFT_MIX_HASH,
        "coinbase": "0x0000000000000000000000000000000000000000",
        "alloc": {},
        "extraData": qbft_extra_data([v.address for v in validators]),
    }


def _toml_list(values: list[str] | tuple[str, ...]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def permissions_config(validators: list[Validator]) -> str:
    lines = [
        "# Node permissioning: only these nodes may connect (written by generate.py).",
        "# Add a node here, on every node, before it joins; see docs/deployment.md.",
        "nodes-allowlist=[",
        *(f'  "{v.enode}",' for v in validators),
        "]",
        "",
    ]
    return "\n".join(lines)


def node_config(validator: Validator, validators: list[Validator]) -> str:
    bootnodes = [v.enode for v in validators if v.name != validator.name]
    return "\n".join(
        [
            f"# Besu configuration of {validator.name} (written by generate.py).",
            'data-path="/opt/besu/data"',
            'genesis-file="/config/genesis.json"',
            'node-private-key-file="/keys/key"',
            "",
            "# peer-to-peer: a fixed address on the compose network, allowlisted peers only",
            f'p2p-host="{validator.ip}"',
            f"p2p-port={P2P_PORT}",
            'nat-method="NONE"',
            f"bootnodes={_toml_list(bootnodes)}",
            "permissions-nodes-config-file-enabled=true",
            'permissions-nodes-config-file="/config/permissions_config.toml"',
            "",
            "# JSON-RPC over HTTP for the gateway and the indexer",
            "rpc-http-enabled=true",
            'rpc-http-host="0.0.0.0"',
            f"rpc-http-port={RPC_PORT}",
            f"rpc-http-api={_toml_list(RPC_APIS)}",
            f"host-allowlist={_toml_list(RPC_HOST_ALLOWLIST)}",
            "revert-reason-enabled=true",
            "",
            "# free gas: every node must accept a zero gas price (the genesis sets zeroBaseFee)",
            "min-gas-price=0",
            "",
            "# Prometheus metrics",
            "metrics-enabled=true",
            'metrics-host="0.0.0.0"',
            f"metrics-port={METRICS_PORT}",
            "",
            'sync-mode="FULL"',
            'logging="INFO"',
            "",
        ]
    )


def write_key(path: Path, private_key: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write("0x" + private_key.hex())


def generate(out_dir: Path, keys_dir: Path, *, force: bool = False) -> list[Validator]:
    """Make four validator keys and write every file of the network; the validators."""
    key_files = [keys_dir / name / "key" for name in NODE_NAMES]
    existing = [path for path in key_files if path.exists()]
    if existing and not force:
        raise FileExistsError(
            f"{existing[0]} exists: keys are never replaced silently (use --force for a new chain)"
        )
    for path in existing:
        path.unlink()
    validators = []
    for index, name in enumerate(NODE_NAMES):
        private_key = bytes(Account.create().key)
        write_key(keys_dir / name / "key", private_key)
        validator = validator_from_key(name, index, private_key)
        (keys_dir / name / "key.pub").write_text("0x" + validator.public_key, encoding="ascii")
        validators.append(validator)

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "genesis.json").write_text(
        json.dumps(genesis(validators), indent=2) + "\n", encoding="utf-8"
    )
    public = [{**asdict(v), "enode": v.enode} for v in validators]
    (out_dir / "validators.json").write_text(
        json.dumps({"chainId": CHAIN_ID, "validators": public}, indent=2) + "\n", encoding="utf-8"
    )
    (out_dir / "permissions_config.toml").write_text(
        permissions_config(validators), encoding="utf-8"
    )
    nodes_dir = out_dir / "nodes"
    nodes_dir.mkdir(exist_ok=True)
    for validator in validators:
        (nodes_dir / f"{validator.name}.toml").write_text(
            node_config(validator, validators), encoding="utf-8"
        )
    return validators


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder for the public files")
    parser.add_argument(
        "--keys", type=Path, default=HERE / "keys", help="folder for the private node keys"
    )
    parser.add_argument("--force", action="store_true", help="replace existing keys (new chain)")
    args = parser.parse_args(argv)
    try:
        validators = generate(args.out, args.keys, force=args.force)
    except FileExistsError as exc:
        print(exc, file=sys.stderr)
        return 1
    for v in validators:
        print(f"{v.name}: {v.address}  {v.enode}")
    print(f"keys in {args.keys} (keep them secret); public files in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
