"""Every JSON-RPC method our code calls is one Besu serves with the ETH, NET and WEB3 APIs.

"Our methods" are found by scanning the source (``<x>.eth.<name>``, ``<x>.net.<name>``,
``make_request("...")``, contract ``.call()`` / ``.transact()`` / ``.get_logs()``), so a new call
that Besu lacks, or a web3 attribute not mapped below, fails this test.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.deploy.deploy_support import ROOT

PACKAGES = ("chain", "gateway", "indexer", "provenance")

#: Besu's JSON-RPC methods in the ETH, NET and WEB3 APIs, from Besu's API reference
#: (besu-docs, docs/public-networks/reference/api/index.md: "ETH methods", "NET methods",
#: "WEB3 methods"). eth_maxPriorityFeePerGas is in Besu's RpcMethod enum
#: (ETH_GET_MAX_PRIORITY_FEE_PER_GAS) though older reference pages omit it. Besu does NOT
#: implement eth_sendTransaction ("Besu doesn't implement eth_sendTransaction"): it holds no keys.
BESU_ETH_NET_WEB3 = frozenset(
    {
        "eth_accounts",
        "eth_blockNumber",
        "eth_call",
        "eth_chainId",
        "eth_coinbase",
        "eth_createAccessList",
        "eth_estimateGas",
        "eth_feeHistory",
        "eth_gasPrice",
        "eth_getBalance",
        "eth_getBlockByHash",
        "eth_getBlockByNumber",
        "eth_getBlockTransactionCountByHash",
        "eth_getBlockTransactionCountByNumber",
        "eth_getCode",
        "eth_getFilterChanges",
        "eth_getFilterLogs",
        "eth_getLogs",
        "eth_getMinerDataByBlockHash",
        "eth_getMinerDataByBlockNumber",
        "eth_getProof",
        "eth_getStorageAt",
        "eth_getTransactionByBlockHashAndIndex",
        "eth_getTransactionByBlockNumberAndIndex",
        "eth_getTransactionByHash",
        "eth_getTransactionCount",
        "eth_getTransactionReceipt",
        "eth_getUncleByBlockHashAndIndex",
        "eth_getUncleByBlockNumberAndIndex",
        "eth_getUncleCountByBlockHash",
        "eth_getUncleCountByBlockNumber",
        "eth_getWork",
        "eth_hashrate",
        "eth_maxPriorityFeePerGas",
        "eth_mining",
        "eth_newBlockFilter",
        "eth_newFilter",
        "eth_newPendingTransactionFilter",
        "eth_protocolVersion",
        "eth_sendRawTransaction",
        "eth_submitHashrate",
        "eth_submitWork",
        "eth_syncing",
        "eth_uninstallFilter",
        "net_enode",
        "net_listening",
        "net_peerCount",
        "net_services",
        "net_version",
        "web3_clientVersion",
        "web3_sha3",
    }
)

#: web3.py attributes of ``w3.eth`` / ``w3.net`` and the JSON-RPC method each calls (None: local).
WEB3_ATTRIBUTES: dict[str, str | None] = {
    "eth.accounts": "eth_accounts",
    "eth.block_number": "eth_blockNumber",
    "eth.call": "eth_call",
    "eth.chain_id": "eth_chainId",
    "eth.contract": None,
    "eth.account": None,
    "eth.estimate_gas": "eth_estimateGas",
    "eth.fee_history": "eth_feeHistory",
    "eth.gas_price": "eth_gasPrice",
    "eth.get_balance": "eth_getBalance",
    "eth.get_block": "eth_getBlockByNumber",
    "eth.get_code": "eth_getCode",
    "eth.get_logs": "eth_getLogs",
    "eth.get_storage_at": "eth_getStorageAt",
    "eth.get_transaction": "eth_getTransactionByHash",
    "eth.get_transaction_count": "eth_getTransactionCount",
    "eth.get_transaction_receipt": "eth_getTransactionReceipt",
    "eth.max_priority_fee": "eth_maxPriorityFeePerGas",
    "eth.send_raw_transaction": "eth_sendRawTransaction",
    "eth.send_transaction": "eth_sendTransaction",
    "eth.syncing": "eth_syncing",
    "eth.wait_for_transaction_receipt": "eth_getTransactionReceipt",
    "net.listening": "net_listening",
    "net.peer_count": "net_peerCount",
    "net.version": "net_version",
}

#: Methods Besu lacks that we call anyway, and why that is safe. Each is confined to one file.
DEV_NODE_ONLY = {
    # Chain.fund: sends from a development node's unlocked account. The gateway only funds when
    # dev_accounts() (eth_accounts) is non-empty, and Besu's eth_accounts is always empty.
    "eth_sendTransaction": "chain/client.py",
}

_ATTRIBUTE = re.compile(r"\.(eth|net)\.([a-z_]+)\b")
_LITERAL = re.compile(r"(?:make_request|RPCEndpoint)\(\s*[\"']([a-z0-9]+_[A-Za-z0-9]+)[\"']")
_CONTRACT_CALLS = {
    re.compile(r"\)\.call\("): "eth_call",
    re.compile(r"\)\.transact\("): "eth_sendTransaction",
    re.compile(r"\)\.estimate_gas\("): "eth_estimateGas",
    re.compile(r"\.events\.\w+(?:\(\))?\.get_logs\("): "eth_getLogs",
    re.compile(r"\.create_filter\("): "eth_newFilter",
}


def _sources() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def used_methods() -> dict[str, set[str]]:
    """JSON-RPC method -> the files (relative) that call it."""
    used: dict[str, set[str]] = {}
    unknown: list[str] = []
    for path in _sources():
        text = path.read_text(encoding="utf-8")
        where = str(path.relative_to(ROOT))
        for namespace, name in _ATTRIBUTE.findall(text):
            key = f"{namespace}.{name}"
            if key not in WEB3_ATTRIBUTES:
                unknown.append(f"{where}: w3.{key}")
                continue
            method = WEB3_ATTRIBUTES[key]
            if method is not None:
                used.setdefault(method, set()).add(where)
        for method in _LITERAL.findall(text):
            used.setdefault(method, set()).add(where)
        for pattern, method in _CONTRACT_CALLS.items():
            if pattern.search(text):
                used.setdefault(method, set()).add(where)
    assert not unknown, f"map these web3 attributes to JSON-RPC methods: {unknown}"
    return used


def test_the_scan_finds_the_calls_we_know_about() -> None:
    used = used_methods()
    for method in (
        "eth_chainId",
        "eth_blockNumber",
        "eth_getBlockByNumber",
        "eth_estimateGas",
        "eth_getTransactionCount",
        "eth_sendRawTransaction",
        "eth_getTransactionReceipt",
        "eth_call",
        "eth_getCode",
    ):
        assert method in used, method


def test_every_method_we_call_is_served_by_besu() -> None:
    used = used_methods()
    missing = {
        method: sorted(files)
        for method, files in used.items()
        if method not in BESU_ETH_NET_WEB3 and method not in DEV_NODE_ONLY
    }
    assert not missing, f"Besu (ETH, NET, WEB3 APIs) does not serve: {missing}"


def test_methods_besu_lacks_stay_in_the_development_only_code() -> None:
    used = used_methods()
    for method, allowed_file in DEV_NODE_ONLY.items():
        assert used.get(method, set()) <= {allowed_file}, (method, used.get(method))
