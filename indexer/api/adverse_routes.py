"""``POST /adverse-reactions``: a pharmacy or a hospital reports an adverse reaction to a pack
with its participant reader key (the public sends the same from ``/report``); stored off chain
and linked to the pack's lot (:mod:`indexer.adverse_reports`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import Field
from sqlalchemy import select

from indexer import adverse_reports
from indexer.api.deps import PARTICIPANT, ServiceDep, SessionDep, authenticate_reader, bearer_scheme
from indexer.api.schemas import Model
from indexer.queries.check import MAX_CODE_LENGTH
from indexer.reader_keys import ReaderKey
from indexer.store.models import ParticipantRow
from medledger.errors import AuthenticationError, PermissionDeniedError
from medledger.roles import Role
from servicekit.http.bodies import StrictJSONRoute
from servicekit.sql.helpers import utcnow

adverse = APIRouter(tags=["pharmacovigilance"], route_class=StrictJSONRoute)
#: The participants whose keys may report: those who hand medicines to patients.
REPORTING_ROLES = Role.PHARMACY | Role.HOSPITAL


class AdverseReportCreate(Model):
    """``POST /adverse-reactions``."""

    code: str = Field(
        min_length=1,
        max_length=MAX_CODE_LENGTH,
        description="the pack's code, as for the pack check",
        examples=["(01)04700123123452(21)S00000001(17)290131(10)LOT-2026-001"],
    )
    description: str = Field(
        min_length=1,
        max_length=adverse_reports.MAX_DESCRIPTION,
        description="what happened: the reaction, when, after how many doses (no names)",
    )
    contact: str = Field(
        default="",
        max_length=adverse_reports.MAX_CONTACT,
        description="optional: how the pharmacovigilance officers may reach the reporter",
    )


class AdverseReportFiled(Model):
    reference: str = Field(description="the report's reference number (`AR-...`)")
    gtin: str
    lot: str | None = Field(
        description="the lot it was linked to; null: neither code nor index says"
    )


def get_reporter(
    request: Request,
    service: ServiceDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> ReaderKey:
    """A participant key whose participant is a pharmacy or a hospital, active."""
    if credentials is None:
        raise AuthenticationError("send a participant reader key as `Authorization: Bearer ik_...`")
    key = authenticate_reader(request, service, session, credentials.credentials, (PARTICIPANT,))
    row = session.scalar(select(ParticipantRow).where(ParticipantRow.address == key.participant))
    if row is None or not row.active or not Role(row.roles) & REPORTING_ROLES:
        raise PermissionDeniedError(
            "only a pharmacy's or a hospital's participant key reports adverse reactions "
            "(the public uses /report)"
        )
    return key


@adverse.post("/adverse-reactions", status_code=201, response_model=AdverseReportFiled)
def report_adverse_reaction(
    body: AdverseReportCreate,
    service: ServiceDep,
    reporter: Annotated[ReaderKey, Depends(get_reporter)],
) -> AdverseReportFiled:
    """Stores the report, linked to the pack's lot (the code's AI 10, else the pack's lot in the
    index); counted on the lot's dashboard page, read by pharmacovigilance keys only. The report
    that brings its lot to `PROVENANCE_INDEXER_ADVERSE_REACTION_THRESHOLD` reports raises an
    `adverse-reactions` alert. 422: a code that is not a pack's."""
    with service.write_sessions() as session, session.begin():
        filed = adverse_reports.file_report(
            session,
            code=body.code,
            description=body.description,
            contact=body.contact,
            now=utcnow(),
            threshold=service.settings.adverse_reaction_threshold,
            reporter=reporter.participant,
        )
    return AdverseReportFiled(reference=filed.reference, gtin=filed.gtin, lot=filed.lot)
