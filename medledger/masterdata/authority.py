"""Who may say what a location or a product is (docs/masterdata.md#authority).

* the regulator may declare any location and any product;
* a participant may declare a location whose GLN is its own registered GLN or was allocated
  under one of its GS1 company prefixes (the GLN's digits start with the prefix), and a product
  whose GTIN falls under one of its company prefixes (the test commissioning uses,
  :func:`medledger.custody.state.owns_gtin`).

Anything else is refused with rule ``masterdata.not-yours``, naming the record.
"""

from __future__ import annotations

from medledger.custody.state import Participant, owns_gtin
from medledger.epcis.digital_link import gln_of, gtin_of
from medledger.errors import ValidationError

from .record import MasterDataRecord
from .vocabulary import KIND_LOCATION

RULE = "masterdata.not-yours"


def may_declare(participant: Participant, record: MasterDataRecord, *, regulator: bool) -> bool:
    """Whether ``participant`` may declare ``record``."""
    if regulator:
        return True
    if record.kind == KIND_LOCATION:
        gln = gln_of(record.element_id)
        return gln is not None and (
            gln == participant.gln or any(gln.startswith(p) for p in participant.company_prefixes)
        )
    gtin = gtin_of(record.element_id)
    return gtin is not None and owns_gtin(participant.company_prefixes, gtin)


def check_authority(
    participant: Participant, records: list[MasterDataRecord], *, regulator: bool
) -> None:
    """A :class:`ValidationError` for the first record ``participant`` may not declare."""
    for record in records:
        if not may_declare(participant, record, regulator=regulator):
            what = (
                "GLN is not its own nor under"
                if record.kind == KIND_LOCATION
                else "GTIN is not under"
            )
            raise ValidationError(
                f"{record.element_id}: the {record.kind}'s {what} one of the company prefixes "
                f"of participant {participant.address} (only the regulator declares the master "
                "data of others)",
                rule=RULE,
            )
