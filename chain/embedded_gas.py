"""Gas estimation for the in-process chain: one execution instead of py-evm's binary search.

py-evm estimates by running a transaction a dozen times at gas limits halving toward the least
that succeeds (``binary_gas_search``, to within 21,000 gas). On the embedded chain every
transaction is estimated, so that search was most of the cost of a transaction in the tests and
the demo. Here the transaction runs once at the block's gas limit on a snapshot of the state (the
same execution, so a revert is raised as before: the same error, nothing sent); the estimate is
the gas it used before refunds, grown by 64/63 for the gas a call must keep back (EIP-150) and the
2,300 an ``SSTORE`` needs left (EIP-2200). The sender adds its own margin on top
(``chain.sender.GAS_MARGIN``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from eth.abc import SignedTransactionAPI, StateAPI

#: What a call must leave unforwarded (EIP-150's 1/64), and what an SSTORE needs left (EIP-2200).
_CALL_RESERVE = 64 / 63
_SSTORE_STIPEND = 2_300


def single_run_estimate(state: StateAPI, transaction: SignedTransactionAPI) -> int:
    """The gas ``transaction`` needs on ``state``, from one run at the block's gas limit."""
    from eth.vm.spoof import SpoofTransaction

    spoofed = cast(
        "SignedTransactionAPI", SpoofTransaction(transaction, gas=state.gas_limit, gas_price=0)
    )
    snapshot = state.snapshot()
    try:
        computation = state.apply_transaction(spoofed)
    finally:
        state.revert(snapshot)
    if computation.is_error:
        raise computation.error
    used = transaction.intrinsic_gas + computation.get_gas_used()
    return min(state.gas_limit, int(used * _CALL_RESERVE) + _SSTORE_STIPEND)


def use_single_run_estimate(provider: Any) -> None:
    """Estimate with :func:`single_run_estimate` on an ``EthereumTesterProvider``'s py-evm chain:
    on the chain object (py-evm copied its default estimator onto it when it was made) and on its
    class (eth-tester makes a new chain object when it reverts to a snapshot)."""
    chain = provider.ethereum_tester.backend.chain
    chain.gas_estimator = single_run_estimate
    type(chain).gas_estimator = staticmethod(single_run_estimate)
