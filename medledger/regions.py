"""Regions: ISO 3166-2 subdivision codes (``KG-GB`` for Bishkek, ``DE-BY`` for Bavaria).

A participant's region (and an inspector key's) is a subdivision code checked against
pycountry's copy of the ISO 3166-2 list, so that "stock by region" groups the same places under
the same code however a form spelt them. A country code alone is also a region (``KG``): a
national inspector's scope, or a participant whose subdivision is not yet known."""

from __future__ import annotations

from functools import cache

import pycountry

from medledger.errors import ValidationError, echo

RULE = "participant.region"
#: The longest code ISO 3166-2 uses (``GB-ABE``...; ``FR-971`` etc. stay shorter).
_MAX_LENGTH = 6


def region_code(value: str, *, pointer: str = "/region") -> str:
    """``value`` as a canonical (upper-case) ISO 3166-2 subdivision or ISO 3166-1 alpha-2 code.

    Raises :class:`ValidationError` (rule ``participant.region``) for anything else."""
    code = value.strip().upper() if isinstance(value, str) else ""
    if 2 <= len(code) <= _MAX_LENGTH and code in _known_codes():
        return code
    raise ValidationError(
        f"region {echo(value)} is not an ISO 3166-2 subdivision code (like 'KG-GB') "
        "or an ISO 3166-1 country code (like 'KG')",
        rule=RULE,
        pointer=pointer,
    )


@cache
def _known_codes() -> frozenset[str]:
    """Every country and subdivision code pycountry knows (about 5,300; read once)."""
    countries = {str(country.alpha_2) for country in pycountry.countries}
    return frozenset(countries | {str(sub.code) for sub in pycountry.subdivisions})


def in_region(region: str | None, scope: str) -> bool:
    """Whether a place in ``region`` lies within ``scope`` (a subdivision, or a whole country)."""
    if region is None:
        return False
    if region == scope:
        return True
    return len(scope) == 2 and region.startswith(scope + "-")
