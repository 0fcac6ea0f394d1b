"""Named queries (``/queries``, the EPCIS 2.0 REST binding): created with ``{name, query}`` after
GS1's query-schema.json, checked by the parser of ``GET /events`` (an unknown or malformed
parameter is 400, never stored), kept per reader (another reader's query is 404), and answered
for their owner: ``GET /queries/{name}/events`` is ``GET /events`` with the query's parameters,
as the owner sees it. Every answer is checked against the binding's schemas.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from typing import Any

import fastjsonschema
import pytest

from medledger.epcis.schema import load_schema
from tests.indexer.test_epcis_visibility import SEES, WORLD, World, _world_index
from tests.medledger.epcis.epcis_vectors import VECTORS, require_vectors

PROBLEM = "application/problem+json"
BINDING = VECTORS / "epcis" / "rest-bindings"


@cache
def _binding() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((BINDING / "openapi.json").read_text())
    return document


def _python_patterns(node: Any) -> Any:
    """``node`` without the patterns Python cannot read (the binding's schedule fields use
    Ruby's ``\\g<name>`` subexpression calls)."""
    if isinstance(node, dict):
        out = {k: _python_patterns(v) for k, v in node.items()}
        if isinstance(out.get("pattern"), str) and "\\g<" in out["pattern"]:
            del out["pattern"]
        return out
    if isinstance(node, list):
        return [_python_patterns(v) for v in node]
    return node


def binding_schema(schema: dict[str, Any]) -> Any:
    """A validator of ``schema``, a part of the binding (its ``#/components`` references
    resolve against the binding)."""
    whole = _python_patterns({**_binding(), **schema})
    return fastjsonschema.compile(whole, formats={"uri": r".", "date-time": r"."})


def response_schema(path: str, method: str, status: str) -> dict[str, Any]:
    answer = _binding()["paths"][path][method]["responses"][status]
    schema: dict[str, Any] = answer["content"]["application/json"]["schema"]
    return schema


@cache
def query_schema() -> Any:
    schema = json.loads((BINDING / "query-schema.json").read_text())
    return fastjsonschema.compile(schema, formats={"uri": r".", "date-time": r"."})


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    binding_schema(_binding()["components"]["schemas"]["RFC7807ProblemResponseBody"])(body)
    return body


@pytest.fixture(scope="module")
def world(module_index_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    require_vectors()
    yield from _world_index(module_index_url, tmp_path_factory.mktemp("named"))


def create(world: World, reader: str, name: str, query: dict[str, Any]) -> Any:
    body = {"name": name, "query": query}
    query_schema()(query)  # what a client following the binding sends
    binding_schema(_binding()["components"]["schemas"]["QueryDefinition"])(body)
    return world.http.post("/queries", json=body, headers=world.keys[reader])


def delete(world: World, reader: str, name: str) -> None:
    world.http.delete(f"/queries/{name}", headers=world.keys[reader])


def test_a_named_query_is_created_read_listed_and_deleted(world: World) -> None:
    query = {"eventType": ["ObjectEvent"], "EQ_bizStep": ["shipping", "receiving"]}
    made = create(world, "regulator", "moves", query)
    assert made.status_code == 201, made.text
    assert made.headers["location"] == "/queries/moves"
    assert made.json() == {"name": "moves", "query": query}

    one = world.get("regulator", "/queries/moves")
    assert one.status_code == 200
    assert one.json() == {"name": "moves", "query": query}
    binding_schema(response_schema("/queries/{queryName}", "get", "200")["items"])(one.json())

    listed = world.get("regulator", "/queries")
    assert listed.status_code == 200
    binding_schema(response_schema("/queries", "get", "200"))(listed.json())
    assert {"name": "moves", "query": query} in listed.json()

    gone = world.http.delete("/queries/moves", headers=world.keys["regulator"])
    assert gone.status_code == 204
    problem(world.get("regulator", "/queries/moves"), 404)
    problem(world.http.delete("/queries/moves", headers=world.keys["regulator"]), 404)


def test_a_named_query_answers_what_get_events_answers_with_its_parameters(
    world: World,
) -> None:
    query = {"EQ_bizStep": ["shipping"], "GE_eventTime": "2026-11-02T03:00:00Z"}
    assert create(world, "regulator", "shipped", query).status_code == 201
    direct = world.names("regulator", "/events", EQ_bizStep="shipping",
                         GE_eventTime="2026-11-02T03:00:00Z")  # fmt: skip
    assert world.names("regulator", "/queries/shipped/events") == direct
    assert direct == ["m1_ship", "d_ship"]
    paged = world.names("regulator", "/queries/shipped/events", perPage=1)
    assert paged == direct  # nextPageToken pages a named query too
    delete(world, "regulator", "shipped")


def test_a_named_query_is_its_owners_alone_and_answers_what_the_owner_sees(
    world: World,
) -> None:
    everything: dict[str, Any] = {"eventType": ["ObjectEvent", "AggregationEvent"]}
    for reader in ("pharmacy", "m2", "regulator"):
        assert create(world, reader, "mine", everything).status_code == 201
    for reader in ("pharmacy", "m2", "regulator"):
        names = world.names(reader, "/queries/mine/events", perPage=1000)
        assert set(names) == SEES[reader]
    problem(world.get("auditor", "/queries/mine"), 404)  # the regulator's, not the auditor's
    problem(world.get("auditor", "/queries/mine/events"), 404)
    assert [q["name"] for q in world.get("auditor", "/queries").json()] == []
    for reader in ("pharmacy", "m2", "regulator"):
        delete(world, reader, "mine")


def test_a_name_taken_is_409_and_the_first_query_stays(world: World) -> None:
    assert create(world, "auditor", "twice", {"EQ_action": ["ADD"]}).status_code == 201
    body = problem(create(world, "auditor", "twice", {"EQ_action": ["DELETE"]}), 409)
    assert "twice" in body["detail"]
    assert world.get("auditor", "/queries/twice").json()["query"] == {"EQ_action": ["ADD"]}
    delete(world, "auditor", "twice")


@pytest.mark.parametrize(
    ("query", "pointer"),
    [
        ({"EQ_bizStepp": ["shipping"]}, "EQ_bizStepp"),
        ({"GE_eventTime": "yesterday"}, "GE_eventTime"),
        ({"EQ_bizStep": ["no such step"]}, "EQ_bizStep"),
        ({"MATCH_epc": ["not an epc"]}, "MATCH_epc"),
        ({"perPage": 0}, "perPage"),
        ({"eventCountLimit": 5}, "eventCountLimit"),  # without orderBy
        ({"GE_startTime": "2026-11-02T00:00:00Z"}, "GE_startTime"),  # not supported yet
        ({"nextPageToken": "abc"}, "/query/nextPageToken"),
        ({"EQ_bizStep": []}, "/query/EQ_bizStep"),
        ({"EQ_bizStep": [{"a": 1}]}, "/query/EQ_bizStep"),
    ],
)
def test_a_query_get_events_would_refuse_is_400_and_not_stored(
    world: World, query: dict[str, Any], pointer: str
) -> None:
    response = world.http.post(
        "/queries", json={"name": "bad", "query": query}, headers=world.keys["regulator"]
    )
    body = problem(response, 400)
    assert body["pointer"] == pointer
    problem(world.get("regulator", "/queries/bad"), 404)


@pytest.mark.parametrize(
    "body",
    [
        {"query": {}},
        {"name": "a/b", "query": {}},
        {"name": "", "query": {}},
        {"name": "x", "query": []},
        {"name": "x", "query": {}, "extra": 1},
        [],
    ],
)
def test_a_malformed_definition_is_400(world: World, body: Any) -> None:
    response = world.http.post("/queries", json=body, headers=world.keys["regulator"])
    problem(response, 400)


def test_a_query_sent_as_anything_but_json_is_415(world: World) -> None:
    response = world.http.post(
        "/queries",
        content=b"name=x",
        headers={**world.keys["regulator"], "Content-Type": "application/x-www-form-urlencoded"},
    )
    problem(response, 415)


def test_named_queries_need_a_key_and_take_no_stray_parameters(world: World) -> None:
    problem(world.http.get("/queries"), 401)
    problem(world.get("regulator", "/queries", foo="1"), 400)
    assert create(world, "regulator", "q", {}).status_code == 201
    problem(world.get("regulator", "/queries/q/events", EQ_bizStep="shipping"), 400)
    assert world.names("regulator", "/queries/q/events", perPage=1000) == list(WORLD)
    delete(world, "regulator", "q")


def test_the_query_schema_spellings_are_read(world: World) -> None:
    query = {"EXISTS_errorDeclaration": 1, "LT_errorDeclaration_Time": "2030-01-01T00:00:00Z"}
    assert create(world, "regulator", "declared", query).status_code == 201
    response = world.get("regulator", "/queries/declared/events")
    assert response.status_code == 200
    load_schema().validate(response.json())
    assert response.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"] == []
    delete(world, "regulator", "declared")


def test_the_list_of_queries_pages(world: World) -> None:
    names = [f"q{i}" for i in range(5)]
    for name in names:
        assert create(world, "m1", name, {}).status_code == 201
    seen: list[str] = []
    response = world.get("m1", "/queries", perPage=2)
    while True:
        assert response.status_code == 200, response.text
        binding_schema(response_schema("/queries", "get", "200"))(response.json())
        seen += [q["name"] for q in response.json()]
        link = response.links.get("next")
        if link is None:
            break
        response = world.get("m1", link["url"])
    assert seen == names
    other = world.get("m1", "/queries", perPage=2).links["next"]["url"]
    problem(world.get("m2", other), 400)  # a token of another reader's list
    for name in names:
        delete(world, "m1", name)
