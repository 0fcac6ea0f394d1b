"""A region is an ISO 3166-2 subdivision code or a country code, spelt one way."""

from __future__ import annotations

import pytest

from medledger.errors import ValidationError
from medledger.regions import in_region, region_code


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("KG-GB", "KG-GB"),
        ("kg-gb", "KG-GB"),
        (" DE-BY ", "DE-BY"),
        ("KG", "KG"),
        ("FR-971", "FR-971"),
    ],
)
def test_known_codes_are_accepted_and_canonicalised(given: str, canonical: str) -> None:
    assert region_code(given) == canonical


@pytest.mark.parametrize("given", ["", "K", "KG-XX", "XX", "Bishkek", "KG-GB-1", "x" * 10_000])
def test_anything_else_is_refused_with_the_rule(given: str) -> None:
    with pytest.raises(ValidationError) as refused:
        region_code(given)
    assert refused.value.rule == "participant.region"
    assert refused.value.pointer == "/region"
    assert len(str(refused.value)) < 400


def test_a_country_scope_holds_its_subdivisions_and_nothing_else() -> None:
    assert in_region("KG-GB", "KG")
    assert in_region("KG-GB", "KG-GB")
    assert not in_region("KG-GB", "KG-C")
    assert not in_region("KGX-1", "KG")
    assert not in_region(None, "KG")
