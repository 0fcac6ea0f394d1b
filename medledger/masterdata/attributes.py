"""The attributes this ledger understands, checked and written in one canonical form.

Every other attribute is kept as sent (text, a number, an object). Known ones:

=================================  ===================================================
location attribute                 taken as
=================================  ===================================================
``cbv:mda#name``, ``#streetAddressOne``, ``#streetAddressTwo``, ``#city``, ``#postalCode``
                                   text
``cbv:mda#countryCode``            ISO 3166-1 alpha-2 (``kg`` -> ``KG``)
``cbv:mda#state``                  ISO 3166-2 subdivision, written in full (``KG-C``); ``C``
                                   with countryCode ``KG`` is read as ``KG-C``; a subdivision of
                                   another country than countryCode is refused
``cbv:mda#latitude``/``longitude`` decimal degrees within range, as text without ``+`` or
                                   trailing zeros (``+42.8700`` -> ``42.87``)
``cbv:mda:site``                   the site's GLN (13 digits, check digit verified)
=================================  ===================================================

Products: ``#regulatedProductName``, ``#descriptionShort``, ``#dosageFormType``,
``#strengthDescription``, ``#netContentDescription``, ``#manufacturerOfTradeItemPartyName``
and the marketing-authorisation holder are text; the ATC code is a WHO ATC code at any level
(``J``, ``J01``, ``J01C``, ``J01CA``, ``J01CA04``), upper case; the registration status one of
``registered``, ``suspended``, ``withdrawn``, ``expired`` (lower case); the registration number
text; the leaflet's URL an absolute ``http(s)`` URL; the maximum retail price a decimal >= 0
(written without ``+``, exponent or trailing zeros: ``125.50`` -> ``125.5``); its currency an
ISO 4217 alphabetic code, upper case.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from medledger.epcis import gs1
from medledger.errors import ValidationError, echo
from medledger.regions import region_code

from . import vocabulary as v

_RULE = "masterdata.attribute"
_LOCATION_TEXT = frozenset({v.NAME, v.STREET_ADDRESS, v.STREET_ADDRESS_TWO, v.CITY, v.POSTAL_CODE})
_PRODUCT_TEXT = frozenset({
    v.REGULATED_PRODUCT_NAME, v.DESCRIPTION_SHORT, v.DOSAGE_FORM, v.STRENGTH, v.NET_CONTENT,
    v.MANUFACTURER, v.MA_HOLDER, v.REGISTRATION_NUMBER,
})  # fmt: skip
_PRODUCT_CHECKED = frozenset({
    v.ATC_CODE, v.REGISTRATION_STATUS, v.LEAFLET_URL, v.MAX_RETAIL_PRICE, v.PRICE_CURRENCY,
})  # fmt: skip
_URL = re.compile(r"https?://[^\s/?#]+[^\s]*", re.IGNORECASE)
_CURRENCY = re.compile(r"[A-Z]{3}")
_MAX_URL = 2048
_ATC = re.compile(r"[A-Z](\d{2}([A-Z]([A-Z](\d{2})?)?)?)?")
_RANGES = {v.LATITUDE: Decimal(90), v.LONGITUDE: Decimal(180)}


def _text(attribute: str, value: Any, pointer: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(
            f"{attribute} must be non-empty text, got {echo(value)}",
            rule=_RULE,
            pointer=f"{pointer}/attribute",
        )
    return value.strip()


def canonical(kind: str, attribute: str, value: Any, pointer: str) -> Any:
    """``value`` of ``attribute`` in a ``kind`` record, checked and canonical."""
    if kind == v.KIND_LOCATION:
        if attribute in _LOCATION_TEXT or attribute == v.STATE:
            return _text(attribute, value, pointer)
        if attribute == v.COUNTRY_CODE:
            code = _text(attribute, value, pointer).upper()
            if len(code) != 2:
                raise ValidationError(
                    f"countryCode is an ISO 3166-1 alpha-2 code, got {echo(value)}",
                    rule=_RULE,
                    pointer=f"{pointer}/attribute",
                )
            return region_code(code, pointer=f"{pointer}/attribute")
        if attribute in _RANGES:
            return _degrees(attribute, value, pointer)
        if attribute == v.SITE:
            return gs1.gln(_text(attribute, value, pointer), pointer=f"{pointer}/attribute")
        return value
    if attribute in _PRODUCT_TEXT:
        return _text(attribute, value, pointer)
    if attribute == v.ATC_CODE:
        code = _text(attribute, value, pointer).upper()
        if not _ATC.fullmatch(code):
            raise ValidationError(
                f"an ATC code is like J01CA04 (or a higher level: J, J01, J01C, J01CA), "
                f"got {echo(value)}",
                rule=_RULE,
                pointer=f"{pointer}/attribute",
            )
        return code
    if attribute == v.REGISTRATION_STATUS:
        status = _text(attribute, value, pointer).lower()
        if status not in v.REGISTRATION_STATES:
            raise ValidationError(
                f"registrationStatus is one of {', '.join(v.REGISTRATION_STATES)}, "
                f"got {echo(value)}",
                rule=_RULE,
                pointer=f"{pointer}/attribute",
            )
        return status
    if attribute == v.LEAFLET_URL:
        url = _text(attribute, value, pointer)
        if len(url) > _MAX_URL or not _URL.fullmatch(url):
            raise ValidationError(
                f"leafletURL is an absolute http or https URL, got {echo(value)}",
                rule=_RULE,
                pointer=f"{pointer}/attribute",
            )
        return url
    if attribute == v.MAX_RETAIL_PRICE:
        return _price(value, pointer)
    if attribute == v.PRICE_CURRENCY:
        currency = _text(attribute, value, pointer).upper()
        if not _CURRENCY.fullmatch(currency):
            raise ValidationError(
                f"priceCurrency is an ISO 4217 code like KGS, got {echo(value)}",
                rule=_RULE,
                pointer=f"{pointer}/attribute",
            )
        return currency
    return value


def _price(value: Any, pointer: str) -> str:
    try:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise InvalidOperation
        number = Decimal(str(value).strip())
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite() or number < 0 or number >= Decimal(10) ** 12:
        raise ValidationError(
            f"maxRetailPrice is a decimal amount from 0 (like 125.50), got {echo(value)}",
            rule=_RULE,
            pointer=f"{pointer}/attribute",
        )
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _degrees(attribute: str, value: Any, pointer: str) -> str:
    limit = _RANGES[attribute]
    try:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise InvalidOperation
        number = Decimal(str(value).strip())
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite() or abs(number) > limit:
        raise ValidationError(
            f"{attribute} is decimal degrees from -{limit} to {limit}, got {echo(value)}",
            rule=_RULE,
            pointer=f"{pointer}/attribute",
        )
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def complete(kind: str, pairs: list[tuple[str, Any]], pointer: str) -> list[tuple[str, Any]]:
    """Checks across attributes: one value each for the known ones; a location's state as a
    full ISO 3166-2 code, within its countryCode."""
    seen: set[str] = set()
    known = _LOCATION_TEXT | {v.STATE, v.COUNTRY_CODE, v.SITE, *_RANGES} | _PRODUCT_TEXT
    for attribute, _ in pairs:
        if attribute in known | _PRODUCT_CHECKED:
            if attribute in seen:
                raise ValidationError(
                    f"{attribute} is given twice", rule=_RULE, pointer=f"{pointer}/attributes"
                )
            seen.add(attribute)
    if kind != v.KIND_LOCATION or v.STATE not in seen:
        return pairs
    country = next((value for a, value in pairs if a == v.COUNTRY_CODE), None)
    out: list[tuple[str, Any]] = []
    for attribute, value in pairs:
        if attribute == v.STATE:
            value = _subdivision(str(value), country, pointer)
        out.append((attribute, value))
    return out


def _subdivision(state: str, country: str | None, pointer: str) -> str:
    written = state.strip().upper()
    code = written if "-" in written or country is None else f"{country}-{written}"
    try:
        full = region_code(code, pointer=f"{pointer}/attributes")
    except ValidationError:
        full = ""
    if len(full) <= 2 or (country is not None and not full.startswith(country + "-")):
        raise ValidationError(
            f"state {echo(state)} is not an ISO 3166-2 subdivision"
            + (f" of {country}" if country else " (like KG-C, or C with countryCode KG)"),
            rule="masterdata.subdivision",
            pointer=f"{pointer}/attributes",
        )
    return full
