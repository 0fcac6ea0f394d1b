"""Validate EPCIS 2.0 documents against the GS1 EPCIS 2.0 JSON schema.

The schema is compiled once per path with fastjsonschema (generated Python code: roughly an
order of magnitude faster than ``jsonschema``, which manages about 800 events/s here). The path
comes from the caller (the gateway configuration);
:data:`~medledger.epcis.resources.DEFAULT_SCHEMA_PATH` is the vendored copy.

A failure becomes a :class:`~medledger.errors.ValidationError`
whose ``pointer`` is the RFC 6901 JSON
pointer of the offending value (``/epcisBody/eventList/3/bizStep``) and whose ``rule`` is
``schema.<keyword>`` (``schema.required``, ``schema.enum``, ``schema.anyOf`` ...). The message names
the event index when the error lies inside an event.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import fastjsonschema

from medledger.epcis.documents import event_list
from medledger.epcis.resources import DEFAULT_SCHEMA_PATH
from medledger.epcis.typed_events import TypedEvents
from medledger.errors import ConfigurationError, ValidationError

_EVENT_TYPES = (
    "ObjectEvent",
    "AggregationEvent",
    "TransactionEvent",
    "TransformationEvent",
    "AssociationEvent",
)
_EVENT_POINTER = re.compile(r"^/epcisBody/eventList/(\d+)(?:/|$)")

_Validate = Callable[[Any], Any]

# "cannot be validated by any definition" says little; for vocabulary fields say what is expected.
_ANYOF_HINTS = {
    "bizStep": "is not a standard CBV business step (bare term such as 'shipping', or its URI) "
    "nor a non-CBV URI",
    "disposition": "is not a standard CBV disposition (bare term such as 'in_transit', or its URI) "
    "nor a non-CBV URI",
    "type": "is not a standard CBV type (bare term or URI) nor a non-CBV URI",
    "certificationInfo": "must be a URI or a list of URIs",
}


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def json_pointer(path: list[str] | tuple[str, ...]) -> str:
    """RFC 6901 pointer for a fastjsonschema error path (whose first element is ``data``)."""
    return "".join("/" + _escape(str(p)) for p in path[1:])


def event_index(pointer: str | None) -> int | None:
    """The index in ``epcisBody.eventList`` that ``pointer`` lies in, if any."""
    if pointer is None:
        return None
    m = _EVENT_POINTER.match(pointer)
    return int(m.group(1)) if m else None


def _to_validation_error(
    exc: fastjsonschema.JsonSchemaValueException, prefix: str = ""
) -> ValidationError:
    path = list(exc.path) if exc.path else ["data"]
    pointer = prefix + json_pointer(path)
    name = exc.name or ""
    detail = exc.message[len(name) :].strip() if exc.message.startswith(name) else exc.message
    field = pointer.rsplit("/", 1)[-1]
    if exc.rule == "anyOf" and field in _ANYOF_HINTS:
        detail = _ANYOF_HINTS[field]
    index = event_index(pointer)
    where = f"event {index}: " if index is not None else ""
    return ValidationError(
        f"{where}{pointer or '/'} {detail} (GS1 EPCIS 2.0 JSON schema)",
        rule=f"schema.{exc.rule}" if exc.rule else "schema",
        pointer=pointer or "/",
    )


def _refuse_remote(uri: str) -> Any:
    raise ConfigurationError(f"EPCIS schema refers to remote {uri}; only local $ref is supported")


# Every handler fastjsonschema might use to fetch a remote "$ref": the gateway never goes online.
_OFFLINE_HANDLERS: dict[str, Callable[[str], Any]] = {
    "http": _refuse_remote,
    "https": _refuse_remote,
    "file": _refuse_remote,
    "ftp": _refuse_remote,
}


def _enum_last_if_not(branch: Any) -> int:
    return 0 if isinstance(branch, dict) and ("enum" in branch or "const" in branch) else 1


def _enums_first(node: Any) -> Any:
    """A copy of a schema whose ``anyOf`` lists try their ``enum``/``const`` branches first.

    ``anyOf`` does not depend on the order of its branches (and the GS1 schema has no
    ``default`` that a branch could apply), so validity and the error reported for an invalid
    document are unchanged. It is faster: fastjsonschema builds an exception for every branch
    that fails, and a bare CBV term (``"commissioning"``) or a standard event field name
    (``"action"``, the ``propertyNames`` check) used to fail a URI branch before reaching the
    enum it is in; that was about 30 exceptions per event.
    """
    if isinstance(node, dict):
        copied = {k: _enums_first(v) for k, v in node.items()}
        branches = copied.get("anyOf")
        if isinstance(branches, list):
            copied["anyOf"] = sorted(branches, key=_enum_last_if_not)
        return copied
    if isinstance(node, list):
        return [_enums_first(v) for v in node]
    return node


def _compile(schema: Mapping[str, Any], source: str) -> _Validate:
    try:
        validate: _Validate = fastjsonschema.compile(
            _enums_first(dict(schema)), handlers=_OFFLINE_HANDLERS
        )
    except fastjsonschema.JsonSchemaDefinitionException as exc:
        raise ConfigurationError(f"cannot compile EPCIS schema {source}: {exc}") from exc
    return validate


class EpcisSchema:
    """A compiled GS1 EPCIS 2.0 JSON schema. Build it with :func:`load_schema` (cached)."""

    def __init__(
        self, schema: Mapping[str, Any], *, source: str = "<memory>", dispatch: bool = True
    ) -> None:
        """``dispatch=False``: always validate with the whole schema (the slow path, which the
        tests hold the fast one equal to)."""
        self.source = source
        self._schema = dict(schema)
        self._document: _Validate = _compile(self._schema, source)
        self._events: dict[str, _Validate] = {}
        envelope = _without_event_dispatch(self._schema) if dispatch else None
        if envelope is not None:
            envelope = _merged_property_names(envelope, envelope["definitions"])
        self._fast_schema = envelope
        self._fast_events: dict[str, _Validate] = {}
        self._envelope = None if envelope is None else _compile(envelope, source)
        self._typed = None if envelope is None else TypedEvents.for_schema(self._schema)

    def validate(self, document: Any) -> None:
        """Raise :class:`ValidationError` naming the first schema violation in ``document``.

        Fast path (GS1's schema, :func:`_without_event_dispatch`): the document without the
        ``if``/``then`` dispatch of its events on their ``type``, then each event against the
        definition its ``type`` names, which is what that dispatch asks (the ``if`` branches
        that do not apply each raised an exception inside fastjsonschema: five per event), with
        the event's field names checked against one list (:func:`_merged_property_names`). The
        same documents pass; one that fails either step is validated again whole, so that the
        error reported is the one the whole schema reports first. An ObjectEvent or
        AggregationEvent of the common fields is checked as a typed struct first
        (:mod:`medledger.epcis.typed_events`, a sufficient condition: what it does not accept
        goes to its type's definition)."""
        if self._envelope is not None and self._valid_by_dispatch(document):
            return
        try:
            self._document(document)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise _to_validation_error(exc) from None

    @property
    def dispatches(self) -> bool:
        """Whether :meth:`validate` takes the fast path (the schema has GS1's event dispatch)."""
        return self._envelope is not None

    @property
    def typed(self) -> TypedEvents | None:
        """The typed structs the fast path checks common events with, if this schema has the
        definitions they state (:meth:`TypedEvents.for_schema`)."""
        return self._typed

    def _valid_by_dispatch(self, document: Any) -> bool:
        assert self._envelope is not None
        try:
            self._envelope(document)
            events = event_list(document).events
            typed = self._typed
            for event in events:
                if typed is not None and typed.accepts(event):
                    continue
                kind = event["type"]
                self._fast_event_validator(kind if kind in _EVENT_TYPES else _EXTENDED_EVENT)(event)
        except (fastjsonschema.JsonSchemaValueException, ValidationError, KeyError, TypeError):
            return False
        return True

    def _event_validator(self, event_type: str) -> _Validate:
        return self._definition_validator(self._schema, self._events, event_type)

    def _fast_event_validator(self, event_type: str) -> _Validate:
        assert self._fast_schema is not None
        return self._definition_validator(self._fast_schema, self._fast_events, event_type)

    def _definition_validator(
        self, schema: Mapping[str, Any], cache: dict[str, _Validate], event_type: str
    ) -> _Validate:
        validator = cache.get(event_type)
        if validator is None:
            definitions = schema.get("definitions", {})
            # draft-07 ignores keywords beside "$ref", so wrap the reference in allOf.
            # Same "$id" as the full schema: its definitions resolve "#/definitions/..." against it.
            sub = {
                "$id": schema.get("$id", "urn:x-provenance:epcis-schema"),
                "$schema": schema.get("$schema", "http://json-schema.org/draft-07/schema#"),
                "definitions": definitions,
                "allOf": [{"$ref": f"#/definitions/{event_type}"}],
            }
            validator = _compile(sub, self.source)
            cache[event_type] = validator
        return validator

    def validate_event(self, event: Any, index: int) -> None:
        """Validate one event of ``epcisBody.eventList`` on its own; pointers name ``index``."""
        prefix = f"/epcisBody/eventList/{index}"
        event_type = event.get("type") if isinstance(event, dict) else None
        if event_type not in _EVENT_TYPES:
            raise ValidationError(
                f"event {index}: {prefix}/type must be one of {', '.join(_EVENT_TYPES)}, "
                f"got {event_type!r}",
                rule="schema.enum",
                pointer=f"{prefix}/type",
            )
        try:
            self._event_validator(str(event_type))(event)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise _to_validation_error(exc, prefix) from None

    def iter_errors(self, document: Any) -> Iterator[ValidationError]:
        """Every failing event (one error each), or the first document-level error.

        Useful to report all rejected events at once; :meth:`validate` is the fast path.
        """
        try:
            self.validate(document)
        except ValidationError as first:
            events = _event_list(document)
            if event_index(first.pointer) is None or events is None:
                yield first
                return
            for i, event in enumerate(events):
                try:
                    self.validate_event(event, i)
                except ValidationError as exc:
                    yield exc


#: What the GS1 schema's ``EPCIS-Document-Event`` dispatches an event of any other type to.
_EXTENDED_EVENT = "Extended-Event"
_DOCUMENT_EVENT = "EPCIS-Document-Event"


def _dispatch_branch(branch: Any, event_type: str) -> bool:
    """``branch`` is ``if type is event_type then #/definitions/event_type``."""
    condition = {"properties": {"type": {"enum": [event_type]}}}
    return isinstance(branch, dict) and (
        branch.get("if") in (condition, {"type": "object", **condition})
        and branch.get("then") == {"$ref": f"#/definitions/{event_type}"}
        and set(branch) == {"if", "then"}
    )


def _is_event_dispatch(branches: Any) -> bool:
    """``branches`` send each event to the definition of its ``type`` (one of the five), any
    other type to ``Extended-Event``: exactly one applies to an event whose type is a string."""
    if not isinstance(branches, list) or len(branches) != len(_EVENT_TYPES) + 1:
        return False
    *typed, other = branches
    if sorted(_dispatch_branch_type(b) or "" for b in typed) != sorted(_EVENT_TYPES):
        return False
    if not isinstance(other, dict) or set(other) != {"if", "then"}:
        return False
    negated = other["if"].get("not") if isinstance(other["if"], dict) else None
    if not isinstance(negated, dict) or set(other["if"]) != {"not"}:
        return False
    enum = negated.get("properties", {}).get("type", {}).get("enum")
    return (
        set(negated) == {"type", "properties"}
        and negated.get("type") == "object"
        and isinstance(enum, list)
        and sorted(enum) == sorted(_EVENT_TYPES)
        and other["then"] == {"$ref": f"#/definitions/{_EXTENDED_EVENT}"}
    )


def _dispatch_branch_type(branch: Any) -> str | None:
    for event_type in _EVENT_TYPES:
        if _dispatch_branch(branch, event_type):
            return event_type
    return None


def _without_event_dispatch(schema: Mapping[str, Any]) -> dict[str, Any] | None:
    """``schema`` with its events' dispatch on ``type`` taken out, if it has GS1's: its
    ``EPCIS-Document-Event`` (each item of an ``eventList``) keeps the rest (an object, with a
    string ``type``) and :meth:`EpcisSchema.validate` applies the definition of the type. For
    any other schema, None (the whole schema validates every document)."""
    definitions = schema.get("definitions")
    if not isinstance(definitions, dict):
        return None
    event = definitions.get(_DOCUMENT_EVENT)
    if not isinstance(event, dict) or not _is_event_dispatch(event.get("allOf")):
        return None
    if event.get("properties") != {"type": {"type": "string"}} or "type" not in event.get(
        "required", ()
    ):
        return None
    kept = {k: v for k, v in event.items() if k != "allOf"}
    return {**schema, "definitions": {**definitions, _DOCUMENT_EVENT: kept}}


_COMMON_PROPERTIES = "common-event-properties"


def _string_enum(node: Any) -> list[Any] | None:
    """The values of ``{"type": "string", "enum": [...]}``, else None."""
    if isinstance(node, dict) and set(node) == {"type", "enum"} and node["type"] == "string":
        values = node["enum"]
        return values if isinstance(values, list) else None
    return None


def _merged_property_names(node: Any, definitions: Mapping[str, Any]) -> Any:
    """A copy of ``node`` where each ``anyOf`` of a list of names and
    ``$ref: #/definitions/common-event-properties`` (itself a list of names or another
    schema) becomes one list of both names or that other schema: the same names pass, but a
    common name (``eventTime``, ``type``) no longer fails the first list (an exception inside
    fastjsonschema, three or more per event) before the second takes it."""
    common = definitions.get(_COMMON_PROPERTIES)
    if not isinstance(common, dict) or set(common) != {"anyOf"}:
        return node
    branches = common["anyOf"]
    if not isinstance(branches, list) or len(branches) != 2:
        return node
    names, rest = _string_enum(branches[0]), branches[1]
    if names is None:
        return node
    target = {"$ref": f"#/definitions/{_COMMON_PROPERTIES}"}

    def merged(value: Any) -> Any:
        if isinstance(value, list):
            return [merged(v) for v in value]
        if not isinstance(value, dict):
            return value
        copied = {k: merged(v) for k, v in value.items()}
        anyof = copied.get("anyOf")
        if set(copied) == {"anyOf"} and isinstance(anyof, list) and target in anyof:
            others = [b for b in anyof if b != target]
            own = _string_enum(others[0]) if len(others) == 1 and len(anyof) == 2 else None
            if own is not None:  # anyOf does not depend on the order of its branches
                both = own + [n for n in names if n not in own]
                return {"anyOf": [{"type": "string", "enum": both}, rest]}
        return copied

    return merged(node)


def _event_list(document: Any) -> list[Any] | None:
    if not isinstance(document, dict):
        return None
    body = document.get("epcisBody")
    if not isinstance(body, dict):
        return None
    events = body.get("eventList")
    return events if isinstance(events, list) else None


@lru_cache(maxsize=8)
def _load(path: Path) -> EpcisSchema:
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read EPCIS JSON schema {path}: {exc}") from exc
    return EpcisSchema(schema, source=str(path))


def load_schema(path: str | Path = DEFAULT_SCHEMA_PATH) -> EpcisSchema:
    """The compiled schema at ``path``; compiled once per path and process."""
    return _load(Path(path).resolve())


def validate_document(document: Any, schema: EpcisSchema | None = None) -> None:
    """Validate ``document`` against ``schema`` (default: the vendored GS1 schema)."""
    (schema or load_schema()).validate(document)
