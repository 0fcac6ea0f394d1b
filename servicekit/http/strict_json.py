"""The one JSON parser for request bodies: strict, bounded, and unable to crash the interpreter.

:func:`loads` reads UTF-8 JSON (RFC 8259) and refuses, with a
:class:`~medledger.errors.ValidationError`
naming the rule, what the standard library would accept or choke on:

- ``document.json``: not UTF-8, or not JSON;
- ``document.depth``: arrays and objects nested deeper than ``max_depth``. The depth is measured
  *before* parsing, by a linear scan outside strings (regular expressions and ``accumulate``, no
  recursion), because the C decoder recurses once per level and only stops at the interpreter's
  recursion limit: with the limit a library raised (``py_ecc`` sets 100,000) a deeply nested body
  overflows the C stack and the process dies (issue 14, finding 1);
- ``document.number``: ``NaN``, ``Infinity``, ``-Infinity`` (not JSON, though Python reads them),
  numbers that overflow to infinity (``1e999``), and integers too long for Python to read
  (more than 4,300 digits). Integers of any other size keep their exact value (``json``, not
  ``orjson``, which stops at 64 bits);
- ``document.duplicate-key``: an object naming a member twice (RFC 8259 leaves the meaning to
  the reader; Python keeps the last, another reader the first, so the event hashed and the
  event someone else reads could differ).
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any, NoReturn

from medledger.errors import ValidationError

#: The deepest nesting accepted. An EPCIS document nests about ten levels (document, body, event
#: list, event, sensor elements, reports, extensions); 64 leaves room for any extension.
MAX_DEPTH = 64

# Depth scan, on the UTF-8 bytes (no byte of a multi-byte character is ASCII, so quotes and
# brackets are found exactly): escaped backslashes and quotes go first (left to right, as the
# parser pairs them), then every byte but quotes and brackets, then the strings (now quotes
# around brackets, mostly empty), leaving the brackets outside strings.
_DELETE = bytes(b for b in range(256) if b not in b'"[]{}')
_STRING = re.compile(rb'"[^"]*"')
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1, ord('"'): 0}


def _refuse(message: str, rule: str) -> NoReturn:
    raise ValidationError(message, rule=rule, pointer="")


def nesting_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in the JSON text ``body``, brackets inside
    strings ignored.

    Linear in the body's length and free of recursion, so safe on any input. For valid JSON it
    is exact; for a malformed body it is exact up to the first error, which is as far as the
    parser goes.
    """
    if b"\\" in body:
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = body.translate(None, _DELETE).replace(b'""', b"")
    if b'"' in brackets:
        brackets = _STRING.sub(b"", brackets)
    if len(brackets) < 2:
        return len(brackets)
    return max(accumulate(map(_STEP.__getitem__, brackets)))


def _constant(name: str) -> NoReturn:
    _refuse(f"{name} is not a JSON number", "document.number")


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        _refuse(f"the number {text[:40]} is out of range (it would be infinite)", "document.number")
    return value


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                _refuse(
                    f"the key {key[:100]!r} appears twice in one object", "document.duplicate-key"
                )
            seen.add(key)
    return members


_decoder = json.JSONDecoder(object_pairs_hook=_object, parse_float=_float, parse_constant=_constant)


def loads(body: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value of ``body`` (UTF-8 bytes, or text), or a ValidationError naming the
    broken rule (see the module's doc)."""
    if isinstance(body, str):
        text, body = body, body.encode("utf-8", "surrogatepass")
    else:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            _refuse(f"the body is not UTF-8: {exc}", "document.json")
    if nesting_depth(body) > max_depth:
        _refuse(f"the document nests deeper than {max_depth} levels", "document.depth")
    try:
        return _decoder.decode(text)
    except ValidationError:
        raise
    except json.JSONDecodeError as exc:
        _refuse(f"the body is not JSON: {exc}", "document.json")
    except ValueError as exc:  # int() refuses more than sys.get_int_max_str_digits() digits
        _refuse(f"a number cannot be read: {str(exc)[:200]}", "document.number")
    except RecursionError:  # not reachable after the depth check; a last guard all the same
        _refuse(f"the document nests deeper than {max_depth} levels", "document.depth")
