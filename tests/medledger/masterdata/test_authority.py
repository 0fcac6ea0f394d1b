"""Who may declare master data: the regulator anything; a participant its own GLN, GLNs and
GTINs under its company prefixes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from medledger.custody.state import Participant
from medledger.errors import ValidationError
from medledger.masterdata import vocabulary as v
from medledger.masterdata.authority import check_authority, may_declare
from medledger.masterdata.record import MasterDataRecord, make_record

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MAKER = Participant(
    address="0x" + "11" * 20, roles=1, gln="4700000000012", active=True,
    company_prefixes=("4700000",),
)  # fmt: skip
PHARMACY = Participant(address="0x" + "22" * 20, roles=4, gln="4810000000018", active=True)


def place(gln: str) -> MasterDataRecord:
    return make_record(v.BUSINESS_LOCATION, f"https://id.gs1.org/414/{gln}", [], effective_time=T0)


def drug(gtin: str) -> MasterDataRecord:
    return make_record(v.EPC_CLASS, f"https://id.gs1.org/01/{gtin}", [], effective_time=T0)


@pytest.mark.parametrize(
    ("who", "record", "allowed"),
    [
        (MAKER, place("4700000000012"), True),  # its own GLN
        (MAKER, place("4700000000029"), True),  # under its prefix
        (MAKER, drug("04700000123452"), True),
        (MAKER, place("4810000000018"), False),
        (MAKER, drug("04810000123458"), False),
        (PHARMACY, place("4810000000018"), True),  # its own GLN, no prefixes
        (PHARMACY, drug("04810000123458"), False),
    ],
)
def test_participants_declare_their_own(
    who: Participant, record: MasterDataRecord, allowed: bool
) -> None:
    assert may_declare(who, record, regulator=False) is allowed
    assert may_declare(who, record, regulator=True)


def test_the_first_record_not_its_own_is_named() -> None:
    with pytest.raises(ValidationError, match="4810000000018") as caught:
        check_authority(MAKER, [place("4700000000012"), place("4810000000018")], regulator=False)
    assert caught.value.rule == "masterdata.not-yours"
