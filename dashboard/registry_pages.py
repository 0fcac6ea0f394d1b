"""The registry and the batch explorer: ``/dashboard/participants`` (name, GLN, roles, region,
status, registration block, anchored batches) and ``/dashboard/anchors`` (every anchored batch:
block, time, root, transaction, submitter, events, status), linked both ways: a participant's
batches, a batch's submitter. Pages of 50 with a link to the next."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select

from dashboard.i18n import messages
from dashboard.render import render
from dashboard.signin import HEADERS, SignedInDep, language_of
from dashboard.trace_page import participant_label
from indexer.api.deps import ServiceDep
from indexer.queries.anchors import STATUSES, list_anchors
from indexer.queries.common import participants
from indexer.queries.participants import list_participants
from indexer.reader_keys import FULL_READERS
from indexer.store.models import AnchorRow
from medledger.errors import ValidationError

PARTICIPANTS: Final = "/dashboard/participants"
ANCHORS: Final = "/dashboard/anchors"
PAGE_SIZE: Final = 50

router = APIRouter(include_in_schema=False)
Cursor = Annotated[str | None, Query(max_length=200)]


def _refused(request: Request, signed: Any, language: str, template: str) -> HTMLResponse:
    page = render(
        request, template, language, signed=signed, problem=messages(language)["page.not_for_role"]
    )
    return HTMLResponse(page, status_code=403, headers=HEADERS)


@router.get(PARTICIPANTS, response_class=HTMLResponse)
def participants_page(
    request: Request, service: ServiceDep, signed: SignedInDep, cursor: Cursor = None
) -> HTMLResponse:
    language = language_of(request)
    if signed.role not in FULL_READERS:
        return _refused(request, signed, language, "participants.html")
    with service.sessions() as session:
        try:
            page = list_participants(session, limit=PAGE_SIZE, cursor=cursor)
        except ValidationError:
            page = list_participants(session, limit=PAGE_SIZE)
        addresses = [item["address"] for item in page.items]
        batches = dict(
            session.execute(
                select(AnchorRow.submitter, func.count())
                .where(AnchorRow.submitter.in_(addresses))
                .group_by(AnchorRow.submitter)
            ).all()
        )
    body = render(
        request,
        "participants.html",
        language,
        signed=signed,
        problem=None,
        rows=page.items,
        batches=batches,
        next_url=f"{PARTICIPANTS}?{urlencode({'cursor': page.next, 'lang': language})}"
        if page.next
        else None,
        anchors_url=ANCHORS,
    )
    return HTMLResponse(body, headers=HEADERS)


@router.get(ANCHORS, response_class=HTMLResponse)
def anchors_page(
    request: Request,
    service: ServiceDep,
    signed: SignedInDep,
    submitter: Annotated[str | None, Query(max_length=42)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
    cursor: Cursor = None,
) -> HTMLResponse:
    language = language_of(request)
    if signed.role not in FULL_READERS:
        return _refused(request, signed, language, "anchors.html")
    status = status if status in STATUSES else None
    with service.sessions() as session:
        try:
            page = list_anchors(
                session, submitter=submitter, status=status, limit=PAGE_SIZE, cursor=cursor
            )
        except ValidationError:
            page = list_anchors(session, submitter=submitter, status=status, limit=PAGE_SIZE)
        known = participants(session, [item["submitter"] for item in page.items] + [submitter])
    query = "".join(
        f"&{name}={value}"
        for name, value in (("submitter", submitter), ("status", status))
        if value
    )
    body = render(
        request,
        "anchors.html",
        language,
        signed=signed,
        problem=None,
        rows=page.items,
        submitter=submitter,
        submitter_label=participant_label(known, submitter),
        who=lambda address: participant_label(known, address),
        when=lambda timestamp: datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M"),
        next_url=f"{ANCHORS}?{urlencode({'cursor': page.next})}{query}&lang={language}"
        if page.next
        else None,
        participants_url=PARTICIPANTS,
    )
    return HTMLResponse(body, headers=HEADERS)
