"""Participants: registration, the list, suspension and reinstatement, company prefixes (the
regulator), and each participant's own webhook (``/participants/me/webhook``)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response, status

from gateway.api.deps import (
    ActiveParticipantDep,
    BatchReaderDep,
    ParticipantDep,
    ParticipantsDep,
    RecallsDep,
    RegulatorDep,
)
from gateway.api.schemas import (
    CompanyPrefixesSet,
    ParticipantPublic,
    ParticipantRegistered,
    ParticipantRegistration,
    RegionSet,
    WebhookPublic,
    WebhookSet,
)
from gateway.store.participants import ParticipantRecord
from medledger.errors import ValidationError
from medledger.roles import Role
from servicekit.http.bodies import StrictJSONRoute
from servicekit.sql.helpers import utcnow

participants = APIRouter(prefix="/participants", tags=["participants"], route_class=StrictJSONRoute)


def _public(record: ParticipantRecord) -> dict[str, Any]:
    return {
        "address": record.address,
        "name": record.name,
        "roles": Role(record.roles).names(),
        "gln": record.gln,
        "status": record.status,
        "ruleSet": record.rule_set,
        "companyPrefixes": list(record.company_prefixes),
        "region": record.region,
        "updatedAt": record.updated_at,
    }


#: What an ``Idempotency-Key`` may be: 1 to 255 visible ASCII characters (a UUID, say).
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")


async def arrival() -> datetime:
    """When the request reached the gateway: taken on the event loop as the request is
    dispatched, before anything waits in the thread pool, so a first attempt sent before a
    retry arrived before it (an Idempotency-Key's attempts are ordered by it)."""
    return utcnow()


@participants.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ParticipantRegistered,
    responses={
        409: {"description": "The Idempotency-Key was sent before with another registration"},
    },
)
def register_participant(
    arrived: Annotated[datetime, Depends(arrival)],
    body: ParticipantRegistration,
    registry: ParticipantsDep,
    regulator: RegulatorDep,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Makes a retry safe: the same key with the same body (within 7 days) "
            "answers the same participant with a fresh API key and revokes the key the earlier "
            "answer carried; with another body, 409",
        ),
    ] = None,
) -> ParticipantRegistered:
    """Register a participant on-chain and give it a custodial key and an API key (regulator).

    With `webhookUrl`, its recall notifications are also POSTed there, signed with
    `webhookSecret` (see docs/recalls.md). A registration answered again (same
    `Idempotency-Key`) says `Idempotent-Replayed: true`."""
    if idempotency_key is not None and not IDEMPOTENCY_KEY.fullmatch(idempotency_key):
        raise ValidationError(
            "Idempotency-Key must be 1 to 255 visible ASCII characters (a UUID, say)",
            rule="request.idempotency-key",
        )
    try:
        roles = Role.parse(",".join(body.roles))
    except ValueError as exc:
        raise ValidationError(str(exc), rule="participant.roles", pointer="/roles") from exc
    created = registry.register(
        name=body.name,
        roles=roles,
        gln=body.gln,
        rule_set=body.ruleSet,
        webhook_url=body.webhookUrl,
        company_prefixes=body.companyPrefixes,
        region=body.region,
        idempotency_key=idempotency_key,
        requester=regulator.address,
        arrived=arrived,
    )
    if created.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return ParticipantRegistered(
        **_public(created.record),
        apiKey=created.api_key,
        webhookSecret=created.webhook.secret if created.webhook else None,
    )


@participants.put("/me/webhook", response_model=WebhookPublic)
def put_webhook(
    body: WebhookSet, recalls: RecallsDep, participant: ActiveParticipantDep
) -> WebhookPublic:
    """Register (or replace) where your recall notifications are POSTed. A new HMAC secret is
    issued each time and shown only in this answer."""
    hook = recalls.set_webhook(participant, body.url)
    return WebhookPublic(url=hook.url, secret=hook.secret)


@participants.delete("/me/webhook", status_code=status.HTTP_204_NO_CONTENT)
def delete_webhook(recalls: RecallsDep, participant: ActiveParticipantDep) -> Response:
    """Stop webhook deliveries (the notification feed stays)."""
    recalls.delete_webhook(participant)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@participants.get("", response_model=list[ParticipantPublic])
def list_participants(
    registry: ParticipantsDep,
    reader: BatchReaderDep,
    updated_since: Annotated[
        datetime | None,
        Query(
            alias="updatedSince",
            description="ISO 8601 time with a zone: only the participants changed at or after "
            "it, least recently changed first (a poller passes the last `updatedAt` it saw)",
            examples=["2026-12-03T21:00:00Z"],
        ),
    ] = None,
) -> list[ParticipantPublic]:
    """Every participant, oldest first (any key; the indexer's batch-reader key too)."""
    if updated_since is not None and updated_since.utcoffset() is None:
        raise ValidationError(
            "updatedSince needs a time zone (like 2026-12-03T21:00:00Z)",
            rule="query.updatedSince",
            pointer="/updatedSince",
        )
    return [ParticipantPublic(**_public(p)) for p in registry.all(updated_since=updated_since)]


@participants.get(
    "/{address}",
    response_model=ParticipantPublic,
    responses={404: {"description": "The gateway knows no such participant"}},
)
def show_participant(
    address: str, registry: ParticipantsDep, reader: ParticipantDep
) -> ParticipantPublic:
    """One participant (any participant's key; the address in any case)."""
    return ParticipantPublic(**_public(registry.get(address)))


@participants.put(
    "/{address}/region",
    response_model=ParticipantPublic,
    responses={
        403: {"description": "Not the regulator"},
        404: {"description": "The gateway knows no such participant"},
        422: {"description": "Not an ISO 3166-2 (or ISO 3166-1 alpha-2) code"},
    },
)
def set_region(
    address: str, body: RegionSet, registry: ParticipantsDep, _regulator: RegulatorDep
) -> ParticipantPublic:
    """Set a participant's region, an ISO 3166-2 subdivision code such as `KG-GB` (or a country
    code such as `KG`); `null` clears it (regulator). Kept at the gateway only."""
    return ParticipantPublic(**_public(registry.set_region(address, body.region)))


_STATUS_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not the regulator"},
    404: {"description": "The gateway knows no such participant"},
    409: {
        "description": "Already in that state; or a suspension of the caller itself, of the "
        "registry's owner or of the last active regulator (nobody could reinstate it)"
    },
    502: {"description": "The chain transaction failed: nothing was recorded"},
}


@participants.post("/{address}/suspend", response_model=ParticipantPublic, responses=_STATUS_ERRORS)
def suspend(address: str, registry: ParticipantsDep, regulator: RegulatorDep) -> ParticipantPublic:
    """Suspend on-chain and at the gateway: its captures and anchors are refused (regulator)."""
    return ParticipantPublic(**_public(registry.set_status(address, active=False, by=regulator)))


@participants.post(
    "/{address}/reinstate", response_model=ParticipantPublic, responses=_STATUS_ERRORS
)
def reinstate(
    address: str, registry: ParticipantsDep, regulator: RegulatorDep
) -> ParticipantPublic:
    """Reinstate a suspended participant, on-chain and at the gateway (regulator)."""
    return ParticipantPublic(**_public(registry.set_status(address, active=True, by=regulator)))


@participants.put("/{address}/prefixes", response_model=ParticipantPublic)
def set_company_prefixes(
    address: str, body: CompanyPrefixesSet, registry: ParticipantsDep, _regulator: RegulatorDep
) -> ParticipantPublic:
    """Replace the GS1 company prefixes of the products a participant may commission, on-chain
    and at the gateway (regulator; see docs/security.md#commissioning-authority)."""
    return ParticipantPublic(
        **_public(registry.set_company_prefixes(address, body.companyPrefixes))
    )
