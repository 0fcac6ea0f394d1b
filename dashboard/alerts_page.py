"""``/dashboard/alerts``: the alerts, filtered by kind, severity, region, participant, time and
triage state, counted by kind and by day (bars), in pages of 50; ``/dashboard/alerts/{key}``:
one alert with its evidence (each event with its trace, its anchor and its pack), its triage and
the log of every triage action, and the forms to act: acknowledge, assign, resolve with a note,
reopen (``POST /dashboard/alerts/{key}/{action}``, CSRF-checked).

Regulators and auditors read every alert, an inspector its region's (:mod:`dashboard.triage`
says who may act: a regulator, an inspector in its region, never an auditor: 403)."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard import triage
from dashboard.alert_filters import AlertFilter, alert_page, counts_by_day, counts_by_kind, when
from dashboard.i18n import messages
from dashboard.render import render
from dashboard.signin import HEADERS, SignedInDep, check_csrf, form_fields, language_of, same_origin
from dashboard.trace_page import participant_label
from indexer.alert_kinds import ALERT_KINDS, SEVERITIES
from indexer.api.deps import ServiceDep
from indexer.queries.alerts import alert_json, named_addresses
from indexer.queries.common import participants
from indexer.queries.scope import EVERYTHING, Scope
from indexer.reader_keys import FULL_READERS
from indexer.store.models import (
    TRIAGE_STATES,
    AlertRow,
    BlockRow,
    ParticipantProfileRow,
    ParticipantRow,
)
from medledger.errors import (
    NotFoundError,
    PermissionDeniedError,
    TriageTransitionError,
    ValidationError,
)
from servicekit.sql.helpers import utcnow

PATH: Final = "/dashboard/alerts"
_ADDRESS: Final = re.compile(r"0x[0-9a-fA-F]{40}(?![0-9a-fA-F])")
PAGE_SIZE: Final = 50
#: a note of triage.MAX_NOTE characters, URL-encoded (up to 9 bytes a character), and the rest
MAX_ACTION_BYTES: Final = triage.MAX_NOTE * 9 + 2048

router = APIRouter(include_in_schema=False)
Text = Annotated[str | None, Query(max_length=200)]


def _scope(signed: Any) -> Scope:
    return EVERYTHING if signed.role in FULL_READERS else Scope(signed.region)


def readable(message: str, known: dict[str, Any]) -> str:
    """An alert's message with each participant's address replaced by its name (else GLN and
    roles): a person reads names, never bare addresses."""
    by_lower = {address.lower(): address for address in known}
    return _ADDRESS.sub(
        lambda m: participant_label(known, by_lower.get(m.group(0).lower(), m.group(0))),
        message,
    )


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@router.get(PATH, response_class=HTMLResponse)
def alerts_page(
    request: Request,
    service: ServiceDep,
    signed: SignedInDep,
    kind: Text = None,
    severity: Text = None,
    region: Text = None,
    participant: Text = None,
    since: Text = None,
    until: Text = None,
    state: Text = None,
    cursor: Text = None,
) -> HTMLResponse:
    language = language_of(request)
    wanted = AlertFilter(
        kind=kind if kind in ALERT_KINDS else None,
        severity=severity if severity in SEVERITIES else None,
        region=region.strip().upper() or None if region else None,
        participant=participant or None,
        since=_day(since),
        until=_day(until),
        state=state if state in TRIAGE_STATES else None,
    )
    scope = _scope(signed)
    with service.sessions() as session:
        try:
            page = alert_page(session, wanted, scope, limit=PAGE_SIZE, cursor=cursor)
        except ValidationError:  # a cursor it did not give: from the first page
            page = alert_page(session, wanted, scope, limit=PAGE_SIZE)
        keys = [item["alert"].key for item in page.items]
        known = participants(
            session, (a for item in page.items for a in named_addresses(alert_json(item["alert"])))
        )
        states = triage.triage_of(session, keys)
        by_kind = counts_by_kind(session, wanted, scope)
        by_day = counts_by_day(session, wanted, scope)
        choices = _participant_choices(session)
        regions = list(
            session.scalars(
                select(ParticipantProfileRow.region)
                .where(ParticipantProfileRow.region.is_not(None))
                .distinct()
                .order_by(ParticipantProfileRow.region)
            )
        )
    query = {
        name: value
        for name, value in (
            ("kind", wanted.kind),
            ("severity", wanted.severity),
            ("region", wanted.region),
            ("participant", wanted.participant),
            ("since", wanted.since and wanted.since.isoformat()),
            ("until", wanted.until and wanted.until.isoformat()),
            ("state", wanted.state),
        )
        if value
    }
    body = render(
        request,
        "alerts.html",
        language,
        signed=signed,
        wanted=wanted,
        rows=page.items,
        message=lambda alert: readable(alert.message, known),
        states=states,
        by_kind=by_kind,
        by_day=by_day,
        kinds=ALERT_KINDS,
        severities=SEVERITIES,
        triage_states=TRIAGE_STATES,
        regions=regions,
        choices=choices,
        path=PATH,
        next_url=f"{PATH}?{urlencode({**query, 'cursor': page.next, 'lang': language})}"
        if page.next
        else None,
    )
    return HTMLResponse(body, headers=HEADERS)


def _participant_choices(session: Session) -> list[tuple[str, str]]:
    addresses = list(session.scalars(select(ParticipantRow.address)))
    known = participants(session, addresses)
    return sorted(
        ((address, participant_label(known, address)) for address in addresses),
        key=lambda choice: choice[1],
    )


@router.get(PATH + "/{key}", response_class=HTMLResponse)
def alert_page_one(
    request: Request, service: ServiceDep, signed: SignedInDep, key: str
) -> HTMLResponse:
    return _alert(request, service, signed, key)


def _alert(
    request: Request,
    service: ServiceDep,
    signed: Any,
    key: str,
    *,
    problem: str | None = None,
    status: int = 200,
    given: dict[str, str] | None = None,
) -> HTMLResponse:
    language = language_of(request)
    t = messages(language)
    with service.sessions() as session:
        alert = session.get(AlertRow, key[:64])
        if alert is None or not triage.in_scope(session, alert, _scope(signed)):
            body = render(
                request,
                "alert.html",
                language,
                signed=signed,
                alert=None,
                problem=t["alert.none"],
                path=PATH,
            )
            return HTMLResponse(body, status_code=404, headers=HEADERS)
        events = alert.evidence.get("events") or []
        named = named_addresses(alert_json(alert))
        known = participants(
            session, [*named, *(e.get("submitter") for e in events if isinstance(e, dict))]
        )
        block = session.get(BlockRow, alert.block_number)
        body = render(
            request,
            "alert.html",
            language,
            signed=signed,
            alert=alert,
            message=readable(alert.message, known),
            time=when(block.timestamp if block is not None else None),
            events=[e for e in events if isinstance(e, dict)],
            parties=[
                (field, participant_label(known, alert.evidence.get(field)))
                for field in ("submitter", "holder", "actor")
                if alert.evidence.get(field)
            ],
            who=lambda address: participant_label(known, address),
            triage=triage.triage_of(session, [alert.key])[alert.key],
            log=triage.log_of(session, alert.key),
            may_act=triage.may_act(session, alert, signed.role, signed.region),
            actions=triage.ACTIONS,
            problem=problem,
            given=given or {},
            path=PATH,
        )
    return HTMLResponse(body, status_code=status, headers=HEADERS)


@router.post(PATH + "/{key}/{action}")
async def act(
    request: Request, service: ServiceDep, signed: SignedInDep, key: str, action: str
) -> Response:
    same_origin(request)
    fields = await form_fields(request, MAX_ACTION_BYTES)
    check_csrf(signed, fields)
    t = messages(language_of(request))
    given = {name: fields.get(name, "") for name in ("assignee", "note")}
    try:
        with service.write_sessions() as session, session.begin():
            triage.act(
                session,
                key[:64],
                action,
                actor=signed.name,
                key_id=signed.key_id,
                role=signed.role,
                region=signed.region,
                now=utcnow(),
                assignee=given["assignee"] if action == "assign" else None,
                note=given["note"] or None,
            )
    except NotFoundError:
        return _alert(request, service, signed, key)  # the 404 page
    except PermissionDeniedError:
        return _alert(request, service, signed, key, problem=t["alert.may_not_act"], status=403)
    except TriageTransitionError as exc:
        return _alert(request, service, signed, key, problem=str(exc), status=409, given=given)
    except ValidationError as exc:
        return _alert(request, service, signed, key, problem=str(exc), status=422, given=given)
    lang = request.query_params.get("lang")
    suffix = f"?{urlencode({'lang': lang})}" if lang else ""
    return RedirectResponse(f"{PATH}/{key[:64]}{suffix}", status_code=303)
