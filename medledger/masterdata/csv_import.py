"""Master data records from CSV (``provenance masterdata import FILE``).

One record a row; the first row names the columns (UTF-8, comma-separated, RFC 4180 quoting).

==================  =========================================================================
column              meaning
==================  =========================================================================
``kind``            ``location`` or ``product`` (required)
``id``              location: SGLN URN, GLN Digital Link or a 13-digit GLN; product: SGTIN
                    class pattern, GTIN Digital Link or an 8-14 digit GTIN (required)
``effective_time``  when the row becomes true (ISO 8601 with a zone); empty: the import time
``name``            location name / product name (regulatedProductName)
``street_address``  ``city``  ``postal_code``  ``country_code`` (ISO 3166-1 alpha-2)
``subdivision``     ISO 3166-2 (``KG-C``; ``C`` with country_code ``KG``)
``latitude``        ``longitude`` (decimal degrees), ``parent_site`` (the site's GLN)
``dosage_form``     ``strength``  ``net_content`` (pack size)  ``atc_code``  ``ma_holder``
                    (marketing-authorisation holder)  ``manufacturer``
``registration_status`` (registered, suspended, withdrawn, expired)  ``registration_number``
                    ``leaflet_url``  ``max_retail_price`` (one pack)  ``price_currency``
                    (ISO 4217)
==================  =========================================================================

Empty cells say nothing; a column of the other kind must be empty on a row. An unknown column,
a row that does not check or a file that is not CSV is a :class:`ValidationError` naming the line
and column (pointer ``/<line>/<column>``), and nothing of the file is taken.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from typing import Any

from medledger.errors import ValidationError, echo

from . import vocabulary as v
from .record import MasterDataRecord, make_record, parse_time

_RULE = "masterdata.csv"
LOCATION_COLUMNS = {
    "name": v.NAME,
    "street_address": v.STREET_ADDRESS,
    "city": v.CITY,
    "postal_code": v.POSTAL_CODE,
    "country_code": v.COUNTRY_CODE,
    "subdivision": v.STATE,
    "latitude": v.LATITUDE,
    "longitude": v.LONGITUDE,
    "parent_site": v.SITE,
}
PRODUCT_COLUMNS = {
    "name": v.REGULATED_PRODUCT_NAME,
    "dosage_form": v.DOSAGE_FORM,
    "strength": v.STRENGTH,
    "net_content": v.NET_CONTENT,
    "atc_code": v.ATC_CODE,
    "ma_holder": v.MA_HOLDER,
    "manufacturer": v.MANUFACTURER,
    "registration_status": v.REGISTRATION_STATUS,
    "registration_number": v.REGISTRATION_NUMBER,
    "leaflet_url": v.LEAFLET_URL,
    "max_retail_price": v.MAX_RETAIL_PRICE,
    "price_currency": v.PRICE_CURRENCY,
}
COLUMNS = ("kind", "id", "effective_time", *dict.fromkeys([*LOCATION_COLUMNS, *PRODUCT_COLUMNS]))
MAX_ROWS = 100_000
_DIGITS = re.compile(r"\d{8,14}")


def records_from_csv(text: str, *, received: datetime) -> list[MasterDataRecord]:
    """The records of a CSV text, each once (see the module docstring)."""
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
        header = reader.fieldnames
    except csv.Error as exc:
        raise ValidationError(f"not CSV: {exc}", rule=_RULE, pointer="/1") from None
    if not header:
        raise ValidationError("the CSV file is empty", rule=_RULE, pointer="/1")
    unknown = [c for c in header if c not in COLUMNS]
    if unknown or "kind" not in header or "id" not in header:
        raise ValidationError(
            f"unknown columns {', '.join(map(repr, unknown))}; the columns are "
            f"{', '.join(COLUMNS)} (kind and id required)"
            if unknown
            else "the columns kind and id are required",
            rule=_RULE,
            pointer="/1",
        )
    records: dict[bytes, MasterDataRecord] = {}
    try:
        for row in reader:
            line = reader.line_num
            try:
                record = _row_checked(row, line, received, len(records))
            except ValidationError as exc:
                where = (exc.pointer or f"/{line}").strip("/").split("/")
                place = f"line {where[0]}" + (f", column {where[1]}" if len(where) > 1 else "")
                raise ValidationError(
                    f"{place}: {exc}", rule=exc.rule, pointer=exc.pointer
                ) from None
            records.setdefault(record.digest, record)
    except csv.Error as exc:
        raise ValidationError(
            f"line {reader.line_num}: not CSV: {exc}", rule=_RULE, pointer=f"/{reader.line_num}"
        ) from None
    return list(records.values())


def _row_checked(
    row: dict[str, Any], line: int, received: datetime, count: int
) -> MasterDataRecord:
    if count >= MAX_ROWS:
        raise ValidationError(f"at most {MAX_ROWS} rows a file", rule=_RULE, pointer=f"/{line}")
    if None in row:
        raise ValidationError("more cells than columns", rule=_RULE, pointer=f"/{line}")
    return _row(row, line, received)


def _row(row: dict[str, Any], line: int, received: datetime) -> MasterDataRecord:
    cells = {k: (c or "").strip() for k, c in row.items()}
    kind = cells.get("kind", "")
    if kind not in (v.KIND_LOCATION, v.KIND_PRODUCT):
        raise ValidationError(
            f"kind is location or product, got {echo(kind)}", rule=_RULE, pointer=f"/{line}/kind"
        )
    columns = LOCATION_COLUMNS if kind == v.KIND_LOCATION else PRODUCT_COLUMNS
    stray = [c for c, value in cells.items() if value and c not in columns and c not in COLUMNS[:3]]
    if stray:
        raise ValidationError(
            f"a {kind} row leaves {', '.join(stray)} empty",
            rule=_RULE,
            pointer=f"/{line}/{stray[0]}",
        )
    element_id = cells.get("id", "")
    if _DIGITS.fullmatch(element_id):
        element_id = (
            f"https://id.gs1.org/414/{element_id}"
            if kind == v.KIND_LOCATION
            else f"https://id.gs1.org/01/{element_id.zfill(14)}"
        )
    effective = (
        parse_time(cells["effective_time"], pointer=f"/{line}/effective_time")
        if cells.get("effective_time")
        else received
    )
    pairs = [(columns[c], value) for c, value in cells.items() if value and c in columns]
    try:
        return make_record(
            v.BUSINESS_LOCATION if kind == v.KIND_LOCATION else v.EPC_CLASS,
            element_id,
            pairs,
            effective_time=effective,
        )
    except ValidationError as exc:
        column = _column(exc.pointer, pairs, columns)
        raise ValidationError(str(exc), rule=exc.rule, pointer=f"/{line}/{column}") from None


def _column(pointer: str | None, pairs: list[tuple[str, Any]], columns: dict[str, str]) -> str:
    """The CSV column an error of :func:`make_record` points at."""
    if not pointer or pointer.startswith("/id"):
        return "id"
    match = re.match(r"/attributes/(\d+)", pointer)
    if match and int(match.group(1)) < len(pairs):
        attribute = pairs[int(match.group(1))][0]
        return next((c for c, a in columns.items() if a == attribute), "id")
    return "subdivision" if "attributes" in pointer else "id"
