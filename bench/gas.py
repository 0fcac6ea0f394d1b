"""Gas of the ledger's transactions and views, measured on the in-process EVM.

Run: ``make bench`` or ``.venv/bin/python -m bench.gas``. Gas is deterministic for the same
bytecode and inputs, so one measurement per case suffices; anvil gives the same numbers.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

from bench.report import machine_line, write_section
from chain.client import Chain
from chain.deployment import deploy_contracts
from chain.ledger import Ledger
from medledger.epcis.gs1 import check_digit
from medledger.merkle import leaf_hash, process_proof
from medledger.roles import Role

REGULATOR_GLN = 4700000100002
MANUFACTURER_GLN = 4700001000010
TARGET_ANCHOR_GAS = 80_000


def _gln(body12: str) -> int:
    return int(body12 + str(check_digit(body12)))


def measure() -> list[tuple[str, int, str]]:
    chain = Chain.embedded()
    regulator = chain.new_funded_account()
    ledger = Ledger(chain, deploy_contracts(chain, regulator, REGULATOR_GLN))
    maker = chain.new_funded_account()
    relayer = chain.new_funded_account()
    ledger.register_participant(regulator, maker.address, Role.MANUFACTURER, _gln("470000100001"))
    rows: list[tuple[str, int, str]] = []

    ledger.anchor(maker, os.urandom(32), 1)  # warm the participant's slots once, like a live chain
    anchor = ledger.anchor(maker, os.urandom(32), 1000)
    rows.append(
        (
            "anchor(root, 1000, metadata), fresh root",
            anchor.gas_used,
            f"target <= {TARGET_ANCHOR_GAS:,}",
        )
    )
    auth = ledger.authorise_anchor(maker, os.urandom(32), 1000, int(time.time()) + 3600)
    relayed = ledger.anchor_relayed(relayer, auth)
    rows.append(("anchorFor (EIP-712, relayed by the gateway)", relayed.gas_used, ""))

    event_hash, salt = os.urandom(32), os.urandom(32)
    proof = [os.urandom(32) for _ in range(20)]
    root = process_proof(leaf_hash(event_hash, salt), proof)
    ledger.anchor(maker, root, 1 << 20)
    for name, args in (
        ("verifyEvent, proof depth 20", (root, event_hash, salt, proof)),
        ("verify(leaf), proof depth 20", (root, leaf_hash(event_hash, salt), proof)),
    ):
        function = name.split(",")[0].split("(")[0]
        gas = ledger.anchors.functions[function](*args).estimate_gas({"from": maker.address})
        rows.append((f"{name} (as a transaction)", int(gas), "view; free as eth_call"))

    # suspensions (docs/suspensions.md): the flag shares the batch record's second slot
    gtin, case = 4700123123452, "PV-2026/0042"
    rows.append(
        (
            "suspend(gtin, lot, reason, 12-character case number)",
            ledger.suspend_lot(regulator, gtin, "B2026-117", 1, case).gas_used,
            "the regulator",
        )
    )
    rows.append(
        ("liftSuspension", ledger.lift_suspension(regulator, gtin, "B2026-117", 1).gas_used, "")
    )
    ledger.suspend_lot(regulator, gtin, "B2026-118", 1, case)
    rows.append(
        (
            "escalateSuspension (suspension ends, batch recalled)",
            ledger.escalate_suspension(regulator, gtin, "B2026-118", 8).gas_used,
            "two events",
        )
    )
    rows.append(("recall", ledger.recall(regulator, gtin, "B2026-119", 8).gas_used, "for scale"))
    return rows


def main() -> None:
    rows = measure()
    table = ["| operation | gas | note |", "|---|---:|---|"]
    table += [f"| {name} | {gas:,} | {note} |" for name, gas, note in rows]
    anchor_gas = rows[0][1]
    verdict = "met" if anchor_gas <= TARGET_ANCHOR_GAS else "NOT met"
    body = "\n".join(
        [
            f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine_line()}.",
            "Command: `.venv/bin/python -m bench.gas` (part of `make bench`), in-process EVM "
            "(py-evm), contracts compiled by solc 0.8.28, optimizer 200 runs, evmVersion paris.",
            "",
            *table,
            "",
            f"Target `anchor()` <= {TARGET_ANCHOR_GAS:,} gas: **{verdict}** ({anchor_gas:,}). "
            "One storage slot per root (submitter, event count, block, timestamp packed), one "
            "call to the participant registry, one event. Gas per event at batch size N is "
            "this divided by N (about 54 gas per event at 1,000).",
        ]
    )
    print(body)
    write_section("Gas", body)


if __name__ == "__main__":
    main()
