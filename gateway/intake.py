"""From a posted EPCISDocument to stored events: validate, normalise, hash, apply the rules.

A document is all-or-nothing (unless captured with ``GS1-Capture-Error-Behaviour: proceed``,
:meth:`Intake.capture_proceeding`): the first problem rejects it whole and nothing is stored. Order:
the GS1 JSON schema, JSON-LD @context (offline), CBV terms and identifiers in canonical form,
the canonical CBV 2.0 event hash of each event (the document's @context, then the event's own),
the JSON each event will be stored and served as (both contexts on it), re-hashed from those
bytes alone as a verifier will (rule ``event.rehash``), eventTime no later than the clock allows
(:mod:`medledger.custody.timebounds`), then the participant's rule set against the current custody
state, and finally one SQL transaction that stores the events (each with a fresh random salt)
and the custody changes. Only after that commit does the caller answer 202.

Custody checks never race (:meth:`Intake.custody_section`): on PostgreSQL each capture holds the
locks of the items and lots its document touches (:mod:`gateway.store.custody_locks`), so
captures about different packs run side by side, in one process or many; on SQLite (one writer)
one document at a time per process.

Error declarations (EPCIS 2.0 section 7.4.1.4): an event carrying an ``errorDeclaration`` is
stored without it (the event hash never covered it), and the declaration is stored beside it as
a fact of its own (:mod:`medledger.epcis.error_declaration`, gateway/store/declarations.py),
whether the event was stored before (then the event itself is a duplicate) or comes with it.
The declarer must be the event's submitter or the regulator (rule ``errorDeclaration.not-yours``);
a declaration of an event the gateway does not hold is refused (``errorDeclaration.unknown-event``)
when the declarer is the regulator or on the ``pharma`` rule set (custody is never changed by an
event known only as erroneous); on ``epcis``, the submitter's event and its declaration are stored
together. The same declaration again is a duplicate.

Master data in the document's header (``epcisHeader.epcisMasterData``) is stored with the capture
(gateway/masterdata_intake.py, docs/masterdata.md): all of it or, if any record is refused, the
document is refused whole (under ``proceed`` too).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from gateway import store
from gateway.masterdata_intake import header_entries
from gateway.store.capture import CaptureResult, bounded_error, new_salts
from gateway.store.custody_locks import CustodyLocks, retry_exclusive
from medledger.custody.lock_keys import document_keys
from medledger.custody.ruleset import RuleSet, check_events
from medledger.custody.timebounds import DEFAULT_TIME_BOUNDS, TimeBounds, require_not_ahead
from medledger.custody.violations import RuleViolation
from medledger.epcis.documents import EVENT_LISTS, event_list, relocate, with_events
from medledger.epcis.error_declaration import (
    ErrorDeclaration,
    declaration_digest,
    declaration_document,
    read_declaration,
)
from medledger.epcis.event_hash import (
    context_namespaces,
    event_hash,
    stored_context,
    stored_event_digest,
)
from medledger.epcis.normalise import NormalisedEvent, normalise_event, normalise_events
from medledger.epcis.schema import EpcisSchema
from medledger.errors import PermissionDeniedError, ValidationError
from medledger.roles import Role
from servicekit.sql.helpers import is_postgresql

log = logging.getLogger("gateway.intake")
T = TypeVar("T")

#: Every URL under which GS1 publishes the EPCIS 2.0 context (the same file; never fetched).
KNOWN_CONTEXTS = (
    "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
    "https://ref.gs1.org/standards/epcis/epcis-context.jsonld",
    "https://gs1.github.io/EPCIS/epcis-context.jsonld",
)
#: Rule of an event whose stored JSON does not re-hash to its event id.
REHASH_RULE = "event.rehash"
#: Rules of error declarations (docs/rules.md).
UNKNOWN_EVENT_RULE = "errorDeclaration.unknown-event"
NOT_YOURS_RULE = "errorDeclaration.not-yours"
#: Errors a ``proceed`` capture job keeps (each bounded); it counts the rest.
PROCEED_ERRORS_KEPT = 100
#: Captures one process runs at once on PostgreSQL (the others wait their turn in memory). Two
#: overlap one document's SQL with another's Python; more would add nothing on the one GIL but
#: advisory locks: a 1,000-pack document holds about 1,000 of them, and the server's lock table
#: (``max_locks_per_transaction`` x ``max_connections``, 6,400 by default) is shared by every
#: session, whose statements fail with "out of shared memory" while it is full.
CONCURRENT_CAPTURES = 2
#: Events the rule set may refuse in a ``proceed`` capture (each refusal runs the rule set over
#: the rest again); one more and the document is refused whole, as under ``rollback``.
PROCEED_RULE_REFUSALS = 100


@dataclass(frozen=True)
class Accepted:
    capture_id: str
    event_ids: tuple[str, ...]
    stored: int
    duplicates: int
    declaration_ids: tuple[str, ...] = ()
    declarations_stored: int = 0
    masterdata_ids: tuple[str, ...] = ()
    masterdata_stored: int = 0


def require_epcis_context(document: Mapping[str, Any]) -> None:
    """The document must name the EPCIS 2.0 context (resolved offline, never fetched)."""
    context = document.get("@context")
    entries = context if isinstance(context, list) else [context]
    if not any(isinstance(e, str) and e in KNOWN_CONTEXTS for e in entries):
        raise ValidationError(
            "@context must include the EPCIS 2.0 context "
            f"({KNOWN_CONTEXTS[0]}); other contexts are resolved offline only",
            rule="jsonld.context",
            pointer="/@context",
        )


def prepare(
    document: Any, schema: EpcisSchema
) -> tuple[list[dict[str, Any]], list[NormalisedEvent], list[str]]:
    """Validate and normalise ``document`` (an EPCISDocument or an EPCISQueryDocument); its
    events as stored (see :func:`stored_event`), their facts and their event ids."""
    if not isinstance(document, dict):
        raise ValidationError(
            "the body must be an EPCISDocument (or EPCISQueryDocument) JSON object",
            rule="document",
            pointer="",
        )
    schema.validate(document)
    require_epcis_context(document)
    listed = event_list(document)
    try:
        events: list[dict[str, Any]] = list(listed.events)
        normalised = normalise_events(events)
        context = document["@context"]
        namespaces = context_namespaces(context)
        event_ids = []
        for index, event in enumerate(events):
            try:
                event_ids.append(event_hash(event, namespaces=namespaces))
            except UnicodeEncodeError as exc:  # a lone surrogate ("\ud800") in a string
                raise ValidationError(
                    f"event {index}: a string holds {exc.object[exc.start : exc.end]!r}, which "
                    "UTF-8 cannot encode: it could be neither hashed nor stored",
                    rule=REHASH_RULE,
                    pointer=f"/epcisBody/eventList/{index}",
                ) from None
    except ValidationError as exc:
        raise relocate(exc, listed.pointer) from None
    return [stored_event(e, context) for e in events], normalised, event_ids


def stored_event(event: dict[str, Any], document_context: Any) -> dict[str, Any]:
    """``event`` as stored and served: with the document's @context and its own, so that anyone
    can recompute its hash from the event alone (receipts, the indexer, auditors)."""
    own = event.get("@context")
    if own is None:
        return {"@context": document_context, **event}
    return {**event, "@context": stored_context(document_context, own)}


def stored_json(event: Mapping[str, Any]) -> str:
    """The JSON text stored for an event (and parsed again to serve it and embed it): compact,
    keys in the order received, UTF-8 characters as they are.

    orjson writes it (several times faster than :mod:`json`), except where it would not write
    back what was read: an integer past 64 bits or a string UTF-8 cannot encode (it refuses)
    and NaN or an infinity (it writes ``null``; so any ``null`` sends the event to :mod:`json`,
    whose ``NaN`` the re-hash then refuses). The two differ only in how some numbers are spelt
    (orjson ``0.00001``, json ``1e-05``): the same values, so the same event hash."""
    try:
        out = orjson.dumps(event)
    except TypeError:
        return _EXACT.encode(event)
    if b"null" in out:
        return _EXACT.encode(event)
    return out.decode("utf-8")


_EXACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, check_circular=False)


@dataclass(frozen=True)
class Declared:
    """An error declaration a document carries: of the event at ``index``."""

    index: int
    declaration: ErrorDeclaration
    raw: str

    @property
    def pointer(self) -> str:
        return f"/epcisBody/eventList/{self.index}/errorDeclaration"


def split_declarations(
    events: list[dict[str, Any]], event_ids: list[str], first_index: int = 0
) -> tuple[list[dict[str, Any]], list[Declared]]:
    """The events as stored (without ``errorDeclaration``) and the declarations they carried,
    each read, canonicalised and checked to re-digest from the JSON it will be stored as."""
    stripped: list[dict[str, Any]] = []
    declared: list[Declared] = []
    for index, (event, event_id) in enumerate(zip(events, event_ids, strict=True)):
        if "errorDeclaration" not in event:
            stripped.append(event)
            continue
        stripped.append({k: v for k, v in event.items() if k != "errorDeclaration"})
        at = first_index + index
        pointer = f"/epcisBody/eventList/{at}/errorDeclaration"
        document = declaration_document(event_id, event["errorDeclaration"], event["@context"])
        declaration = read_declaration(document, pointer=pointer)
        raw = stored_json(document)
        try:
            again = declaration_digest(_STORED_JSON.decode(raw))
        except (ValueError, TypeError) as exc:
            raise ValidationError(
                f"event {at}: its error declaration cannot be stored as JSON ({exc})",
                rule=REHASH_RULE,
                pointer=pointer,
            ) from None
        if again != declaration.digest:
            raise ValidationError(
                f"event {at}: its error declaration would not re-digest from its stored JSON",
                rule=REHASH_RULE,
                pointer=pointer,
            )
        declared.append(Declared(at, declaration, raw))
    return stripped, declared


def declaration_records(
    session: Session,
    participant: store.ParticipantRecord,
    declared: list[Declared],
) -> list[store.DeclarationRecord]:
    """The declarations to store, once the declarer may declare each (under the custody lock:
    the events they name are looked up in the same transaction that stores them)."""
    if not declared:
        return []
    submitters = store.event_submitters(session, [d.declaration.event_id for d in declared])
    regulator = bool(participant.roles & Role.REGULATOR)
    records = []
    for d in declared:
        event_id = d.declaration.event_id
        submitter = submitters.get(event_id)
        if submitter is None:
            if regulator or participant.rule_set == RuleSet.PHARMA.value:
                raise ValidationError(
                    f"event {d.index} declares erroneous the event {event_id}, which the gateway "
                    "has never captured: capture the event first (or send its corrective events)",
                    rule=UNKNOWN_EVENT_RULE,
                    pointer=d.pointer,
                )
        elif submitter != participant.address and not regulator:
            raise ValidationError(
                f"event {d.index} declares erroneous the event {event_id}, captured by "
                f"{submitter}: only its submitter or the regulator may",
                rule=NOT_YOURS_RULE,
                pointer=d.pointer,
            )
        records.append(
            store.DeclarationRecord(
                declaration_hash=d.declaration.digest,
                event_id=event_id,
                declaration_time=d.declaration.declaration_time,
                reason=d.declaration.reason,
                corrective_ids=d.declaration.corrective_event_ids,
                raw=d.raw,
            )
        )
    return records


def event_records(
    events: list[dict[str, Any]], normalised: list[NormalisedEvent], event_ids: list[str]
) -> list[store.EventRecord]:
    """The records to store, each checked to re-hash to its event id from its stored JSON.

    The check parses the very text that will be stored (as UTF-8, as the database keeps it) and
    hashes it with :func:`~medledger.epcis.event_hash.stored_event_digest`, the function
    ``provenance verify`` and the indexer use: an event accepted here cannot fail them, whatever
    went wrong between the posted JSON and the stored one. Refused: :class:`ValidationError`
    with rule ``event.rehash`` and the event's pointer.
    """
    salts = new_salts(len(events))  # each event's own, all read at once
    records = [
        store.EventRecord(
            event_id=event_id,
            raw=stored_json(event),
            event_time=facts.event_time,
            type=facts.type,
            biz_step=facts.biz_step,
            salt=salt,
        )
        for event, facts, event_id, salt in zip(events, normalised, event_ids, salts, strict=True)
    ]
    # all written first, then all re-hashed: each loop keeps its own code hot (a fifth faster
    # than writing and re-hashing event by event)
    for index, record in enumerate(records):
        _require_rehash(index, record.raw, record.event_hash)
    return records


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON (RFC 8259): the event could not be served")


# NaN and the infinities: json writes them, but no standard JSON reader (the served answer, the
# indexer's) takes them back. One decoder, made once (json.loads with an option makes one a call).
_STORED_JSON = json.JSONDecoder(parse_constant=_not_json)


def _require_rehash(index: int, raw: str, expected: bytes) -> None:
    try:
        raw.encode("utf-8")  # what the database will keep (a lone surrogate cannot be)
        digest = stored_event_digest(_STORED_JSON.decode(raw))
        problem = (
            None
            if digest == expected
            else f"re-hashes to 0x{digest.hex()}, not to its event id 0x{expected.hex()}"
        )
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # ValidationError included
        problem = f"cannot be re-hashed ({type(exc).__name__}: {str(exc)[:200]})"
    if problem is not None:
        raise ValidationError(
            f"event {index}: the JSON it would be stored as {problem}: refused, as no verifier "
            "could prove it",
            rule=REHASH_RULE,
            pointer=f"/epcisBody/eventList/{index}",
        )


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Intake:
    """Checks and stores documents; custody checks never race (:meth:`custody_section`).

    ``bounds``: how far an eventTime may be ahead of ``clock`` (every rule set) and behind its
    items' current state (``pharma``); see :mod:`medledger.custody.timebounds`."""

    def __init__(
        self,
        schema: EpcisSchema,
        *,
        bounds: TimeBounds = DEFAULT_TIME_BOUNDS,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._schema = schema
        self._bounds = bounds
        self._clock = clock
        self._lock = threading.Lock()
        self._turns = threading.BoundedSemaphore(CONCURRENT_CAPTURES)

    @property
    def lock(self) -> threading.Lock:
        """Held while a document's custody is checked and stored on SQLite: whatever else
        changes custody in this process (code issuance) takes it too (on PostgreSQL that also
        takes :func:`~gateway.store.custody_view.custody_lock`, which waits for captures)."""
        return self._lock

    def custody_section(
        self,
        session: Session,
        events: list[NormalisedEvent],
        run: Callable[[store.SqlCustodyView], T],
    ) -> T:
        """``run`` (read the custody view, check, record and commit) with the custody state it
        reads held still until its commit.

        PostgreSQL: the global custody key shared, the keys ``events`` name (sorted), and each
        key the view discovers as it reads (:mod:`gateway.store.custody_locks`); documents about
        different items run side by side. If PostgreSQL aborts it (a deadlock between two
        captures' discovered keys, or a full lock table), ``run`` is tried once more under the
        exclusive global key, alone. At most :data:`CONCURRENT_CAPTURES` at once in this process.
        SQLite: one document at a time in this process. Whatever ``run`` wrote before it failed
        (the undo of a declaration, before a rule refused the document) is rolled back."""
        try:
            if not is_postgresql(session):
                with self._lock:
                    return run(store.SqlCustodyView(session))
            with self._turns:
                return self._locked_section(session, events, run)
        except BaseException:
            session.rollback()
            raise

    def _locked_section(
        self,
        session: Session,
        events: list[NormalisedEvent],
        run: Callable[[store.SqlCustodyView], T],
    ) -> T:
        locks = CustodyLocks(session)
        try:
            locks.begin(document_keys(events))
            return run(store.SqlCustodyView(session, locks))
        except DBAPIError as exc:
            if not retry_exclusive(exc):
                raise
            session.rollback()
            log.info(
                "capture tried again under the global custody lock (%s, %d keys held)",
                getattr(exc.orig, "sqlstate", "?"),
                locks.held,
            )
        store.custody_lock(session)
        return run(store.SqlCustodyView(session))

    def _undo(
        self,
        session: Session,
        view: store.SqlCustodyView,
        declarations: list[store.DeclarationRecord],
    ) -> None:
        """Undo what the declared events did to custody (gateway/store/undo.py), before the
        document's own events, its correctives among them, are checked."""
        if declarations:
            store.undo_declared(
                session, view, [d.event_id for d in declarations], bounds=self._bounds
            )

    def capture(
        self, session: Session, participant: store.ParticipantRecord, document: Any
    ) -> Accepted:
        if not participant.active:
            raise PermissionDeniedError(f"participant {participant.address} is suspended")
        events, normalised, event_ids = prepare(document, self._schema)
        masterdata = header_entries(participant, document, self._clock(), session)
        try:  # the checks name /epcisBody/eventList/<i>; a query document's events are elsewhere
            events, declared = split_declarations(events, event_ids)
            require_not_ahead(normalised, self._clock(), self._bounds.ahead)
            rule_set = RuleSet(participant.rule_set)
            records = event_records(events, normalised, event_ids)

            def check_and_record(view: store.SqlCustodyView) -> CaptureResult:
                declarations = declaration_records(session, participant, declared)
                self._undo(session, view, declarations)
                known = store.known_event_ids(session, event_ids)
                fresh, fresh_ids = [], []
                for facts, eid in zip(normalised, event_ids, strict=True):
                    if eid not in known:
                        fresh.append(facts)
                        fresh_ids.append(eid)
                if rule_set is RuleSet.PHARMA:
                    view.prefetch(identifiers_of(fresh))
                    view.prefetch_quantities(classes_of(fresh))
                changes = check_events(
                    rule_set, fresh, participant.to_custody(), view, bounds=self._bounds
                )
                return store.record_capture(
                    session,
                    participant.address,
                    records,
                    changes,
                    known=known,
                    declarations=declarations,
                    custody_items=_custody_items(rule_set, fresh, fresh_ids),
                    masterdata=masterdata,
                )

            keyed = normalised if rule_set is RuleSet.PHARMA else []
            result = self.custody_section(session, keyed, check_and_record)
        except ValidationError as exc:
            raise relocate(exc, EVENT_LISTS[document["type"]]) from None
        return _accepted(result)

    def capture_proceeding(
        self, session: Session, participant: store.ParticipantRecord, document: Any
    ) -> Accepted:
        """``GS1-Capture-Error-Behaviour: proceed``: the events that pass every check are
        stored, each refused one is listed in the capture job (rule, pointer, detail).

        The document itself (not JSON, no EPCIS context, not a capturable type, an envelope
        the schema refuses) is still refused whole, as is a document none of whose events
        pass (with its first error). Events are checked as under ``rollback``, one by one; the
        rule set then runs over the survivors in document order, and an event it refuses is
        dropped and the rest checked again, so each kept event was checked against the
        custody the kept events before it leave; past :data:`PROCEED_RULE_REFUSALS` refusals
        by the rule set the document is refused whole."""
        if not participant.active:
            raise PermissionDeniedError(f"participant {participant.address} is suspended")
        if not isinstance(document, dict):
            raise ValidationError(
                "the body must be an EPCISDocument (or EPCISQueryDocument) JSON object",
                rule="document",
                pointer="",
            )
        listed = event_list(document)
        self._schema.validate(with_events(document, []))
        require_epcis_context(document)
        masterdata = header_entries(participant, document, self._clock(), session)
        context = document["@context"]
        namespaces = context_namespaces(context)
        errors: list[ValidationError] = []
        kept: list[tuple[store.EventRecord, NormalisedEvent]] = []
        declared: dict[int, Declared] = {}
        now = self._clock()
        for index, event in enumerate(listed.events):
            try:
                self._schema.validate_event(event, index)
                facts = normalise_event(event, index)
                event_id = event_hash(event, namespaces=namespaces)
                require_not_ahead([facts], now, self._bounds.ahead)
                stored, found = split_declarations(
                    [stored_event(event, context)], [event_id], index
                )
                (record,) = event_records(stored, [facts], [event_id])
                if found:
                    declared[index] = found[0]
            except ValidationError as exc:
                errors.append(_at(exc, index))
                continue
            except UnicodeEncodeError:
                errors.append(
                    ValidationError(
                        f"event {index}: a string UTF-8 cannot encode: it could be neither "
                        "hashed nor stored",
                        rule=REHASH_RULE,
                        pointer=f"/epcisBody/eventList/{index}",
                    )
                )
                continue
            kept.append((record, facts))
        rule_set = RuleSet(participant.rule_set)
        checked, first_errors = kept, errors

        def check_and_record(view: store.SqlCustodyView) -> CaptureResult:
            kept, errors = list(checked), list(first_errors)  # afresh if tried again
            declarations: list[store.DeclarationRecord] = []
            for record, facts in list(kept):
                if facts.index not in declared:
                    continue
                try:
                    declarations += declaration_records(
                        session, participant, [declared[facts.index]]
                    )
                except ValidationError as exc:
                    errors.append(_at(exc, facts.index))
                    kept.remove((record, facts))
            self._undo(session, view, declarations)
            known = store.known_event_ids(session, [r.event_id for r, _ in kept])
            refusals = 0
            while True:
                fresh = [f for r, f in kept if r.event_id not in known]
                if rule_set is RuleSet.PHARMA:
                    view.prefetch(identifiers_of(fresh))
                    view.prefetch_quantities(classes_of(fresh))
                try:
                    changes = check_events(
                        rule_set, fresh, participant.to_custody(), view, bounds=self._bounds
                    )
                    break
                except RuleViolation as violation:
                    if violation.event_index is None:
                        raise relocate(violation, listed.pointer) from None
                    left = [(r, f) for r, f in kept if f.index != violation.event_index]
                    if len(left) == len(kept):  # names no event it was given: cannot drop one
                        raise relocate(violation, listed.pointer) from None
                    refusals += 1
                    if refusals > PROCEED_RULE_REFUSALS:
                        raise relocate(violation, listed.pointer) from None
                    errors.append(violation)
                    kept = left
            errors.sort(key=lambda e: _index_of(e))
            for error in errors:
                relocate(error, listed.pointer)
            if not kept and errors:
                raise errors[0]
            fresh_kept = [(r.event_id, f) for r, f in kept if r.event_id not in known]
            return store.record_capture(
                session,
                participant.address,
                [r for r, _ in kept],
                changes,
                known=known,
                error=proceed_errors(errors),
                declarations=[
                    d for d in declarations if d.event_id in {r.event_id for r, _ in kept}
                ],
                custody_items=_custody_items(
                    rule_set, [f for _, f in fresh_kept], [e for e, _ in fresh_kept]
                ),
                masterdata=masterdata,
            )

        keyed = [f for _, f in kept] if rule_set is RuleSet.PHARMA else []
        result = self.custody_section(session, keyed, check_and_record)
        return _accepted(result)


def _custody_items(
    rule_set: RuleSet, fresh: list[NormalisedEvent], event_ids: list[str]
) -> dict[str, dict[str, bool]]:
    """What each new event the ``pharma`` rules applied names (``event_items``); nothing under
    ``epcis``, which changes no custody."""
    return store.touches(fresh, event_ids) if rule_set is RuleSet.PHARMA else {}


def _accepted(result: store.CaptureResult) -> Accepted:
    return Accepted(
        capture_id=str(result.capture_id),
        event_ids=result.event_ids,
        stored=result.stored,
        duplicates=result.duplicates,
        declaration_ids=result.declaration_ids,
        declarations_stored=result.declarations_stored,
        masterdata_ids=result.masterdata_ids,
        masterdata_stored=result.masterdata_stored,
    )


def proceed_errors(errors: list[ValidationError]) -> dict[str, Any]:
    """What a ``proceed`` capture keeps of its refused events (a bounded JSON record)."""
    return {
        "captureErrorBehaviour": "proceed",
        "errors": [
            bounded_error({"rule": e.rule, "pointer": e.pointer, "detail": str(e)})
            for e in errors[:PROCEED_ERRORS_KEPT]
        ],
        "more": max(0, len(errors) - PROCEED_ERRORS_KEPT),
    }


def _at(error: ValidationError, index: int) -> ValidationError:
    if not hasattr(error, "event_index") or getattr(error, "event_index", None) is None:
        error.event_index = index  # type: ignore[attr-defined]
    return error


def _index_of(error: ValidationError) -> int:
    index = getattr(error, "event_index", None)
    return index if isinstance(index, int) else -1


def identifiers_of(events: list[NormalisedEvent]) -> set[str]:
    """Every instance identifier a document touches, so the view loads them in bulk."""
    found: set[str] = set()
    for e in events:
        found.update(e.epcs, e.child_epcs, e.input_epcs, e.output_epcs)
        if e.parent_id:
            found.add(e.parent_id)
        found.update(q.class_id for q in e.quantities)
    return found


def classes_of(events: list[NormalisedEvent]) -> set[str]:
    return {
        q.class_id
        for e in events
        for q in (*e.quantities, *e.input_quantities, *e.output_quantities)
    }
