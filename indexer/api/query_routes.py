"""The EPCIS 2.0 REST binding's named queries: ``POST /queries`` (``{"name", "query"}``, the
query as GS1's query-schema.json has it), ``GET /queries``, ``GET|DELETE /queries/{name}`` and
``GET /queries/{name}/events`` (the query's events, as ``GET /events`` with its parameters
answers them). Kept per reader (indexer/subscriptions/named.py): a reader sees only its own,
and a query answers what its owner sees. The query is checked by ``GET /events``' parser: an
unknown or malformed parameter is 400 (problem+json), a name taken 409. Subscriptions:
indexer/api/subscription_routes.py.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from indexer.api.deps import EpcisReaderDep, ServiceDep, SessionDep
from indexer.api.epcis_routes import (
    VERSION_HEADERS,
    epcis_answer,
    events_answer,
    require_events_format,
    require_json,
    token_scope,
)
from indexer.queries.events import query_events
from indexer.service import IndexerService
from indexer.subscriptions import named
from medledger.epcis.query import parse_query
from medledger.errors import QueryParameterError, UnsupportedMediaTypeError
from servicekit.http import strict_json
from servicekit.http.bodies import _is_json

queries = APIRouter(prefix="/queries", tags=["epcis queries"])

_BODY = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["name", "query"],
                "properties": {"name": {"type": "string"}, "query": {"type": "object"}},
            },
            "example": {
                "name": "shipped",
                "query": {"eventType": ["ObjectEvent"], "EQ_bizStep": ["shipping"]},
            },
        }
    },
    "required": True,
}


def no_parameters(request: Request, route: str, allowed: tuple[str, ...] = ()) -> None:
    for name, _value in request.query_params.multi_items():
        if name not in allowed:
            takes = ", ".join(allowed) or "no parameters"
            raise QueryParameterError(
                f"{name}: {route} takes {takes}", rule="query.parameter", pointer=name
            )


async def json_body(request: Request) -> Any:
    """The request's JSON body (strict parser: servicekit/http/strict_json.py); 415 unless it
    is sent as JSON."""
    if not _is_json(request.headers.get("content-type")):
        raise UnsupportedMediaTypeError(
            "send the query as application/json", rule="query.media-type", pointer="Content-Type"
        )
    return strict_json.loads(await request.body())


@queries.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="EPCIS 2.0: create a named query",
    description='`{"name": "...", "query": {...}}` (GS1 query-schema.json: lists, times, '
    "numbers). The query is checked as `GET /events` checks its parameters: an unknown or "
    "malformed one is 400. 409 when you have a query of that name. `Location`: "
    "`/queries/{name}`. Visible only to you (the key's holder, role and binding).",
    response_model=None,
    openapi_extra={"requestBody": _BODY},
    responses={201: {"description": "The query as stored"}, 409: {"description": "Name taken"}},
)
async def create_query(request: Request, service: ServiceDep, reader: EpcisReaderDep) -> Response:
    no_parameters(request, "POST /queries")
    require_json(request)
    body = await json_body(request)

    def store() -> dict[str, Any]:
        with service.write_sessions() as session, session.begin():
            return named.create(session, reader, body).document()

    document = await run_in_threadpool(store)
    return JSONResponse(
        document,
        status_code=201,
        headers=VERSION_HEADERS | {"Location": f"/queries/{document['name']}"},
    )


@queries.get(
    "",
    summary="EPCIS 2.0: your named queries",
    description="Every named query of the key's holder, oldest first, as `{name, query}` (at "
    f'most {named.MAX_QUERIES}); `perPage`, `nextPageToken` (`Link: rel="next"`).',
    response_model=None,
)
def list_queries(
    request: Request, service: ServiceDep, session: SessionDep, reader: EpcisReaderDep
) -> Response:
    no_parameters(request, "GET /queries", ("perPage", "nextPageToken"))
    require_json(request)
    found = [q.document() for q in named.listing(session, reader)]
    return paged_list(request, service, found, f"queries {named.owner_of(reader)}")


def paged_list(request: Request, service: IndexerService, items: list[Any], scope: str) -> Response:
    """One page of a short list (named queries, subscriptions): ``perPage`` items from where
    the ``nextPageToken`` (signed, bound to ``scope``) says; ``Link: rel="next"`` if more."""
    paging = parse_query(request.query_params.multi_items())
    key, served = service.page_tokens.decode(scope, paging.next_page_token)
    start = key[0] if key and isinstance(key[0], int) and key[0] >= 0 else 0
    page = items[start : start + paging.per_page]
    end = start + len(page)
    token = (
        service.page_tokens.encode(scope, [end], served + len(page)) if end < len(items) else None
    )
    return epcis_answer(request, page, token, {})


@queries.get(
    "/{name}",
    summary="EPCIS 2.0: a named query's definition",
    description="`{name, query}`; 404 when you have no query of that name.",
    response_model=None,
)
def get_query(name: str, request: Request, session: SessionDep, reader: EpcisReaderDep) -> Response:
    no_parameters(request, "GET /queries/{name}")
    require_json(request)
    return JSONResponse(named.find(session, reader, name).document(), headers=VERSION_HEADERS)


@queries.delete(
    "/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="EPCIS 2.0: delete a named query",
    description="Deletes the query and every subscription to it; 404 when you have none of "
    "that name.",
    response_model=None,
)
def delete_query(
    name: str, request: Request, service: ServiceDep, reader: EpcisReaderDep
) -> Response:
    no_parameters(request, "DELETE /queries/{name}")
    with service.write_sessions() as session, session.begin():
        named.remove(session, reader, name)
    return Response(status_code=204, headers=VERSION_HEADERS)


@queries.get(
    "/{name}/events",
    summary="EPCIS 2.0: a named query's events",
    description="The events the query matches, as `GET /events` with its parameters answers "
    "them (what the query's owner sees), an EPCISQueryDocument; `perPage`, `nextPageToken` "
    '(`Link: rel="next"`). With `Upgrade: websocket` and `stream=true`: the WebSocket '
    "subscription (docs/indexer.md).",
    response_model=None,
    responses={200: {"description": "An EPCISQueryDocument"}},
)
def get_query_events(
    name: str, request: Request, service: ServiceDep, session: SessionDep, reader: EpcisReaderDep
) -> Response:
    no_parameters(request, "GET /queries/{name}/events", ("perPage", "nextPageToken"))
    require_events_format(request)
    query = named.find(session, reader, name)
    paging = request.query_params.multi_items()
    given = {k for k, _v in paging}
    params = [(k, v) for k, v in query.params if k not in given]
    answer = query_events(
        session,
        parse_query([*params, *paging]),
        service.page_tokens,
        within=query.visibility.events(session),
        scope=token_scope(f"query {query.id}", query.visibility),
    )
    return events_answer(request, answer)
