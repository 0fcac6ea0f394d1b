"""The EPCIS 2.0 REST binding's webhook subscriptions to a named query:
``POST /queries/{name}/subscriptions`` (``dest``, ``signatureToken``, ``stream: true`` or a
``schedule``, ``reportIfEmpty``, ``initialRecordTime``), ``GET`` (list), ``GET|DELETE
/queries/{name}/subscriptions/{subscriptionID}``. The owner of the query alone (another
reader's query is 404). Checked by indexer/subscriptions/store.py (400
``subscription-controls``: the webhook rules of servicekit/webhook_targets.py, a malformed
schedule, neither stream nor schedule); delivered by indexer/subscriptions/delivery.py.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from indexer.api.deps import EpcisReaderDep, ServiceDep, SessionDep
from indexer.api.epcis_routes import VERSION_HEADERS, require_json
from indexer.api.query_routes import json_body, no_parameters, paged_list
from indexer.subscriptions import named
from indexer.subscriptions import store as subscriptions

subscribed = APIRouter(prefix="/queries", tags=["epcis queries"])

_BODY = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["dest"],
                "properties": {
                    "dest": {"type": "string", "format": "uri"},
                    "signatureToken": {"type": "string"},
                    "stream": {"type": "boolean", "enum": [True]},
                    "schedule": {
                        "type": "object",
                        "properties": {
                            f: {"type": "string"}
                            for f in (
                                "second",
                                "minute",
                                "hour",
                                "dayOfMonth",
                                "month",
                                "dayOfWeek",
                            )
                        },
                    },
                    "reportIfEmpty": {"type": "boolean"},
                    "initialRecordTime": {"type": "string", "format": "date-time"},
                },
            },
            "example": {
                "dest": "https://partner.example/epcis-callback",
                "signatureToken": "13df38d8275b13f05704629e5f1cf3d45d6132d5",
                "stream": True,
            },
        }
    },
    "required": True,
}


@subscribed.post(
    "/{name}/subscriptions",
    status_code=status.HTTP_201_CREATED,
    summary="EPCIS 2.0: subscribe to a named query (webhook)",
    description="`dest` (the webhook URL: http(s), a public address unless "
    "PROVENANCE_INDEXER_SUBSCRIPTION_ALLOWLIST allows it), `stream: true` (every new matching "
    "event) or a `schedule` (cron-like, UTC: the events since the last run), optional "
    "`signatureToken` (HMAC-SHA256 signature in `GS1-Signature`), `reportIfEmpty`, "
    "`initialRecordTime`. The answer never shows the token. See docs/indexer.md.",
    response_model=None,
    openapi_extra={"requestBody": _BODY},
    responses={201: {"description": "The subscription"}},
)
async def create_subscription(
    name: str, request: Request, service: ServiceDep, reader: EpcisReaderDep
) -> Response:
    no_parameters(request, "POST /queries/{name}/subscriptions")
    require_json(request)
    body = await json_body(request)

    def store() -> dict[str, Any]:
        with service.write_sessions() as session, session.begin():
            query = named.find(session, reader, name)
            given = subscriptions.controls(body, service.settings.subscription_targets)
            row = subscriptions.subscribe(session, query, given)
            return subscriptions.public(session, row, name)

    made = await run_in_threadpool(store)
    service.subscriptions.wake()
    location = f"/queries/{name}/subscriptions/{made['subscriptionID']}"
    return JSONResponse(made, status_code=201, headers=VERSION_HEADERS | {"Location": location})


@subscribed.get(
    "/{name}/subscriptions",
    summary="EPCIS 2.0: a named query's subscriptions",
    description="Every subscription to the query (at most 10), oldest first, never a token; "
    '`perPage`, `nextPageToken` (`Link: rel="next"`).',
    response_model=None,
)
def list_subscriptions(
    name: str, request: Request, service: ServiceDep, session: SessionDep, reader: EpcisReaderDep
) -> Response:
    no_parameters(request, "GET /queries/{name}/subscriptions", ("perPage", "nextPageToken"))
    require_json(request)
    query = named.find(session, reader, name)
    found = [subscriptions.public(session, r, name) for r in subscriptions.listing(session, query)]
    return paged_list(request, service, found, f"subscriptions {query.id}")


@subscribed.get(
    "/{name}/subscriptions/{subscription_id}",
    summary="EPCIS 2.0: one subscription",
    description="The subscription (`lastNotifiedAt`: the last delivery a receiver "
    "acknowledged); 404 when the query has none of that id.",
    response_model=None,
)
def get_subscription(
    name: str, subscription_id: str, request: Request, session: SessionDep, reader: EpcisReaderDep
) -> Response:
    no_parameters(request, "GET /queries/{name}/subscriptions/{subscriptionID}")
    require_json(request)
    query = named.find(session, reader, name)
    row = subscriptions.find(session, query, subscription_id)
    return JSONResponse(subscriptions.public(session, row, name), headers=VERSION_HEADERS)


@subscribed.delete(
    "/{name}/subscriptions/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="EPCIS 2.0: unsubscribe",
    description="Ends the subscription (a delivery under way may still arrive); 404 when the "
    "query has none of that id.",
    response_model=None,
)
def delete_subscription(
    name: str, subscription_id: str, request: Request, service: ServiceDep, reader: EpcisReaderDep
) -> Response:
    no_parameters(request, "DELETE /queries/{name}/subscriptions/{subscriptionID}")
    with service.write_sessions() as session, session.begin():
        query = named.find(session, reader, name)
        subscriptions.unsubscribe(session, query, subscription_id)
    return Response(status_code=204, headers=VERSION_HEADERS)
