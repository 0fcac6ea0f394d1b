"""The one JSON parser of request bodies (servicekit/http/strict_json.py):
issue 14, findings 1 and 3.

Finding 1: a body nested 100,000 deep crashed the interpreter inside the C decoder, because
py_ecc (imported with web3) raises the recursion limit to 100,000. Finding 3: NaN, Infinity and
numbers that overflow were accepted (or gave 500), duplicate keys kept the last value.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from medledger.errors import ValidationError
from servicekit.http import strict_json

ROOT = Path(__file__).resolve().parents[2]
DEEP = 100_000


def refused(body: bytes | str) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        strict_json.loads(body)
    return caught.value


@pytest.mark.parametrize(
    "body",
    [
        b"[" * DEEP + b"]" * DEEP,
        b'{"a":' * DEEP + b"1" + b"}" * DEEP,
        b"[" * DEEP,  # never closed
        b'{"epcisBody": ' + b"[{" * 40 + b"}]" * 40 + b"}",  # 81 levels
    ],
    ids=["arrays", "objects", "unclosed", "just-over"],
)
def test_nesting_deeper_than_the_cap_is_refused_before_parsing(body: bytes) -> None:
    error = refused(body)
    assert error.rule == "document.depth"
    assert "deeper than 64" in str(error)


def test_brackets_inside_strings_do_not_count_and_the_cap_itself_is_accepted() -> None:
    at_cap = "[" * 63 + '{"s": "[[[[\\"[[[[\\\\", "t": "}}}}"}' + "]" * 63
    assert strict_json.nesting_depth(at_cap.encode()) == 64
    assert strict_json.loads(at_cap) == json.loads(at_cap)


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ("[]", 1),
        ('{"a": [1, {"b": []}], "c": {}}', 4),
        ('["]]]]", "\\\\", "\\"[[", [[]]]', 3),
        ('{"a\\u005b": "x"}', 1),
    ],
)
def test_the_depth_scan_is_exact_on_valid_json(text: str, depth: int) -> None:
    assert strict_json.nesting_depth(text.encode()) == depth


def test_a_deep_body_cannot_crash_an_interpreter_that_imported_web3() -> None:
    """In a fresh interpreter with web3 imported (recursion limit 100,000, as in the services):
    the parser refuses a 100,000-deep body and the process exits normally (a crash would be a
    negative return code, -11 for SIGSEGV)."""
    script = textwrap.dedent(
        f"""
        import sys
        import web3  # noqa: F401 - py_ecc raises the recursion limit
        assert sys.getrecursionlimit() >= 100_000, sys.getrecursionlimit()
        from medledger.errors import ValidationError
        from servicekit.http.strict_json import loads
        for body in (b"[" * {DEEP} + b"]" * {DEEP}, b'{{"a":' * {DEEP} + b"1" + b"}}" * {DEEP}):
            try:
                loads(body)
            except ValidationError as exc:
                print(exc.rule)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.split() == ["document.depth", "document.depth"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"quantity": Infinity}',
        b'{"quantity": -Infinity}',
        b'{"quantity": NaN}',
        b'{"quantity": 1e999}',
        b'{"quantity": -1e999}',
        b'{"quantity": ' + b"9" * 5000 + b"}",
    ],
    ids=["Infinity", "-Infinity", "NaN", "1e999", "-1e999", "5000-digits"],
)
def test_non_finite_and_unreadable_numbers_are_refused(body: bytes) -> None:
    assert refused(body).rule == "document.number"


def test_duplicate_keys_are_refused_at_any_depth() -> None:
    error = refused(b'{"epcisBody": {"eventList": [{"action": "ADD", "action": "DELETE"}]}}')
    assert error.rule == "document.duplicate-key"
    assert "'action'" in str(error)


@pytest.mark.parametrize(
    "body",
    [b"\xff{}", b"", b"{", b"[1,]", b"{'a': 1}", b"\xef\xbb\xbf{}", b"{} {}"],
    ids=["not-utf8", "empty", "unclosed", "trailing-comma", "single-quotes", "bom", "two"],
)
def test_what_is_not_utf8_json_is_refused(body: bytes) -> None:
    assert refused(body).rule == "document.json"


@pytest.mark.parametrize(
    "value",
    [
        2**64 + 1,
        -(2**200),
        0.1,
        1.7976931348623157e308,
        "\u00e9\U0001f48a",
        None,
        True,
        [],
        {},
        {"a": [1, {"b": "]}"}]},
    ],
)
def test_valid_json_reads_as_the_standard_library_reads_it(value: Any) -> None:
    text = json.dumps(value, ensure_ascii=False)
    assert strict_json.loads(text.encode()) == value
    assert strict_json.loads(text) == value
