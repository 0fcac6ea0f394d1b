"""One interface to any EVM chain: the in-process eth-tester chain or a JSON-RPC node.

``Chain.embedded()`` runs py-evm in this process (tests, the demo); ``Chain.from_url(url)`` talks
to ganache, anvil or Besu. Both deploy, call and send the same way, and both raise the same
:class:`ContractRevertError` for the same revert.
"""

from __future__ import annotations

import importlib.util
import threading
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import BadFunctionCallOutput
from web3.providers.eth_tester import EthereumTesterProvider
from web3.types import Wei

from chain.artifacts import (
    ANCHOR_REGISTRY,
    PARTICIPANT_REGISTRY,
    RECALL_REGISTRY,
    ContractArtifact,
    load_artifact,
)
from chain.reverts import ErrorDecoder, is_revert
from chain.sender import Submitted, TransactionSender, TxResult
from chain.signer import Signer
from medledger.errors import ChainError, ChainUnavailableError, ConfigurationError

_DEFAULT_PRIORITY_FEE = 1_000_000_000  # 1 gwei, where the node cannot suggest one


class _SerialisedTesterProvider(EthereumTesterProvider):
    """eth-tester is not thread-safe: one request at a time (the gateway's batcher runs
    beside its request threads, and concurrent senders estimate while others mine)."""

    def __init__(self) -> None:
        super().__init__()
        self._request_lock = threading.RLock()

    def make_request(self, method: Any, params: Any) -> Any:
        with self._request_lock:
            return super().make_request(method, params)


#: Kept back in a funding account for the funding transaction's own gas.
FUNDING_MARGIN_WEI = 10**17


class Chain:
    """A connection to one chain, with one transaction sender per account."""

    def __init__(self, w3: Web3, *, kind: str, poll_interval: float) -> None:
        self.w3 = w3
        self.kind = kind
        self.poll_interval = poll_interval
        self._senders: dict[str, TransactionSender] = {}
        self._senders_lock = threading.Lock()
        self._chain_id: int | None = None
        self.errors = ErrorDecoder(
            load_artifact(name).abi
            for name in (PARTICIPANT_REGISTRY, ANCHOR_REGISTRY, RECALL_REGISTRY)
        )

    # --- construction ---------------------------------------------------------------------

    @classmethod
    def embedded(cls) -> Chain:
        """A fresh in-process chain (py-evm) that mines each transaction at once.

        It needs the ``embedded`` extra (eth-tester, py-evm); without it a ConfigurationError
        says so, in one line.
        """
        if importlib.util.find_spec("eth_tester") is None:
            raise ConfigurationError(
                "the in-process chain needs the `embedded` extra (eth-tester, py-evm): "
                "pip install 'medicine-provenance-ledger[embedded]', or use a node (--chain-url)"
            )
        from chain.embedded_gas import use_single_run_estimate

        provider = _SerialisedTesterProvider()
        use_single_run_estimate(provider)
        return cls(Web3(provider), kind="embedded", poll_interval=0.01)

    @classmethod
    def from_url(cls, url: str, *, timeout: float = 30.0, poll_interval: float = 0.2) -> Chain:
        """Connect to a JSON-RPC node over HTTP; fail clearly if it does not answer."""
        w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": timeout}))
        chain = cls(w3, kind="json-rpc", poll_interval=poll_interval)
        try:
            chain.chain_id  # noqa: B018 - touch the node now, not at the first transaction
        except Exception as exc:  # noqa: BLE001 - requests, aiohttp and web3 raise their own
            raise ChainUnavailableError(f"no JSON-RPC node answers at {url}: {exc}") from exc
        return chain

    # --- facts ----------------------------------------------------------------------------

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self.w3.eth.chain_id)
        return self._chain_id

    @property
    def block_number(self) -> int:
        return int(self.w3.eth.block_number)

    def fee_fields(self) -> dict[str, int]:
        """Fee fields for a new transaction: EIP-1559 where the chain has a base fee.

        A zero base fee (Besu QBFT with ``zeroBaseFee``) gives zero fees: such chains are
        permissioned, and a stuck transaction is re-sent, never fee-bumped.
        """
        base_fee = self.w3.eth.get_block("latest").get("baseFeePerGas")
        if base_fee is None:
            return {"gasPrice": int(self.w3.eth.gas_price)}
        if base_fee == 0:
            return {"maxFeePerGas": 0, "maxPriorityFeePerGas": 0}
        try:
            priority = int(self.w3.eth.max_priority_fee)
        except Exception:  # noqa: BLE001 - not every node implements eth_maxPriorityFeePerGas
            priority = _DEFAULT_PRIORITY_FEE
        return {"maxFeePerGas": 2 * int(base_fee) + priority, "maxPriorityFeePerGas": priority}

    # --- accounts -------------------------------------------------------------------------

    def sender(self, account: Signer) -> TransactionSender:
        """The one sender for ``account`` on this chain (shared, so nonces stay ordered): a local
        key or a remote signer (chain/signer.py)."""
        with self._senders_lock:
            existing = self._senders.get(account.address)
            if existing is None:
                existing = self._senders[account.address] = TransactionSender(self, account)
            elif existing.signer is not account:
                existing.signer = account  # the same key behind another signer: the nonces stay
            return existing

    def dev_accounts(self) -> list[str]:
        """Unlocked, funded accounts of a development node (eth-tester, ganache, anvil)."""
        return [str(a) for a in self.w3.eth.accounts]

    def fund(self, address: str, wei: int) -> None:
        """Send ``wei`` to ``address`` from an unlocked account of a development node that can
        afford it (the first one, until it runs low: ganache gives ten)."""
        accounts = self.dev_accounts()
        if not accounts:
            raise ChainError("this node has no unlocked account to fund from (not a dev node?)")
        try:
            source = next(
                (
                    a
                    for a in accounts
                    if self.w3.eth.get_balance(Web3.to_checksum_address(a))
                    > wei + FUNDING_MARGIN_WEI
                ),
                None,
            )
            if source is None:
                raise ChainError(
                    f"no unlocked account of this node holds {wei} wei to fund {address}"
                )
            tx_hash = self.w3.eth.send_transaction(
                {"from": source, "to": Web3.to_checksum_address(address), "value": Wei(wei)}
            )
            self.w3.eth.wait_for_transaction_receipt(tx_hash, poll_latency=self.poll_interval)
        except ChainError:
            raise
        except Exception as exc:  # noqa: BLE001 - any node or transport failure
            raise ChainError(f"funding {address} failed: {exc}") from exc

    def new_funded_account(self, wei: int = 10**20) -> LocalAccount:
        """A fresh key with ``wei`` from the dev faucet: for tests and the demo."""
        account: LocalAccount = Account.create()
        self.fund(account.address, wei)
        return account

    # --- contracts ------------------------------------------------------------------------

    def contract(self, artifact: ContractArtifact, address: str) -> Contract:
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=artifact.abi)

    def deploy(self, account: Signer, artifact: ContractArtifact, *args: Any) -> str:
        """Deploy ``artifact`` with constructor ``args`` signed by ``account``; its address."""
        constructor = next((i for i in artifact.abi if i.get("type") == "constructor"), None)
        types = [str(i["type"]) for i in constructor["inputs"]] if constructor else []
        data = artifact.bytecode + abi_encode(types, list(args)).hex()
        result = self.sender(account).send({"data": data})
        if result.contract_address is None:
            raise ChainError(f"deployment of {artifact.name} created no contract")
        return result.contract_address

    def call(self, contract: Contract, function: str, *args: Any) -> Any:
        """Call a view function; a revert (or an answer that is no answer of this contract: no
        code, another ABI) becomes :class:`ContractRevertError`. A node that could not be reached
        or timed out is :class:`ChainUnavailableError`, any other error of the node
        :class:`ChainError`: neither is the contract's answer (an auditor told "not an anchor
        registry" because the node was slow would be told something false)."""
        try:
            return contract.functions[function](*args).call()
        except Exception as exc:  # noqa: BLE001 - every node raises its own type
            if is_revert(exc) or isinstance(exc, BadFunctionCallOutput):
                raise self.errors.to_error(exc) from exc
            if isinstance(exc, OSError):
                raise ChainUnavailableError(f"the node did not answer {function}: {exc}") from exc
            raise ChainError(f"the node could not call {function}: {exc}") from exc

    def submit(
        self,
        account: Signer,
        contract: Contract,
        function: str,
        *args: Any,
        nonce: int | None = None,
    ) -> Submitted:
        """Broadcast a state-changing call signed by ``account``; do not wait for it."""
        data = contract.encode_abi(function, args=list(args))
        return self.sender(account).submit({"to": contract.address, "data": data}, nonce=nonce)

    def transact(
        self,
        account: Signer,
        contract: Contract,
        function: str,
        *args: Any,
        confirmations: int = 0,
    ) -> TxResult:
        """Send a state-changing call signed by ``account`` and wait for it to be mined."""
        data = contract.encode_abi(function, args=list(args))
        return self.sender(account).send(
            {"to": contract.address, "data": data}, confirmations=confirmations
        )
