"""GS1 identifiers (SGTIN, LGTIN, SSCC, SGLN, ...) normalised to one canonical form.

Participants write the same pack as an EPC URN (``urn:epc:id:sgtin:9521141.012345.2017``), a GS1
Digital Link URI on any resolver domain (``https://example.com/01/09521141123454/21/2017?17=...``)
or a scanned GS1 element string (``(01)09521141123454(21)2017`` or the raw barcode data with FNC1 /
GS separators).

Canonical form: the constrained canonical GS1 Digital Link URI on ``https://id.gs1.org`` with the
finest identification level only: ``https://id.gs1.org/01/09521141123454/21/2017``, or
``.../01/<gtin>/10/<lot>`` for a lot (LGTIN), ``.../00/<sscc>``, ``.../414/<gln>[/254/<ext>]``.
Why this form:

- the CBV 2.0 event hash canonicalises every identifier to exactly this URI (rules 17 and 18 of the
  algorithm, GS1 Digital Link 1.2 section 4.11), so the identifier we store and index is the one
  inside the hashed, anchored pre-hash string: one form, no second mapping to keep in step;
- it needs no GS1 Company Prefix length (an EPC URN does, and an element string cannot carry it),
  so every input form converts to it without outside data;
- it is a resolvable Web URI, the form GS1 recommends for EPCIS 2.0.

:func:`canonical_identifier` is strict (every GS1 key and attribute checked by
:mod:`medledger.epcis.gs1`: check digits, lengths, lots and serials in character set 82; unknown
forms rejected);
:func:`to_canonical_dl` is the lenient conversion the event hash uses on every value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from urllib.parse import unquote

from biip import ParseError
from biip.gs1_messages import GS1Message

from medledger.epcis import gs1
from medledger.epcis.gs1 import check_digit
from medledger.errors import ValidationError, echo

ID_GS1 = "https://id.gs1.org"

# Characters GS1 Digital Link requires percent-encoded in a path segment (table 7-1); EPC URNs
# already escape the others. Same treatment as the reference hash implementation.
_PCT = str.maketrans({"!": "%21", "(": "%28", ")": "%29", "*": "%2A", "+": "%2B", ",": "%2C",
                      ":": "%3A"})  # fmt: skip


#: Entries kept by the identifier caches below: a document repeats its locations, products and
#: lots on every event, while serials are new each time (a miss costs well under a microsecond).
CACHE_SIZE = 16384


def _with_cd(digits: str) -> str:
    return digits + str(check_digit(digits))


def _enc(s: str) -> str:
    return s.translate(_PCT)


# What an EPC URN escapes (Tag Data Standard 2.x section 7.1); a raw element string value gets
# these too, so that it takes the same canonical form as the URN of the same key.
_URN_ESCAPES = str.maketrans({"%": "%25", '"': "%22", "&": "%26", "/": "%2F", "<": "%3C",
                              ">": "%3E", "?": "%3F"})  # fmt: skip


def _enc_raw(s: str) -> str:
    return s.translate(_URN_ESCAPES).translate(_PCT)


# --- EPC URNs -> Digital Link ------------------------------------------------------------------
# Each entry: number of dot-separated fields after the scheme, and a builder from those fields.
# (EPC Tag Data Standard 2.x section 6 / GS1 Digital Link 1.2 section 4.11.)


def _gln_ext(ext: str) -> str:
    return "" if ext == "0" else f"/254/{_enc(ext)}"  # extension 0 means the GLN itself


def _gtin(cp: str, item: str) -> str:
    return _with_cd(item[:1] + cp + item[1:])


_URN_BUILDERS: dict[str, tuple[int, Callable[[list[str]], str]]] = {
    "id:sgtin": (3, lambda f: f"/01/{_gtin(f[0], f[1])}/21/{_enc(f[2])}"),
    "id:sscc": (2, lambda f: f"/00/{_with_cd(f[1][:1] + f[0] + f[1][1:])}"),
    "id:sgln": (3, lambda f: f"/414/{_with_cd(f[0] + f[1])}" + _gln_ext(f[2])),
    "id:grai": (3, lambda f: f"/8003/{_with_cd('0' + f[0] + f[1])}{_enc(f[2])}"),
    "id:giai": (2, lambda f: f"/8004/{f[0]}{_enc(f[1])}"),
    "id:gsrn": (2, lambda f: f"/8018/{_with_cd(f[0] + f[1])}"),
    "id:gsrnp": (2, lambda f: f"/8017/{_with_cd(f[0] + f[1])}"),
    "id:gdti": (3, lambda f: f"/253/{_with_cd(f[0] + f[1])}{_enc(f[2])}"),
    "id:cpi": (3, lambda f: f"/8010/{_enc(f[0] + f[1])}/8011/{f[2]}"),
    "id:sgcn": (3, lambda f: f"/255/{_with_cd(f[0] + f[1])}{f[2]}"),
    "id:ginc": (2, lambda f: f"/401/{f[0]}{_enc(f[1])}"),
    "id:gsin": (2, lambda f: f"/402/{_with_cd(f[0] + f[1])}"),
    "id:itip": (5, lambda f: f"/8006/{_gtin(f[0], f[1])}{f[2]}{f[3]}/21/{_enc(f[4])}"),
    "id:upui": (3, lambda f: f"/01/{_gtin(f[0], f[1])}/235/{_enc(f[2])}"),
    "id:pgln": (2, lambda f: f"/417/{_with_cd(f[0] + f[1])}"),
    "class:lgtin": (3, lambda f: f"/01/{_gtin(f[0], f[1])}/10/{_enc(f[2])}"),
    "idpat:sgtin": (3, lambda f: f"/01/{_gtin(f[0], f[1])}"),
    "idpat:grai": (3, lambda f: f"/8003/{_with_cd('0' + f[0] + f[1])}"),
    "idpat:gdti": (3, lambda f: f"/253/{_with_cd(f[0] + f[1])}"),
    "idpat:sgcn": (3, lambda f: f"/255/{_with_cd(f[0] + f[1])}"),
    "idpat:cpi": (3, lambda f: f"/8010/{_enc(f[0] + f[1])}"),
    "idpat:itip": (5, lambda f: f"/8006/{_gtin(f[0], f[1])}{f[2]}{f[3]}"),
    "idpat:upui": (3, lambda f: f"/01/{_gtin(f[0], f[1])}"),
}  # fmt: skip
_URN = re.compile(r"^urn:epc:(id|class|idpat):([a-z]+):(.+)$")
_DIGITS = re.compile(r"^\d*$")


def _epc_urn_to_dl(urn: str) -> str | None:
    m = _URN.match(urn)
    if m is None:
        return None
    spec = _URN_BUILDERS.get(f"{m.group(1)}:{m.group(2)}")
    if spec is None:
        return None
    n, build = spec
    fields = m.group(3).split(".", n - 1)
    if len(fields) != n or not 6 <= len(fields[0]) <= 12 or not fields[0].isdigit():
        return None
    if m.group(1) == "idpat" and fields[-1] != "*":
        return None
    # the company prefix and the reference that completes a fixed-length key are numeric
    if m.group(2) not in ("giai", "ginc", "cpi") and not _DIGITS.match(fields[1]):
        return None
    return ID_GS1 + build(fields)


# --- Digital Link URIs ---------------------------------------------------------------------------

_SHORT_NAMES = {"gtin": "01", "itip": "8006", "cpid": "8010", "gln": "414", "party": "417",
                "gsrnp": "8017", "gsrn": "8018", "gcn": "255", "sscc": "00", "gdti": "253",
                "ginc": "401", "gsin": "402", "grai": "8003", "giai": "8004", "cpv": "22",
                "lot": "10", "ser": "21"}  # fmt: skip
_PRIMARY = {"01", "8006", "8010", "414", "417", "8017", "8018", "255", "00", "253", "401", "402",
            "8003", "8004"}  # fmt: skip
# Key qualifiers kept in the constrained form, finest first (a serial makes the lot redundant).
_QUALIFIERS = {"01": ("21", "10", "235"), "8006": ("21", "10"), "414": ("254",), "8010": ("8011",)}
_DL = re.compile(r"^https?://[^/?#]+(/[^?#]*)(?:[?#].*)?$")
_VALID = {
    "00": re.compile(r"^\d{18}$"),
    "01": re.compile(r"^\d{14}$"),
    "414": re.compile(r"^\d{13}$"),
    "417": re.compile(r"^\d{13}$"),
    "402": re.compile(r"^\d{17}$"),
    "8017": re.compile(r"^\d{18}$"),
    "8018": re.compile(r"^\d{18}$"),
    "8006": re.compile(r"^\d{18}$"),
    "255": re.compile(r"^\d{13}\d{0,12}$"),
    "253": re.compile(r"^\d{13}.{0,17}$"),
    "8003": re.compile(r"^\d{14}.{0,16}$"),
}


def _dl_to_canonical(uri: str) -> str | None:
    parsed = _dl_parse(uri)
    return None if parsed is None else parsed[0]


def _dl_parse(uri: str) -> tuple[str, str, str, list[str]] | None:
    """(canonical URI, key, key value, the path segments after them) of a Digital Link URI."""
    m = _DL.match(uri)
    if m is None:
        return None
    segments = [_SHORT_NAMES.get(s, s) for s in m.group(1).split("/") if s]
    for start, seg in enumerate(segments):
        if seg in _PRIMARY and start + 1 < len(segments):
            break
    else:
        return None
    key, value = segments[start], segments[start + 1]
    if not re.match(r"^\d{4}", value):
        return None
    if key == "01" and len(value) in (8, 12, 13):
        value = value.zfill(14)
    pattern = _VALID.get(key)
    if pattern is not None and not pattern.match(value):
        return None
    rest = segments[start + 2 :]
    qualifiers = dict(zip(rest[::2], rest[1::2], strict=False))
    out = f"{ID_GS1}/{key}/{value}"
    for q in _QUALIFIERS.get(key, ()):
        if q in qualifiers:
            return f"{out}/{q}/{qualifiers[q]}", key, value, rest
    return out, key, value, rest


@lru_cache(maxsize=CACHE_SIZE)
def to_canonical_dl(value: str) -> str | None:
    """Constrained canonical Digital Link for an EPC URN or DL URI; None if ``value`` is neither.

    Lenient (check digits are not verified): this is the CBV 2.0 hash canonicalisation.
    """
    if value.startswith("urn:epc:"):
        return _epc_urn_to_dl(value)
    if value.startswith(("https://", "http://")):
        return _dl_to_canonical(value)
    return None


# --- strict normalisation --------------------------------------------------------------------


def _element_string_to_dl(value: str, pointer: str | None) -> str:
    text = value.strip()
    try:
        if text.startswith("("):
            message = GS1Message.parse_hri(text)
        else:
            if text.startswith("]") and len(text) > 3:
                text = text[3:]  # symbology identifier such as ]d2 / ]C1 / ]Q3
            message = GS1Message.parse(text)
    except ParseError as exc:
        raise ValidationError(
            f"identifier {echo(value)} is not a GS1 element string: {echo(str(exc))}",
            rule="gs1.identifier",
            pointer=pointer,
        ) from None
    ais = {es.ai.ai: es.value for es in message.element_strings}
    for key in ("00", "01", "414", "417", "8003", "8004", "8006", "8010", "8017", "8018", "253",
                "255", "401", "402"):  # fmt: skip
        if key in ais:
            out = f"{ID_GS1}/{key}/{_enc_raw(ais[key])}"
            for q in _QUALIFIERS.get(key, ()):
                if q in ais:
                    return f"{out}/{q}/{_enc_raw(ais[q])}"
            return out
    raise ValidationError(
        f"identifier {echo(value)} carries no GS1 key (AIs {echo(', '.join(sorted(ais)))})",
        rule="gs1.identifier",
        pointer=pointer,
    )


def canonical_identifier(value: object, *, pointer: str | None = None) -> str:
    """The canonical GS1 Digital Link URI for an EPC URN, DL URI or GS1 element string.

    Raises :class:`ValidationError` if ``value`` is none of those (rule ``gs1.identifier``) or
    any GS1 key or attribute in it is malformed (:mod:`medledger.epcis.gs1`: ``gs1.checkDigit``,
    ``gs1.gtin``, ``gs1.sscc``, ``gs1.gln``, ``gs1.lot``, ``gs1.serial``, ``gs1.identifier``).
    """
    if isinstance(value, str) and value:
        try:
            return _canonical_cached(value)  # only successes are cached
        except ValidationError:
            pass  # again below, so that the error names ``pointer``
    return _canonical(value, pointer)


@lru_cache(maxsize=CACHE_SIZE)
def _canonical_cached(value: str) -> str:
    return _canonical(value, None)


def _not_uri(value: str, pointer: str | None) -> ValidationError:
    return ValidationError(
        f"identifier {echo(value)} is not a valid EPC URN or GS1 Digital Link URI",
        rule="gs1.identifier",
        pointer=pointer,
    )


def _canonical(value: object, pointer: str | None) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError(
            f"identifier must be a non-empty string, got {echo(value)}",
            rule="gs1.identifier",
            pointer=pointer,
        )
    if value.startswith(("https://", "http://")):
        parsed = _dl_parse(value)
        if parsed is None:
            raise _not_uri(value, pointer)
        # the key as canonical (a GTIN-13 padded), then every qualifier the URI's path names:
        # a lot the canonical form drops beside a serial is checked too
        dl, key, key_value, rest = parsed
        gs1.check_ai(key, key_value, original=value, pointer=pointer)
        for ai, written in zip(rest[::2], rest[1::2], strict=False):
            gs1.check_ai(ai, unquote(written), original=value, pointer=pointer)
        return dl
    if value.startswith("urn:epc:"):
        urn_dl = to_canonical_dl(value)
        if urn_dl is None:
            raise _not_uri(value, pointer)
        dl = urn_dl
    else:
        dl = _element_string_to_dl(value, pointer)
    gs1.check_digital_link(dl[len(ID_GS1) + 1 :], original=value, pointer=pointer)
    return dl


# A URI (RFC 3986 section 3.1 scheme, then anything without white space): ``geo:47.5,11.1``,
# ``https://maps.example/site/7``, ``urn:example:dock:3``.
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")
# Path segments that make an http(s) URI a GS1 Digital Link (a primary key's AI or short name).
_GS1_SEGMENTS = _PRIMARY | {k for k, v in _SHORT_NAMES.items() if v in _PRIMARY}


def is_gs1_form(value: str) -> bool:
    """Whether ``value`` is written as a GS1 identifier (an EPC URN, a GS1 element string, or a
    Web URI with a GS1 primary key in its path), well formed or not."""
    if value[:8].lower() == "urn:epc:" or not _URI.match(value):
        return True  # an element string "(414)..." or raw digits are no URI
    m = _DL.match(value)
    return m is not None and any(s in _GS1_SEGMENTS for s in m.group(1).split("/"))


def canonical_location(value: object, *, pointer: str | None = None) -> str:
    """A ``readPoint`` or ``bizLocation`` id: canonical (:func:`canonical_identifier`) when it is
    written as a GS1 identifier, checked as strictly; any other URI (``geo:47.5,11.1``, a Web URI
    without a GS1 key) as it is, as the EPCIS 2.0 schema allows (the CBV 2.0 hash keeps it as it
    is too). The ``pharma`` rule set then wants the submitter's own GLN (``location.not-own``)."""
    if isinstance(value, str) and value and not is_gs1_form(value):
        return value
    return canonical_identifier(value, pointer=pointer)
