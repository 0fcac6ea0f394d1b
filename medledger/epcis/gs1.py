"""GS1 syntax: the one module that says whether a GS1 key or attribute is well formed.

Every edge calls it: capture (the identifiers of events and the ILMD lot, through
:mod:`medledger.epcis.identifiers` and :mod:`medledger.epcis.normalise`), participant registration
(the GLN), lot declaration, code issuance, recall and release (GTIN and lot), the indexer's
queries and the public check. What it checks (GS1 General Specifications 24.0):

- **GTIN** (AI 01): 8, 12, 13 or 14 digits, not all zeros, check digit (§7.9.1); held as 14
  digits (:func:`gtin`).
- **GLN** (AI 414 / 417): 13 digits, not all zeros, check digit (:func:`gln`).
- **SSCC** (AI 00): 18 digits, not all zeros, check digit (:func:`sscc`).
- **Lot** (AI 10) and **serial** (AI 21): 1 to 20 characters of GS1 AI encodable character set 82
  (§7.11: ``!"%&'()*+,-./0-9:;<=>?A-Z_a-z``) (:func:`lot`, :func:`serial`); a GTIN and a lot
  together, the key of a lot (:func:`gtin_lot`).
- **GS1 Company Prefix**: 4 to 12 digits, not all zeros (:func:`company_prefix`);
  :func:`gtin_has_company_prefix` says whether a GTIN was allocated under one.
- every other AI of a canonical GS1 Digital Link URI (:func:`check_digital_link`): the AI's
  format as ``biip`` carries it from GS1's syntax dictionary, and the key's check digit.

The format patterns and the check digit come from ``biip`` (GS1's syntax dictionary); this module
adds what biip does not say (not all zeros, which error to raise) and names the rule of each
refusal: ``gs1.gtin``, ``gs1.gln``, ``gs1.sscc``, ``gs1.lot``, ``gs1.serial``,
``gs1.companyPrefix``, ``gs1.checkDigit`` (any key's check digit), ``gs1.identifier`` (any other
AI). Every refusal is a :class:`~medledger.errors.ValidationError` whose message echoes the value
cut to a few hundred characters (:func:`medledger.errors.echo`). ``contracts/Gs1.sol`` mirrors the
check digit and character set on chain; ``tests/medledger/epcis/test_gs1.py`` keeps both in step.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import unquote

from biip.checksums import gs1_standard_check_digit
from biip.gs1_application_identifiers import GS1ApplicationIdentifier

from medledger.errors import ValidationError, echo

#: GS1 AI encodable character set 82 (General Specifications §7.11, figure 7.11-1).
CSET82 = frozenset(
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)
#: Longest lot (AI 10) and serial (AI 21).
LOT_MAX = 20
SERIAL_MAX = 20

#: Rule id for a malformed value of each AI that has one of its own; every other AI is
#: ``gs1.identifier``. A wrong check digit is ``gs1.checkDigit`` whatever the key.
AI_RULES = {"00": "gs1.sscc", "01": "gs1.gtin", "414": "gs1.gln", "417": "gs1.gln",
            "10": "gs1.lot", "21": "gs1.serial"}  # fmt: skip
_NAMES = {"00": "SSCC", "01": "GTIN", "414": "GLN", "417": "GLN", "10": "lot", "21": "serial"}
#: Keys with a check digit: the AI, and where the digits it covers start and end in the value.
_CHECKED: dict[str, tuple[int, int]] = {
    "00": (0, 18), "01": (0, 14), "414": (0, 13), "417": (0, 13), "402": (0, 17),
    "8017": (0, 18), "8018": (0, 18), "8006": (0, 14), "253": (0, 13), "255": (0, 13),
    "8003": (1, 14),
}  # fmt: skip
_DIGITS = re.compile(r"[0-9]+")


@lru_cache(maxsize=16384)
def check_digit(digits: str) -> int:
    """GS1 mod-10 check digit for ``digits`` (a GTIN, GLN, SSCC ... without its check digit)."""
    return gs1_standard_check_digit(digits)


def has_valid_check_digit(key: str) -> bool:
    """True if ``key`` is ASCII digits whose last is the check digit of the others."""
    return (
        len(key) >= 2
        and _DIGITS.fullmatch(key) is not None
        and check_digit(key[:-1]) == int(key[-1])
    )


def _refuse(message: str, rule: str, pointer: str | None) -> ValidationError:
    return ValidationError(message, rule=rule, pointer=pointer)


def _numeric_key(
    value: object, name: str, lengths: tuple[int, ...], rule: str, pointer: str | None
) -> str:
    if not isinstance(value, str) or _DIGITS.fullmatch(value) is None or len(value) not in lengths:
        sizes = ", ".join(map(str, lengths[:-1])) + f" or {lengths[-1]}" if len(lengths) > 1 else (
            str(lengths[0]))  # fmt: skip
        raise _refuse(f"{name} must be {sizes} digits, got {echo(value)}", rule, pointer)
    if int(value) == 0:
        raise _refuse(f"{name} must not be all zeros, got {value}", rule, pointer)
    expected = check_digit(value[:-1])
    if int(value[-1]) != expected:
        raise _refuse(
            f"{name} {value} has check digit {value[-1]}, expected {expected}",
            "gs1.checkDigit",
            pointer,
        )
    return value


def gtin(value: object, *, pointer: str | None = None) -> str:
    """A GTIN-8, -12, -13 or -14 (check digit verified) as 14 digits."""
    return _numeric_key(value, "GTIN", (8, 12, 13, 14), "gs1.gtin", pointer).zfill(14)


def gln(value: object, *, pointer: str | None = None) -> str:
    """A 13-digit GLN, not all zeros, check digit verified."""
    return _numeric_key(value, "GLN", (13,), "gs1.gln", pointer)


def sscc(value: object, *, pointer: str | None = None) -> str:
    """An 18-digit SSCC, not all zeros, check digit verified."""
    return _numeric_key(value, "SSCC", (18,), "gs1.sscc", pointer)


def _cset82(
    value: object, name: str, limit: int, rule: str, pointer: str | None, where: str = ""
) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= limit:
        length = f" ({len(value)} characters)" if isinstance(value, str) else ""
        raise _refuse(
            f"{where}{name} must be 1 to {limit} characters of GS1 character set 82, "
            f"got {echo(value)}{length}",
            rule,
            pointer,
        )
    bad = next((c for c in value if c not in CSET82), None)
    if bad is not None:
        raise _refuse(
            f"{where}{name} {echo(value)} has {echo(bad)}, which is not in GS1 character set 82",
            rule,
            pointer,
        )
    return value


def lot(value: object, *, pointer: str | None = None) -> str:
    """A lot or batch number (AI 10): 1 to 20 characters of GS1 character set 82."""
    return _cset82(value, "lot", LOT_MAX, "gs1.lot", pointer)


def gtin_lot(
    gtin_value: object,
    lot_value: object,
    *,
    gtin_pointer: str | None = None,
    lot_pointer: str | None = None,
) -> tuple[str, str]:
    """A lot of a trade item as the recall registry, the codes and the index key it: the GTIN
    (:func:`gtin`) as 14 digits and the lot (:func:`lot`). The lot is checked first, so of two
    malformed values the lot's refusal is the one raised. Lot declaration, code issuance,
    recall and release (the gateway) and ``provenance recall`` (before sending) call it."""
    checked_lot = lot(lot_value, pointer=lot_pointer)
    return gtin(gtin_value, pointer=gtin_pointer), checked_lot


def serial(value: object, *, pointer: str | None = None) -> str:
    """A serial number (AI 21): 1 to 20 characters of GS1 character set 82."""
    return _cset82(value, "serial", SERIAL_MAX, "gs1.serial", pointer)


def company_prefix(value: object, *, pointer: str | None = None) -> str:
    """A GS1 Company Prefix: 4 to 12 digits, not all zeros (General Specifications §1.4.3; a
    U.P.C. Company Prefix is written with its leading zero, as in a GTIN-13)."""
    if not isinstance(value, str) or _DIGITS.fullmatch(value) is None or not 4 <= len(value) <= 12:
        raise _refuse(
            f"a GS1 Company Prefix must be 4 to 12 digits, got {echo(value)}",
            "gs1.companyPrefix",
            pointer,
        )
    if int(value) == 0:
        raise _refuse(
            f"a GS1 Company Prefix must not be all zeros, got {value}",
            "gs1.companyPrefix",
            pointer,
        )
    return value


def gtin_has_company_prefix(gtin14: str, prefix: str) -> bool:
    """True if the GTIN-14 ``gtin14`` was allocated under the GS1 Company Prefix ``prefix``: the
    digits after its indicator digit start with the prefix (a GTIN-13 ``0614141...`` padded to
    ``00614141...`` is under ``0614141``)."""
    return len(gtin14) == 14 and gtin14[1:].startswith(prefix)


@lru_cache(maxsize=256)
def _ai_pattern(ai: str) -> re.Pattern[str] | None:
    try:
        found = GS1ApplicationIdentifier.extract(ai)
    except Exception:  # biip's ParseError: not an AI it knows
        return None
    # ASCII: in Python's patterns \d is any Unicode digit, and int() reads them all
    return re.compile(found.pattern, re.ASCII) if found.ai == ai else None


#: A well-formed lot or serial (AI 10, AI 21): 1 to 20 characters of set 82 (biip's pattern).
_CSET82_RUN = re.compile(r"[!\"%-?A-Z_a-z]{1,20}")


def check_ai(ai: str, value: str, *, original: object = None, pointer: str | None = None) -> None:
    """``value`` (percent-decoded) is well formed for ``ai``, and its check digit is right.

    ``original``, if given, is the identifier the value came from (named in the message)."""
    if ai in ("10", "21"):
        if _CSET82_RUN.fullmatch(value) is not None:
            return
    elif _well_formed(ai, value):
        return
    _check_ai(ai, value, "" if original is None else f"identifier {echo(original)}: ", pointer)


@lru_cache(maxsize=16384)
def _well_formed(ai: str, value: str) -> bool:
    """Keys repeat (a document names the same GTIN and GLNs on every event): remembered."""
    try:
        _check_ai(ai, value, "", None)
    except ValidationError:
        return False
    return True


def _check_ai(ai: str, value: str, where: str, pointer: str | None) -> None:
    rule = AI_RULES.get(ai, "gs1.identifier")
    if ai in ("10", "21"):
        _cset82(value, _NAMES[ai], LOT_MAX if ai == "10" else SERIAL_MAX, rule, pointer, where)
        return
    pattern = _ai_pattern(ai)
    if pattern is not None and pattern.fullmatch(ai + value) is None:
        name = _NAMES.get(ai, f"AI ({ai})")
        raise _refuse(f"{where}{name} {echo(value)} is not well formed", rule, pointer)
    span = _CHECKED.get(ai)
    if span is not None:
        key = value[span[0] : span[1]]
        expected = check_digit(key[:-1])
        if int(key[-1]) != expected:
            raise _refuse(
                f"{where}GS1 key {ai} {key} has check digit {key[-1]}, expected {expected}",
                "gs1.checkDigit",
                pointer,
            )
    if ai in ("00", "01", "414", "417") and int(value) == 0:
        raise _refuse(f"{where}{_NAMES[ai]} must not be all zeros", rule, pointer)


def check_digital_link(path: str, *, original: object = None, pointer: str | None = None) -> None:
    """Every AI of a constrained canonical Digital Link path (``01/<gtin>/21/<serial>``) is well
    formed: values percent-decoded, then checked by :func:`check_ai`."""
    parts = path.split("/")
    for ai, value in zip(parts[::2], parts[1::2], strict=False):
        check_ai(ai, unquote(value), original=original, pointer=pointer)
