"""The triage for programs: ``POST /alerts/{key}/{ack|assign|resolve|reopen}`` on the indexer's
API with a reader key (``Authorization: Bearer ik_...``), the same actions, rules and log as the
alert page's forms (:mod:`dashboard.triage`). Refusals are problem+json and change nothing: 401
without a live key, 403 for an auditor, 404 for an alert that is not there (or not in an
inspector's region), 409 for an action the alert's state does not allow, 422 for an assignment
without a name or a resolution without a note."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from dashboard import triage
from dashboard.triage import Action
from indexer.api.deps import ScopedReaderDep, ServiceDep
from servicekit.http.bodies import StrictJSONRoute
from servicekit.sql.helpers import utcnow

router = APIRouter(prefix="/alerts", tags=["alerts"], route_class=StrictJSONRoute)


class TriageActionCreate(BaseModel):
    """What an action says: the name to assign to, a note (required to resolve)."""

    model_config = ConfigDict(extra="forbid")

    assignee: str | None = Field(default=None, max_length=triage.MAX_ASSIGNEE)
    note: str | None = Field(default=None, max_length=triage.MAX_NOTE)


class TriagePublic(BaseModel):
    """Where an alert's triage stands after the action."""

    model_config = ConfigDict(populate_by_name=True)

    alert_key: str = Field(alias="alertKey")
    state: str
    assignee: str | None
    note: str | None
    updated_at: datetime | None = Field(alias="updatedAt")
    updated_by: str | None = Field(alias="updatedBy")


@router.post(
    "/{key}/{action}",
    response_model=TriagePublic,
    response_model_by_alias=True,
    summary="Acknowledge, assign, resolve or reopen an alert (regulator; inspector in region)",
    responses={
        403: {"description": "An auditor's key: it reads alerts only"},
        404: {"description": "No such alert (or not in the inspector's region)"},
        409: {"description": "The alert's triage state does not allow the action"},
        422: {"description": "No name to assign to, or no note to resolve with"},
    },
)
def act(
    service: ServiceDep,
    reader: ScopedReaderDep,
    key: str,
    action: Action,
    body: TriageActionCreate | None = None,
) -> TriagePublic:
    given = body or TriageActionCreate()
    with service.write_sessions() as session, session.begin():
        done = triage.act(
            session,
            key[:64],
            action,
            actor=reader.name,
            key_id=reader.id,
            role=reader.role,
            region=reader.region,
            now=utcnow(),
            assignee=given.assignee,
            note=given.note,
        )
    return TriagePublic(
        alertKey=done.alert_key,
        state=done.state,
        assignee=done.assignee,
        note=done.note,
        updatedAt=done.updated_at,
        updatedBy=done.updated_by,
    )
