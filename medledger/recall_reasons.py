"""The reason codes of recalls and releases (``RecallRegistry.recall/release(gtin, lot, code)``,
a uint16 on-chain), as text a person reads beside the number: "out of specification (code 7)",
not "reason code 7". The regulator's free-text reason stays at the gateway; the chain and the
indexer only know the code. Codes outside the tables are the regulator's own: "code 412".
Documented in docs/recalls.md; the suspension tables (``suspend`` and ``liftSuspension``) in
docs/suspensions.md.
"""

from __future__ import annotations

RECALL_REASONS: dict[int, str] = {
    0: "unspecified",
    1: "quality defect",
    2: "contamination",
    3: "mislabelling",
    4: "suspected counterfeit",
    5: "packaging defect",
    6: "stability failure",
    7: "out of specification",
    8: "adverse reactions reported",
    9: "regulatory action",
    10: "voluntary withdrawal",
}
RELEASE_REASONS: dict[int, str] = {
    0: "unspecified",
    1: "investigation closed",
    2: "cleared after testing",
    3: "recalled in error",
}


def reason_text(code: int | None, *, recalled: bool = True) -> str | None:
    """The code's text from the recall (or release) table; None for a code of neither."""
    if code is None:
        return None
    return (RECALL_REASONS if recalled else RELEASE_REASONS).get(code)


def describe(code: int | None, *, recalled: bool = True) -> str:
    """``out of specification (code 7)``, or ``code 412`` for one not in the table."""
    if code is None:
        return "no reason code"
    text = reason_text(code, recalled=recalled)
    return f"{text} (code {code})" if text else f"code {code}"


SUSPENSION_REASONS: dict[int, str] = {
    0: "unspecified",
    1: "adverse reactions reported",
    2: "suspected quality defect",
    3: "suspected counterfeit",
    4: "regulatory inquiry",
}
LIFT_REASONS: dict[int, str] = {
    0: "unspecified",
    1: "no causal link found",
    2: "cleared after testing",
    3: "suspended in error",
}


def describe_suspension(code: int | None, *, lifted: bool = False) -> str:
    """``adverse reactions reported (code 1)`` (or the lifting's), ``code N`` when unknown."""
    if code is None:
        return "no reason code"
    text = (LIFT_REASONS if lifted else SUSPENSION_REASONS).get(code)
    return f"{text} (code {code})" if text else f"code {code}"
