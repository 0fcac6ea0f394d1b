"""The public complaint form's body: fields and one file from multipart/form-data, bounded."""

from __future__ import annotations

import os

import httpx
import pytest

from dashboard.multipart import MAX_PARTS, parse_form
from medledger.errors import ValidationError


def encoded(data: dict[str, str], files: dict[str, bytes]) -> tuple[bytes, str]:
    request = httpx.Request(
        "POST",
        "http://x/",
        data=data,
        files={name: (name, blob, "image/jpeg") for name, blob in files.items()},
    )
    return request.read(), request.headers["content-type"]


def test_fields_and_a_binary_file_come_back_unchanged() -> None:
    blob = os.urandom(50_000) + b"\r\n--\r\n\n\r" + os.urandom(100)
    body, media_type = encoded({"pharmacy": "Аптека №7", "price": "12"}, {"receipt": blob})
    form = parse_form(body, media_type)
    assert form.fields == {"pharmacy": "Аптека №7", "price": "12"}
    assert form.files == {"receipt": blob}


def test_what_is_not_a_bounded_form_is_refused() -> None:
    body, media_type = encoded({f"f{i}": "x" for i in range(MAX_PARTS)}, {"receipt": b"1"})
    with pytest.raises(ValidationError, match="more than"):
        parse_form(body, media_type)
    with pytest.raises(ValidationError, match="multipart/form-data"):
        parse_form(b"a=1", "application/x-www-form-urlencoded")
    body, media_type = encoded({"note": "x" * 9000}, {"receipt": b"1"})
    with pytest.raises(ValidationError, match="too long"):
        parse_form(body, media_type)
