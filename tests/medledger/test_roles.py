"""Python's Role flags mirror contracts/Roles.sol bit for bit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from medledger.roles import SUBMITTING, Role

ROLES_SOL = Path(__file__).resolve().parents[2] / "contracts" / "Roles.sol"


def test_every_role_bit_matches_the_solidity_library() -> None:
    declared = dict(
        re.findall(r"uint32 internal constant (\w+) = 1 << (\d+);", ROLES_SOL.read_text())
    )
    assert {name: 1 << int(bit) for name, bit in declared.items()} == {
        role.name: int(role) for role in Role
    }


def test_every_role_but_the_auditor_and_the_pharmacovigilance_officer_may_submit() -> None:
    readers = (Role.AUDITOR, Role.PHARMACOVIGILANCE)
    assert not any(role in SUBMITTING for role in readers)
    assert all(role in SUBMITTING for role in Role if role not in readers)


def test_roles_parse_from_the_command_line_spelling() -> None:
    assert Role.parse("manufacturer, api-maker") == Role.MANUFACTURER | Role.API_MAKER
    assert (Role.MANUFACTURER | Role.IMPORTER).names() == ["manufacturer", "importer"]
    with pytest.raises(ValueError, match="unknown role 'chemist'; known roles: api-maker"):
        Role.parse("chemist")
