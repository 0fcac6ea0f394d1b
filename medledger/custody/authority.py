"""Commissioning authority (docs/security.md#commissioning-authority): which products a
participant may commission, named by the GS1 company prefixes the regulator registers for it.

A GS1 company prefix is 4 to 12 digits (GS1 General Specifications §1.4.4: GS1 Company Prefixes
run from 4 to 12 digits, leading zeros significant); a GTIN-14 belongs to the company whose
prefix its digits after the indicator digit start with
(:func:`medledger.custody.state.owns_gtin`, i.e.
:func:`medledger.epcis.gs1.gtin_has_company_prefix`, the same test as the participant registry's
``ownsGtin``). The prefixes are kept on-chain
(``ParticipantRegistry.setCompanyPrefixes``), mirrored by the gateway and the indexer.
"""

from __future__ import annotations

from collections.abc import Sequence

from medledger.epcis import gs1
from medledger.errors import ValidationError

#: The participant registry's ``MAX_COMPANY_PREFIXES``.
MAX_COMPANY_PREFIXES = 32


def check_company_prefixes(
    prefixes: Sequence[str], *, pointer: str = "/companyPrefixes"
) -> tuple[str, ...]:
    """``prefixes`` as the registry takes them (duplicates dropped, order kept), or a
    :class:`ValidationError` naming the first bad one (rule ``gs1.companyPrefix``: 4 to 12
    digits, not all zeros; ``participant.company-prefix``: too many)."""
    if len(prefixes) > MAX_COMPANY_PREFIXES:
        raise ValidationError(
            f"at most {MAX_COMPANY_PREFIXES} company prefixes, got {len(prefixes)}",
            rule="participant.company-prefix",
            pointer=pointer,
        )
    checked = [gs1.company_prefix(p, pointer=f"{pointer}/{i}") for i, p in enumerate(prefixes)]
    return tuple(dict.fromkeys(checked))
