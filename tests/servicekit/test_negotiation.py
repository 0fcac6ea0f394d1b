"""Accept negotiation: JSON unless the client weighs EPCIS XML higher; neither: None (406)."""

from __future__ import annotations

import pytest

from servicekit.http.negotiation import preferred_format


@pytest.mark.parametrize(
    ("accept", "preferred"),
    [
        (None, "json"),
        ("", "json"),
        ("*/*", "json"),
        ("application/ld+json", "json"),
        ("application/json, application/xml", "json"),  # a tie goes to JSON
        ("application/json;q=0.5, application/xml", "xml"),
        ("text/xml", "xml"),
        ("text/*", "xml"),
        ("application/xml, application/json;q=0", "xml"),
        ("application/xml;q=0, application/json;q=0", None),
        ("image/png", None),
    ],
)
def test_preferred_format(accept: str | None, preferred: str | None) -> None:
    assert preferred_format(accept) == preferred
