"""The EPCIS 2.0 REST binding's standard query parameters, read and checked (pure).

:func:`parse_query` turns a request's query parameters (name, value pairs, as many times as
they occur) into an :class:`EventQuery`: values canonicalised the way the index stores them
(identifiers as canonical GS1 Digital Link URIs, CBV terms as bare terms, times as aware
datetimes, quantities as :class:`~decimal.Decimal`). Anything else is refused, never ignored:

- an unknown parameter, a malformed value, a scalar parameter given twice, ``eventCountLimit``
  without ``orderBy`` or beside ``maxEventCount``: :class:`QueryParameterError` (the binding's
  ``QueryParameterException``, HTTP 400) with rule ``query.parameter`` and the parameter's
  name as pointer;
- a parameter of the binding the index does not answer yet (sensor filters, ``INNER_``,
  master-data attributes other than ``EQ_readPoint_<attr>`` and ``EQ_bizLocation_<attr>``,
  ``orderBy`` on an extension field, quantities by unit of measure): the same error with rule
  ``query.unsupported``.

List parameters are pipe-delimited (the binding's ``style: pipeDelimited, explode: false``:
``EQ_bizStep=shipping|receiving``); one given twice adds its values (either matches).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Literal

from medledger.epcis.event_id import HASH_PREFIX, EventId
from medledger.epcis.identifiers import canonical_identifier, canonical_location
from medledger.epcis.terms import Vocabulary, default_vocabulary
from medledger.errors import QueryParameterError, ValidationError, echo

PER_PAGE_DEFAULT = 100
PER_PAGE_MAX = 1000
#: Characters of a nextPageToken (the index's are about a hundred).
TOKEN_MAX = 2000
#: Values one list parameter may carry.
VALUES_MAX = 100

EVENT_TYPES = frozenset(
    {
        "ObjectEvent",
        "AggregationEvent",
        "AssociationEvent",
        "TransactionEvent",
        "TransformationEvent",
    }
)
ACTIONS = frozenset({"ADD", "OBSERVE", "DELETE"})
Comparison = Literal["EQ", "GT", "GE", "LT", "LE"]
Scalar = str | Decimal | datetime

#: MATCH_ parameter -> the roles of ``ix_event_items`` (indexer/event_rows.py) it reads.
MATCH_ROLES: dict[str, tuple[str, ...]] = {
    "epc": ("epc", "child"),
    "parentID": ("parent",),
    "inputEPC": ("input",),
    "outputEPC": ("output",),
    "anyEPC": ("epc", "child", "parent", "input", "output"),
    "epcClass": ("quantity", "child_quantity"),
    "inputEPCClass": ("input_quantity",),
    "outputEPCClass": ("output_quantity",),
    "anyEPCClass": ("quantity", "child_quantity", "input_quantity", "output_quantity"),
}

_FIELD = r"[a-z][a-zA-Z0-9]*:\w+"
_OPS = "EQ|GT|GE|LT|LE"
_FIELD_FILTER = re.compile(rf"^({_OPS})_(ILMD_)?({_FIELD})$")
_EXISTS_FIELD = re.compile(rf"^EXISTS_(ILMD_)?({_FIELD})$")
#: ``EQ_readPoint_cbvmda:state=KG-C``: a master data attribute of the location (any one value).
_LOCATION_ATTRIBUTE = re.compile(rf"^EQ_(readPoint|bizLocation)_({_FIELD})$")
_TYPED = re.compile(r"^EQ_(bizTransaction|source|destination)_([a-z][a-zA-Z0-9_]+)$")
_QUANTITY = re.compile(rf"^({_OPS})_quantity$")
#: Control characters (NUL and the like) are no part of any parameter's value.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: Decimal exponents a quantity may have (the index keeps 38 digits, 9 after the point).
_EXPONENTS = range(-30, 29)
#: Parameters of the binding (openapi.json, query-schema.json) not answered yet.
_UNSUPPORTED = re.compile(
    r"^(GE|LT)_(startTime|endTime)$"
    r"|^EQ_(type|deviceID|dataProcessingMethod|microorganism|chemicalSubstance|bizRules"
    r"|stringValue|hexBinaryValue|uriValue|booleanValue|deviceMetadata|rawData|component)$"
    r"|^(EQ|GT|GE|LT|LE)_(value|minValue|maxValue|meanValue|sDev|percValue|quantity)_[A-Z0-9]{2,4}$"
    r"|^(EQ|GT|GE|LT|LE|EXISTS)_(INNER_|SENSORELEMENT_|SENSORMETADATA_|SENSORREPORT_"
    r"|ERROR_DECLARATION_|INNER_ERROR_DECLARATION_|readPoint_|bizLocation_|ATTR_)"
    r"|^HASATTR_|^EXISTS_sensorElementList$"
)


@dataclass(frozen=True, slots=True)
class Span:
    """``GE_x`` .. ``LT_x``: from (inclusive) and before (exclusive), either open."""

    ge: datetime | None = None
    lt: datetime | None = None

    @property
    def open(self) -> bool:
        return self.ge is None and self.lt is None


@dataclass(frozen=True, slots=True)
class IdMatch:
    """A ``MATCH_`` value: one identifier (canonical DL URI), or with ``pattern`` every
    identifier under a key (``urn:epc:idpat:sgtin:0614141.107346.*``: the GTIN's DL URI, and
    every instance or lot below it)."""

    uri: str
    pattern: bool = False


@dataclass(frozen=True, slots=True)
class FieldFilter:
    """``EQ_ns:f`` / ``GT_ILMD_ns:f``...: a top-level extension field of the event (or of its
    ``ilmd`` with ``ilmd``) compared with ``values`` (several only for ``EQ``: any one)."""

    op: Comparison
    name: str
    values: tuple[Scalar, ...]
    ilmd: bool = False


@dataclass(frozen=True, slots=True)
class EventQuery:
    """A SimpleEventQuery's parameters, canonical (see the module docstring). Empty tuples and
    None: no condition."""

    event_types: tuple[str, ...] = ()
    event_time: Span = Span()
    record_time: Span = Span()
    actions: tuple[str, ...] = ()
    biz_steps: tuple[str, ...] = ()
    dispositions: tuple[str, ...] = ()
    persistent_set: tuple[str, ...] = ()
    persistent_unset: tuple[str, ...] = ()
    read_points: tuple[str, ...] = ()
    read_points_within: tuple[str, ...] = ()
    biz_locations: tuple[str, ...] = ()
    biz_locations_within: tuple[str, ...] = ()
    transformation_ids: tuple[str, ...] = ()
    #: MATCH_ parameter name (``epc``, ``anyEPCClass``...) -> its values
    matches: tuple[tuple[str, tuple[IdMatch, ...]], ...] = ()
    quantities: tuple[tuple[Comparison, Decimal], ...] = ()
    event_ids: tuple[str, ...] = ()
    error_declaration: bool | None = None
    error_declaration_time: Span = Span()
    error_reasons: tuple[str, ...] = ()
    corrective_event_ids: tuple[str, ...] = ()
    #: (bizTransaction type, source type or destination type as a bare term or URI, values)
    biz_transactions: tuple[tuple[str, tuple[str, ...]], ...] = ()
    sources: tuple[tuple[str, tuple[str, ...]], ...] = ()
    destinations: tuple[tuple[str, tuple[str, ...]], ...] = ()
    fields: tuple[FieldFilter, ...] = ()
    #: (name, in ilmd)
    exists: tuple[tuple[str, bool], ...] = ()
    #: (``readPoint`` or ``bizLocation``, a master data attribute as written, its values):
    #: ``EQ_readPoint_cbvmda:state=KG-C|KG-GB``; answered from the index's master data
    location_attributes: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    order_by: Literal["eventTime", "recordTime"] | None = None
    descending: bool = True
    event_count_limit: int | None = None
    max_event_count: int | None = None
    per_page: int = PER_PAGE_DEFAULT
    next_page_token: str | None = None

    def fingerprint(self) -> str:
        """The query without its paging (perPage, nextPageToken): a token is only good for the
        query that gave it."""
        text = repr(
            tuple(
                getattr(self, f)
                for f in self.__dataclass_fields__
                if f not in ("per_page", "next_page_token")
            )
        )
        return text


def _fail(name: str, message: str, rule: str = "query.parameter") -> QueryParameterError:
    return QueryParameterError(f"{name}: {message}", rule=rule, pointer=name)


@dataclass
class _Reader:
    vocabulary: Vocabulary
    scalars: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, value: str, *, listed: bool) -> None:
        if listed:
            parts = value.split("|")
            if any(p == "" for p in parts):
                raise _fail(name, f"an empty value in {echo(value)} (values are pipe-delimited)")
            found = self.lists.setdefault(name, [])
            found.extend(parts)
            if len(found) > VALUES_MAX:
                raise _fail(name, f"at most {VALUES_MAX} values")
            return
        if name in self.scalars:
            raise _fail(name, "given more than once")
        self.scalars[name] = value

    def term(self, kind: str, name: str) -> tuple[str, ...]:
        out = []
        for value in self.lists.get(name, ()):
            try:
                uri = self.vocabulary.normalise(kind, value, pointer=name)
            except ValidationError as exc:
                raise _fail(name, str(exc)) from None
            out.append(self.vocabulary.bare_term(kind, uri) or uri)
        return tuple(dict.fromkeys(out))


_LIST_NAMES = frozenset(
    {
        "eventType", "EQ_action", "EQ_bizStep", "EQ_disposition", "EQ_persistentDisposition_set",
        "EQ_persistentDisposition_unset", "EQ_readPoint", "WD_readPoint", "EQ_bizLocation",
        "WD_bizLocation", "EQ_transformationID", "EQ_eventID", "EQ_errorReason",
        "EQ_correctiveEventID", *(f"MATCH_{m}" for m in MATCH_ROLES),
    }
)  # fmt: skip
_SCALAR_NAMES = frozenset(
    {
        "GE_eventTime", "LT_eventTime", "GE_recordTime", "LT_recordTime",
        "EXISTS_errorDeclaration", "GE_errorDeclarationTime", "LT_errorDeclarationTime",
        "orderBy", "orderDirection", "eventCountLimit", "maxEventCount", "perPage",
        "nextPageToken",
    }
)  # fmt: skip


def _time(name: str, value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _fail(name, f"{echo(value)} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise _fail(name, f"{echo(value)} has no time zone (add Z or an offset such as +06:00)")
    try:
        moment.astimezone(UTC)
    except OverflowError:
        raise _fail(name, f"{echo(value)} lies outside the years 1 to 9999 in UTC") from None
    return moment


def _number(name: str, value: str) -> Decimal:
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise _fail(name, f"{echo(value)} is not a number") from None
    if not number.is_finite():
        raise _fail(name, f"{echo(value)} is not a finite number")
    if number and number.adjusted() not in _EXPONENTS:
        raise _fail(name, f"{echo(value)} is out of range (at most 29 digits before the point)")
    return number


def _count(name: str, value: str, maximum: int | None = None) -> int:
    if not value.isascii() or not value.isdigit() or len(value) > 9 or int(value) < 1:
        raise _fail(name, f"{echo(value)} is not a whole number of at least 1")
    if maximum is not None and int(value) > maximum:
        raise _fail(name, f"at most {maximum}, got {value}")
    return int(value)


def _boolean(name: str, value: str) -> bool:
    if value not in ("true", "false"):
        raise _fail(name, f"true or false, got {echo(value)}")
    return value == "true"


def _comparable(name: str, value: str) -> Scalar:
    """A field comparison's value: a number, else a date-time with a zone, else the text."""
    try:
        number = Decimal(value)
        if number.is_finite():
            return number
    except InvalidOperation:
        pass
    if "T" in value:
        return _time(name, value)
    return value


def _uri(name: str, value: str) -> str:
    if ":" not in value or any(c.isspace() for c in value):
        raise _fail(name, f"{echo(value)} is not a URI")
    return value


def _event_id(value: str) -> str:
    """A hash id (``ni:///sha-256;...``, read strictly, printed canonically), or another URI."""
    if not value.startswith(HASH_PREFIX):
        return _uri("EQ_eventID", value)
    try:
        return EventId.parse(value).uri
    except ValidationError as exc:
        raise _fail("EQ_eventID", str(exc)) from None


def _identifier(name: str, value: str) -> IdMatch:
    try:
        uri = canonical_identifier(value, pointer=name)
    except ValidationError as exc:
        raise _fail(name, str(exc)) from None
    return IdMatch(uri, pattern=value.startswith("urn:epc:idpat:"))


def _location(name: str, value: str) -> str:
    try:
        return canonical_location(value, pointer=name)
    except ValidationError as exc:
        raise _fail(name, str(exc)) from None


def parse_query(
    params: Iterable[tuple[str, str]], vocabulary: Vocabulary | None = None
) -> EventQuery:
    """The :class:`EventQuery` of ``params`` (see the module docstring for what is refused)."""
    reader = _Reader(vocabulary or default_vocabulary())
    fields: list[FieldFilter] = []
    exists: list[tuple[str, bool]] = []
    typed: dict[str, dict[str, list[str]]] = {"bizTransaction": {}, "source": {}, "destination": {}}
    quantities: list[tuple[Comparison, Decimal]] = []
    located: list[tuple[str, str, tuple[str, ...]]] = []
    seen: set[str] = set()
    for name, value in params:
        if _CONTROL.search(value):
            raise _fail(name, "a control character in the value")
        if name in _LIST_NAMES:
            reader.add(name, value, listed=True)
        elif name in _SCALAR_NAMES:
            reader.add(name, value, listed=False)
        elif m := _LOCATION_ATTRIBUTE.match(name):
            parts = value.split("|")
            if name in seen or any(p == "" for p in parts) or len(parts) > VALUES_MAX:
                raise _fail(name, f"given more than once, or an empty value in {echo(value)}")
            located.append((m.group(1), m.group(2), tuple(dict.fromkeys(parts))))
        elif _UNSUPPORTED.match(name):
            raise _fail(name, "not supported by this index yet (refused, not ignored)",
                        "query.unsupported")  # fmt: skip
        elif m := _QUANTITY.match(name):
            if name in seen:
                raise _fail(name, "given more than once")
            quantities.append((m.group(1), _number(name, value)))  # type: ignore[arg-type]
        elif m := _TYPED.match(name):
            if value == "" or any(p == "" for p in value.split("|")):
                raise _fail(name, f"an empty value in {echo(value)}")
            kind = "bizTransactionType" if m.group(1) == "bizTransaction" else "sourceDestType"
            try:
                uri = reader.vocabulary.normalise(kind, m.group(2), pointer=name)
            except ValidationError as exc:
                raise _fail(name, str(exc)) from None
            term = reader.vocabulary.bare_term(kind, uri) or uri
            values = [_uri(name, v) for v in value.split("|")]
            if m.group(1) != "bizTransaction":
                values = [_location(name, v) for v in values]
            typed[m.group(1)].setdefault(term, []).extend(values)
        elif m := _FIELD_FILTER.match(name):
            if name in seen:
                raise _fail(name, "given more than once")
            op: Comparison = m.group(1)  # type: ignore[assignment]
            parts = value.split("|") if op == "EQ" else [value]
            if any(p == "" for p in parts):
                raise _fail(name, f"an empty value in {echo(value)}")
            compared = tuple(_comparable(name, p) for p in parts)
            if op != "EQ" and isinstance(compared[0], str):
                raise _fail(name, f"{echo(value)} is neither a number nor a date-time")
            fields.append(FieldFilter(op, m.group(3), compared, ilmd=m.group(2) is not None))
        elif m := _EXISTS_FIELD.match(name):
            if value not in ("", "true"):
                raise _fail(name, f"takes no value (or true), got {echo(value)}")
            exists.append((m.group(2), m.group(1) is not None))
        else:
            raise _fail(name, "not a parameter of the EPCIS 2.0 query interface")
        seen.add(name)
    return replace(
        _build(reader, fields, exists, typed, quantities), location_attributes=tuple(located)
    )


def _build(
    reader: _Reader,
    fields: list[FieldFilter],
    exists: list[tuple[str, bool]],
    typed: dict[str, dict[str, list[str]]],
    quantities: list[tuple[Comparison, Decimal]],
) -> EventQuery:
    s, lists = reader.scalars, reader.lists
    for name in ("eventType",):
        for value in lists.get(name, ()):
            if value not in EVENT_TYPES and ":" not in value:
                raise _fail(name, f"{echo(value)} is not an EPCIS event type or a URI")
    for value in lists.get("EQ_action", ()):
        if value not in ACTIONS:
            raise _fail("EQ_action", f"ADD, OBSERVE or DELETE, got {echo(value)}")

    def span(name: str) -> Span:
        ge = _time(f"GE_{name}", s[f"GE_{name}"]) if f"GE_{name}" in s else None
        lt = _time(f"LT_{name}", s[f"LT_{name}"]) if f"LT_{name}" in s else None
        return Span(ge, lt)

    order_by = s.get("orderBy")
    if order_by is not None and order_by not in ("eventTime", "recordTime"):
        if re.match(rf"^{_FIELD}$", order_by):
            raise _fail("orderBy", "ordering by an extension field is not supported by this "
                        "index yet (refused, not ignored)", "query.unsupported")  # fmt: skip
        raise _fail("orderBy", f"eventTime, recordTime or an extension field, got {echo(order_by)}")
    direction = s.get("orderDirection")
    if direction is not None:
        if direction not in ("ASC", "DESC"):
            raise _fail("orderDirection", f"ASC or DESC, got {echo(direction)}")
        if order_by is None:
            raise _fail("orderDirection", "needs orderBy")
    limit = _count("eventCountLimit", s["eventCountLimit"]) if "eventCountLimit" in s else None
    most = _count("maxEventCount", s["maxEventCount"]) if "maxEventCount" in s else None
    if limit is not None and most is not None:
        raise _fail("eventCountLimit", "eventCountLimit and maxEventCount exclude each other")
    if limit is not None and order_by is None:
        raise _fail("eventCountLimit", "needs orderBy")
    token = s.get("nextPageToken")
    if token is not None and not 0 < len(token) <= TOKEN_MAX:
        raise _fail("nextPageToken", f"1 to {TOKEN_MAX} characters")
    event_ids = tuple(_event_id(v) for v in lists.get("EQ_eventID", ()))
    return EventQuery(
        event_types=tuple(dict.fromkeys(lists.get("eventType", ()))),
        event_time=span("eventTime"),
        record_time=span("recordTime"),
        actions=tuple(dict.fromkeys(lists.get("EQ_action", ()))),
        biz_steps=reader.term("bizStep", "EQ_bizStep"),
        dispositions=reader.term("disposition", "EQ_disposition"),
        persistent_set=reader.term("disposition", "EQ_persistentDisposition_set"),
        persistent_unset=reader.term("disposition", "EQ_persistentDisposition_unset"),
        read_points=tuple(_location("EQ_readPoint", v) for v in lists.get("EQ_readPoint", ())),
        read_points_within=tuple(
            _location("WD_readPoint", v) for v in lists.get("WD_readPoint", ())
        ),
        biz_locations=tuple(
            _location("EQ_bizLocation", v) for v in lists.get("EQ_bizLocation", ())
        ),
        biz_locations_within=tuple(
            _location("WD_bizLocation", v) for v in lists.get("WD_bizLocation", ())
        ),
        transformation_ids=tuple(
            _uri("EQ_transformationID", v) for v in lists.get("EQ_transformationID", ())
        ),
        matches=tuple(
            (m, tuple(_identifier(f"MATCH_{m}", v) for v in lists[f"MATCH_{m}"]))
            for m in MATCH_ROLES
            if f"MATCH_{m}" in lists
        ),
        quantities=tuple(quantities),
        event_ids=event_ids,
        error_declaration=(
            _boolean("EXISTS_errorDeclaration", s["EXISTS_errorDeclaration"])
            if "EXISTS_errorDeclaration" in s
            else None
        ),
        error_declaration_time=span("errorDeclarationTime"),
        error_reasons=reader.term("errorReason", "EQ_errorReason"),
        corrective_event_ids=tuple(
            _uri("EQ_correctiveEventID", v) for v in lists.get("EQ_correctiveEventID", ())
        ),
        biz_transactions=tuple((k, tuple(v)) for k, v in typed["bizTransaction"].items()),
        sources=tuple((k, tuple(v)) for k, v in typed["source"].items()),
        destinations=tuple((k, tuple(v)) for k, v in typed["destination"].items()),
        fields=tuple(fields),
        exists=tuple(exists),
        order_by=order_by,  # type: ignore[arg-type]
        descending=direction != "ASC",
        event_count_limit=limit,
        max_event_count=most,
        per_page=(
            _count("perPage", s["perPage"], PER_PAGE_MAX) if "perPage" in s else PER_PAGE_DEFAULT
        ),
        next_page_token=token,
    )
