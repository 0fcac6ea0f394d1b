"""A named query's definition (the REST binding's ``POST /queries`` body, after GS1's
query-schema.json) as the name, value pairs of ``GET /events`` (pure).

The body is ``{"name": ..., "query": {...}}``; each member of ``query`` is one parameter of the
events query: a list (``"EQ_bizStep": ["shipping", "receiving"]``) becomes one pipe-delimited
value, a number its decimal text, ``true``/``false`` their words, ``null`` (``EXISTS_`` in the
schema) a bare presence. What the pairs mean is judged by
:func:`medledger.epcis.query.parse_query`, the parser of ``GET /events``: an unknown or
malformed parameter is refused the same way (400), never ignored. ``@context`` is accepted and
not a parameter; ``nextPageToken`` belongs to one page of an answer, not to a query.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from medledger.epcis.query import parse_query
from medledger.errors import QueryParameterError, echo

#: A query's name: what may follow ``/queries/`` in a path without escaping.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,99}$")
#: The binding's query-schema spells two parameters with an underscore the binding's
#: openapi.json (and GET /events) has not.
ALIASES = {
    "GE_errorDeclaration_Time": "GE_errorDeclarationTime",
    "LT_errorDeclaration_Time": "LT_errorDeclarationTime",
}


def _fail(pointer: str, message: str) -> QueryParameterError:
    return QueryParameterError(message, rule="query.definition", pointer=pointer)


def _text(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, str):
        return value
    raise _fail(f"/query/{name}", f"{name}: a string, number or boolean, got {echo(str(value))}")


def query_name(name: Any) -> str:
    """``name`` if it is a query name (letters, digits, ``.``, ``_``, ``~``, ``-``, at most
    100, starting with a letter or digit)."""
    if not isinstance(name, str) or not NAME.match(name):
        raise _fail(
            "/name",
            "a query name is 1 to 100 letters, digits, '.', '_', '~' or '-' (starting with a "
            f"letter or digit), got {echo(str(name))}",
        )
    return name


def query_params(query: Any) -> list[tuple[str, str]]:
    """The ``GET /events`` parameters of a query-schema object, checked by the events query's
    parser (raises :class:`QueryParameterError` as it does)."""
    if not isinstance(query, dict):
        raise _fail("/query", "the query is a JSON object of EPCIS query parameters")
    pairs: list[tuple[str, str]] = []
    for given, value in query.items():
        if given == "@context":
            continue
        name = ALIASES.get(str(given), str(given))
        if name == "nextPageToken":
            raise _fail(f"/query/{given}", "nextPageToken belongs to a page, not to a query")
        if name.startswith("EXISTS_") and (
            value is None or (isinstance(value, int) and not isinstance(value, bool))
        ):  # the schema's EXISTS_: null (or an integer): present
            pairs.append((name, "true" if name == "EXISTS_errorDeclaration" else ""))
        elif isinstance(value, list):
            if not value:
                raise _fail(f"/query/{given}", f"{given}: an empty list")
            pairs.append((name, "|".join(_text(given, v) for v in value)))
        else:
            pairs.append((name, _text(given, value)))
    parse_query(pairs)  # refused as GET /events refuses it
    return pairs
