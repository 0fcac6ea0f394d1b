"""One schema-valid EPCIS 2.0 JSON-LD event turned into the plain facts the rule sets read.

:func:`normalise_event` runs after the schema check, once per event. It resolves every spelling
the standard allows into one form, so the rules compare strings and never parse:

- identifiers (EPCs, classes, parent, locations, parties) become canonical GS1 Digital Link URIs
  (:func:`~medledger.epcis.identifiers.canonical_identifier`, check digits verified), except a
  location given as another URI (``geo:...``: kept as it is,
  :func:`~medledger.epcis.identifiers.canonical_location`); a bad one is a
  :class:`~medledger.errors.ValidationError` whose ``pointer`` names it
  (``/epcisBody/eventList/3/epcList/7``);
- ``bizStep``, ``disposition`` and source/destination types become bare CBV terms (``shipping``),
  a non-CBV URI is kept as it is;
- quantities become :class:`~decimal.Decimal` (never float: 12.5 kg must stay 12.5 kg);
- the ILMD lot and expiry are read from ``cbvmda:lotNumber`` / ``lotNumber`` (a GS1 AI 10 lot:
  1 to 20 characters of character set 82, :func:`medledger.epcis.gs1.lot`) and
  ``cbvmda:itemExpirationDate`` / ``itemExpirationDate``.

Lists keep the order and length of the document, so ``epcs[j]`` is ``epcList/j`` and a rule can
name the exact field (:meth:`NormalisedEvent.pointer`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from medledger.epcis import gs1
from medledger.epcis.identifiers import canonical_identifier, canonical_location
from medledger.epcis.terms import Vocabulary, default_vocabulary
from medledger.errors import ValidationError, echo

EVENT_LIST = "/epcisBody/eventList"

#: Field holding the class-level quantities of each event type (``quantities``).
QUANTITY_FIELD = {
    "ObjectEvent": "quantityList",
    "TransactionEvent": "quantityList",
    "AggregationEvent": "childQuantityList",
    "AssociationEvent": "childQuantityList",
}
#: Field holding the instance identifiers of each event type (``epcs``).
EPC_FIELD = {"ObjectEvent": "epcList", "TransactionEvent": "epcList"}

_LOT_KEYS = ("cbvmda:lotNumber", "lotNumber")
_EXPIRY_KEYS = ("cbvmda:itemExpirationDate", "itemExpirationDate")


@dataclass(frozen=True, slots=True)
class Quantity:
    """A class-level quantity: ``class_id`` canonical (``.../01/<gtin>/10/<lot>``)."""

    class_id: str
    quantity: Decimal | None
    uom: str | None

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (Quantity, (self.class_id, self.quantity, self.uom))  # see NormalisedEvent


@dataclass(frozen=True, slots=True)
class Party:
    """A source or destination: bare CBV type (``owning_party``) and canonical identifier."""

    type: str
    id: str

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (Party, (self.type, self.id))  # see NormalisedEvent


@dataclass(frozen=True, slots=True)
class NormalisedEvent:
    index: int
    type: str
    action: str | None
    biz_step: str | None
    disposition: str | None
    event_time: datetime
    epcs: tuple[str, ...] = ()
    parent_id: str | None = None
    child_epcs: tuple[str, ...] = ()
    quantities: tuple[Quantity, ...] = ()
    input_epcs: tuple[str, ...] = ()
    input_quantities: tuple[Quantity, ...] = ()
    output_epcs: tuple[str, ...] = ()
    output_quantities: tuple[Quantity, ...] = ()
    read_point: str | None = None
    biz_location: str | None = None
    sources: tuple[Party, ...] = ()
    destinations: tuple[Party, ...] = ()
    lot: str | None = None
    expiry: date | None = None

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled as its fields, rebuilt by ``__init__``: the indexer's worker processes send
        thousands per batch, and the default for a frozen slotted dataclass (``__setstate__``
        looking up the fields of every instance) costs the receiving follower half again."""
        return (NormalisedEvent, tuple(getattr(self, name) for name in _EVENT_FIELDS))

    def pointer(self, *parts: str | int) -> str:
        """JSON pointer of a field of this event: ``pointer("epcList", 3)``."""
        tail = "".join(f"/{p}" for p in parts)
        return f"{EVENT_LIST}/{self.index}{tail}"

    @property
    def epc_field(self) -> str:
        return EPC_FIELD.get(self.type, "epcList")

    @property
    def quantity_field(self) -> str:
        return QUANTITY_FIELD.get(self.type, "quantityList")


_EVENT_FIELDS = tuple(f.name for f in fields(NormalisedEvent))


def _fail(index: int, message: str, rule: str, pointer: str) -> ValidationError:
    return ValidationError(f"event {index}: {message}", rule=rule, pointer=pointer)


class _Reader:
    """Reads one event; carries its index for error messages.

    A value's JSON pointer is written only when the value is refused: the value is read again
    with its pointer, which gives the error to raise (the same result had it been accepted).
    """

    def __init__(self, event: Mapping[str, Any], index: int, vocabulary: Vocabulary) -> None:
        self.event = event
        self.index = index
        self.vocabulary = vocabulary

    @property
    def base(self) -> str:
        return f"{EVENT_LIST}/{self.index}"

    def pointer(self, *path: str | int) -> str:
        return "/".join([self.base, *map(str, path)])

    def identifier(self, value: object, pointer: str) -> str:
        try:
            return canonical_identifier(value, pointer=pointer)
        except ValidationError as exc:
            raise _fail(self.index, str(exc), exc.rule or "gs1.identifier", pointer) from None

    def identifier_at(self, value: object, *path: str | int) -> str:
        """The canonical identifier of ``value``, found at ``path`` of the event."""
        try:
            return canonical_identifier(value)
        except ValidationError:
            return self.identifier(value, self.pointer(*path))

    def term_at(self, kind: str, value: object, *path: str | int) -> str:
        """The bare CBV term (or non-CBV URI) of ``value``, found at ``path`` of the event."""
        try:
            uri = self.vocabulary.normalise(kind, value)
        except ValidationError:
            uri = self.vocabulary.normalise(kind, value, pointer=self.pointer(*path))
        return self.vocabulary.bare_term(kind, uri) or uri

    def identifiers(self, field: str) -> tuple[str, ...]:
        values: Sequence[object] = self.event.get(field) or ()
        if not values:
            return ()
        try:
            return tuple([canonical_identifier(v) for v in values])
        except ValidationError:
            return tuple(self.identifier_at(v, field, j) for j, v in enumerate(values))

    def quantities(self, field: str) -> tuple[Quantity, ...]:
        elements = self.event.get(field)
        if not elements:
            return ()
        out = []
        for j, element in enumerate(elements):
            class_id = self.identifier_at(element.get("epcClass"), field, j, "epcClass")
            raw = element.get("quantity")
            quantity: Decimal | None = None
            if raw is not None:
                try:
                    # str() first: Decimal(12.5) would be exact binary, str keeps what was sent
                    quantity = Decimal(str(raw))
                except InvalidOperation:
                    raise _fail(
                        self.index,
                        f"quantity {echo(raw)} is not a number",
                        "schema.type",
                        self.pointer(field, j, "quantity"),
                    ) from None
            out.append(Quantity(class_id, quantity, element.get("uom")))
        return tuple(out)

    def term(self, kind: str, field: str) -> str | None:
        value = self.event.get(field)
        return None if value is None else self.term_at(kind, value, field)

    def location(self, field: str) -> str | None:
        value = self.event.get(field)
        if value is None or not isinstance(value, Mapping) or "id" not in value:
            return None
        try:
            return canonical_location(value["id"])
        except ValidationError:
            return self.identifier_at(value["id"], field, "id")  # again, naming the field

    def parties(self, field: str, key: str) -> tuple[Party, ...]:
        elements = self.event.get(field)
        if not elements:
            return ()
        out = []
        for j, element in enumerate(elements):
            kind = self.term_at("sourceDestType", element.get("type"), field, j, "type")
            out.append(Party(kind, self.identifier_at(element.get(key), field, j, key)))
        return tuple(out)

    def event_time(self) -> datetime:
        raw = self.event.get("eventTime")
        try:
            moment = datetime.fromisoformat(str(raw))
        except ValueError:
            raise _fail(self.index, f"eventTime {echo(raw)} is not an ISO 8601 date-time",
                        "schema.format", self.pointer("eventTime")) from None  # fmt: skip
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=_offset(self.event.get("eventTimeZoneOffset")))
        return moment

    def ilmd(self) -> tuple[str | None, date | None]:
        ilmd = self.event.get("ilmd")
        if ilmd is None or not isinstance(ilmd, Mapping):
            return None, None
        lot_key = next((k for k in _LOT_KEYS if k in ilmd), None)
        lot = None
        if lot_key is not None:
            # CBV master data: the lot is GS1 AI 10, under every rule set (docs/rules.md)
            try:
                lot = gs1.lot(ilmd[lot_key])
            except ValidationError as exc:
                raise _fail(self.index, f"ILMD {lot_key}: {exc}", exc.rule or "gs1.lot",
                            self.pointer("ilmd", lot_key)) from None  # fmt: skip
        raw = next((ilmd[k] for k in _EXPIRY_KEYS if k in ilmd), None)
        if raw is None:
            return lot, None
        try:
            expiry = date.fromisoformat(str(raw)[:10])
        except ValueError:
            raise _fail(self.index, f"ILMD expiry {echo(raw)} is not an ISO 8601 date",
                        "schema.format", self.pointer("ilmd")) from None  # fmt: skip
        return lot, expiry


def _offset(text: object) -> timezone:
    # the schema requires eventTimeZoneOffset as [+-]hh:mm
    if not isinstance(text, str) or len(text) != 6:
        return UTC
    sign = -1 if text[0] == "-" else 1
    return timezone(sign * timedelta(hours=int(text[1:3]), minutes=int(text[4:6])))


def normalise_event(
    event: Mapping[str, Any], index: int, vocabulary: Vocabulary | None = None
) -> NormalisedEvent:
    """The facts of ``event`` (the ``index``-th of its document) in canonical form.

    ``event`` must already be valid under the EPCIS 2.0 JSON schema. Raises
    :class:`~medledger.errors.ValidationError` (rules ``gs1.*`` of :mod:`medledger.epcis.gs1`,
    ``cbv.<kind>``) with the JSON pointer of the offending value.
    """
    r = _Reader(event, index, vocabulary or default_vocabulary())
    kind = str(event.get("type"))
    parent = event.get("parentID")
    lot, expiry = r.ilmd()
    return NormalisedEvent(
        index=index,
        type=kind,
        action=event.get("action"),
        biz_step=r.term("bizStep", "bizStep"),
        disposition=r.term("disposition", "disposition"),
        event_time=r.event_time(),
        epcs=r.identifiers("epcList"),
        parent_id=None if parent is None else r.identifier_at(parent, "parentID"),
        child_epcs=r.identifiers("childEPCs"),
        quantities=r.quantities(QUANTITY_FIELD.get(kind, "quantityList")),
        input_epcs=r.identifiers("inputEPCList"),
        input_quantities=r.quantities("inputQuantityList"),
        output_epcs=r.identifiers("outputEPCList"),
        output_quantities=r.quantities("outputQuantityList"),
        read_point=r.location("readPoint"),
        biz_location=r.location("bizLocation"),
        sources=r.parties("sourceList", "source"),
        destinations=r.parties("destinationList", "destination"),
        lot=lot,
        expiry=expiry,
    )


def normalise_events(events: Sequence[Mapping[str, Any]]) -> list[NormalisedEvent]:
    """:func:`normalise_event` over a document's ``eventList``."""
    vocabulary = default_vocabulary()
    return [normalise_event(e, i, vocabulary) for i, e in enumerate(events)]
