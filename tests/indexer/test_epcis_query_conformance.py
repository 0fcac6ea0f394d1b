"""GET /events, the EPCIS 2.0 query interface, against a small fixed world (both databases):
each standard parameter gives the expected events, every answer is an EPCISQueryDocument valid
under GS1's schema, pages follow ``Link: rel="next"`` with a signed token, and every unknown,
malformed or not yet supported parameter is 400 problem+json."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from chain.client import Chain
from indexer.api.app import create_app
from indexer.service import IndexerService
from indexer.settings import IndexerSettings
from indexer.sources import FolderBatchSource
from indexer.verification import event_digest
from medledger.epcis import xml_read, xsd
from medledger.epcis.error_declaration import (
    declaration_digest,
    declaration_document,
    declaration_id,
)
from medledger.epcis.event_hash import document_hashes
from medledger.epcis.event_id import EventId
from medledger.epcis.schema import load_schema
from medledger.merkle import MerkleTree
from provenance.journey import ACTORS
from tests.support.anchoring import start_publisher

PROBLEM = "application/problem+json"
SITE = "urn:epc:id:sgln:4700123.10000.0"
IMPORTER_SITE = "urn:epc:id:sgln:4700321.10000.0"
PACK1, PACK2, PACK3 = (f"urn:epc:id:sgtin:4700123.012345.P{i}" for i in (1, 2, 3))
CASE = "urn:epc:id:sscc:4700123.0000000001"
LOT = "urn:epc:class:lgtin:4700123.012345.L1"
API_LOT = "urn:epc:class:lgtin:8901234.099999.APIL1"
PO = "urn:epcglobal:cbv:bt:4700123100002:PO-1"
MAKER, IMPORTER = ACTORS[1], ACTORS[2]


def at(hour: int) -> str:
    return f"2026-11-02T{hour:02d}:00:00Z"


def event(kind: str, hour: int, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "eventTime": at(hour), "eventTimeZoneOffset": "+00:00", **fields}


#: name -> (actor, event); anchored in three batches (commission+pack, ship+receive, the rest)
WORLD: dict[str, dict[str, Any]] = {
    "commission": event(
        "ObjectEvent", 1, action="ADD", bizStep="commissioning", disposition="active",
        epcList=[PACK1, PACK2], readPoint={"id": SITE}, bizLocation={"id": SITE},
        ilmd={"cbvmda:lotNumber": "L1", "cbvmda:itemExpirationDate": "2028-01-01"},
    ),
    "pack": event(
        "AggregationEvent", 2, action="ADD", bizStep="packing", parentID=CASE,
        childEPCs=[PACK1, PACK2], bizLocation={"id": SITE},
    ),
    "ship": {
        "@context": [{"ex": "https://example.org/ns/"}],
        **event(
            "ObjectEvent", 3, action="OBSERVE", bizStep="shipping", disposition="in_transit",
            epcList=[CASE], readPoint={"id": SITE},
            persistentDisposition={"set": ["completeness_inferred"]},
            bizTransactionList=[{"type": "po", "bizTransaction": PO}],
            sourceList=[{"type": "owning_party", "source": "urn:epc:id:pgln:4700123.10000"}],
            destinationList=[
                {"type": "owning_party", "destination": "urn:epc:id:pgln:4700321.10000"}
            ],
        ),
        "ex:temperature": 5,
    },
    "receive": event(
        "ObjectEvent", 4, action="OBSERVE", bizStep="receiving", disposition="in_progress",
        epcList=[CASE], readPoint={"id": IMPORTER_SITE}, bizLocation={"id": IMPORTER_SITE},
    ),
    "transform": event(
        "TransformationEvent", 5, bizStep="commissioning", transformationID="urn:uuid:t-1",
        inputQuantityList=[{"epcClass": API_LOT, "quantity": 12.5, "uom": "KGM"}],
        outputEPCList=[PACK3], bizLocation={"id": SITE},
    ),
    "destroy": event(
        "ObjectEvent", 6, action="DELETE", bizStep="decommissioning", epcList=[PACK2],
        bizLocation={"id": SITE},
        errorDeclaration={
            "declarationTime": at(7), "reason": "did_not_occur",
            "correctiveEventIDs": ["urn:uuid:corrective-1"],
        },
    ),
    "sell": event(
        "TransactionEvent", 8, action="ADD", bizStep="retail_selling", parentID=CASE,
        quantityList=[{"epcClass": LOT, "quantity": 3, "uom": "EA"}],
        bizTransactionList=[{"type": "po", "bizTransaction": PO}], bizLocation={"id": SITE},
    ),
}  # fmt: skip
ACTOR = {"receive": IMPORTER}
LATER_DECLARATION = {
    "declarationTime": "2026-11-03T00:00:00Z",
    "reason": "incorrect_data",
    "correctiveEventIDs": ["urn:uuid:corrective-2"],
}
BATCHES = (("commission", "pack"), ("ship", "receive"), ("transform", "destroy", "sell"))
ALL = list(WORLD)


@dataclass
class World:
    http: TestClient
    auth: dict[str, str]
    ids: dict[str, str]

    def answer(self, params: list[tuple[str, str]]) -> Any:
        response = self.http.get("/events", params=params, headers=self.auth)
        assert response.status_code == 200, response.text
        document = response.json()
        load_schema().validate(document)
        return response

    def names(self, params: list[tuple[str, str]]) -> list[str]:
        by_id = {v: k for k, v in self.ids.items()}
        events = self.answer(params).json()["epcisBody"]["queryResults"]["resultsBody"]
        return [by_id[e["eventID"]] for e in events["eventList"]]


@pytest.fixture(scope="module")
def world(module_index_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("query")
    chain = Chain.embedded()
    publisher = start_publisher(chain, tmp / "batches")
    for batch in BATCHES:
        actor = ACTOR.get(batch[0], MAKER)
        if batch == ("ship", "receive"):  # two actors: two anchors in two blocks
            publisher.publish(MAKER, [WORLD["ship"]])
            publisher.publish(IMPORTER, [WORLD["receive"]])
            continue
        publisher.publish(actor, [WORLD[n] for n in batch])
    # "receive" declared erroneous afterwards, by a declaration anchored as its own leaf
    declaration = declaration_document(
        EventId(event_digest(WORLD["receive"])).uri, LATER_DECLARATION, None
    )
    digest, salt = declaration_digest(declaration), secrets.token_bytes(32)
    root = MerkleTree.build([(digest, salt)]).root
    publisher.write(
        {
            "root": "0x" + root.hex(),
            "participant": publisher.accounts[IMPORTER.name].address,
            "events": [
                {
                    "kind": "errorDeclaration",
                    "eventID": declaration_id(digest),
                    "eventHash": "0x" + digest.hex(),
                    "salt": "0x" + salt.hex(),
                    "event": declaration,
                }
            ],
        }
    )
    publisher.ledger.anchor(publisher.accounts[IMPORTER.name], root, 1)
    service = IndexerService(
        IndexerSettings(data_dir=tmp / "indexer", database_url=module_index_url),
        chain=chain,
        deployment=publisher.deployment,
        source=FolderBatchSource(publisher.folder),
    )
    service.follower.loader.workers = 0
    try:
        service.catch_up()
        assert service.bootstrap_key_file is not None
        token = service.bootstrap_key_file.read_text().strip()
        ids = {n: EventId(event_digest(e)).uri for n, e in WORLD.items()}
        with TestClient(create_app(service, follow=False)) as http:
            yield World(http, {"Authorization": f"Bearer {token}"}, ids)
    finally:
        service.stop()


CASES: list[tuple[list[tuple[str, str]], list[str]]] = [
    ([], ALL),
    ([("eventType", "AggregationEvent|TransformationEvent")], ["pack", "transform"]),
    ([("GE_eventTime", at(4)), ("LT_eventTime", "2026-11-02T11:00:00+05:00")],
     ["receive", "transform"]),
    ([("EQ_action", "DELETE|ADD")], ["commission", "pack", "destroy", "sell"]),
    ([("EQ_bizStep", "urn:epcglobal:cbv:bizstep:shipping")], ["ship"]),
    ([("EQ_disposition", "in_transit|in_progress")], ["ship", "receive"]),
    ([("EQ_persistentDisposition_set", "completeness_inferred")], ["ship"]),
    ([("EQ_persistentDisposition_unset", "completeness_inferred")], []),
    ([("EQ_readPoint", IMPORTER_SITE)], ["receive"]),
    ([("WD_readPoint", SITE)], ["commission", "ship"]),
    ([("EQ_bizLocation", "https://id.gs1.org/414/4700321100002")], ["receive"]),
    # one site and a window within one UTC day (ix_events_site_day), and across two
    ([("EQ_bizLocation", SITE), ("GE_eventTime", at(2)), ("LT_eventTime", at(6))],
     ["pack", "transform"]),
    ([("EQ_bizLocation", SITE), ("GE_eventTime", "2026-11-02T05:00:00+05:00"),
      ("LT_eventTime", at(6))], ["commission", "pack", "transform"]),
    ([("WD_bizLocation", SITE), ("GE_eventTime", "2026-11-01T20:00:00Z"),
      ("LT_eventTime", at(2))], ["commission"]),
    ([("EQ_bizLocation", SITE), ("GE_eventTime", "2026-11-02T05:00:00+05:00"),
      ("LT_eventTime", "2026-11-03T00:00:00Z")],
     ["commission", "pack", "transform", "destroy", "sell"]),
    ([("EQ_bizLocation", SITE), ("GE_eventTime", "2026-11-01T00:00:00Z"),
      ("LT_eventTime", "2026-11-02T00:00:00Z")], []),
    ([("WD_bizLocation", IMPORTER_SITE)], ["receive"]),
    ([("EQ_transformationID", "urn:uuid:t-1")], ["transform"]),
    ([("MATCH_epc", PACK2)], ["commission", "pack", "destroy"]),
    ([("MATCH_epc", "urn:epc:idpat:sgtin:4700123.012345.*")], ["commission", "pack", "destroy"]),
    ([("MATCH_parentID", CASE)], ["pack", "sell"]),
    ([("MATCH_inputEPC", PACK1)], []),
    ([("MATCH_outputEPC", PACK3)], ["transform"]),
    ([("MATCH_anyEPC", CASE)], ["pack", "ship", "receive", "sell"]),
    ([("MATCH_epcClass", LOT)], ["sell"]),
    ([("MATCH_inputEPCClass", API_LOT)], ["transform"]),
    ([("MATCH_outputEPCClass", API_LOT)], []),
    ([("MATCH_anyEPCClass", "urn:epc:idpat:sgtin:8901234.099999.*")], ["transform"]),
    ([("EQ_quantity", "12.5")], ["transform"]),
    ([("GT_quantity", "3")], ["transform"]),
    ([("GE_quantity", "3")], ["transform", "sell"]),
    ([("LT_quantity", "12.5")], ["sell"]),
    ([("LE_quantity", "3")], ["sell"]),
    ([("EXISTS_errorDeclaration", "true")], ["receive", "destroy"]),
    ([("EXISTS_errorDeclaration", "false")], ALL),
    ([("GE_errorDeclarationTime", at(7)), ("LT_errorDeclarationTime", at(8))], ["destroy"]),
    ([("LT_errorDeclarationTime", at(7))], []),
    ([("EQ_errorReason", "did_not_occur")], ["destroy"]),
    ([("EQ_errorReason", "incorrect_data"), ("GE_errorDeclarationTime", at(8))], ["receive"]),
    ([("EQ_errorReason", "incorrect_data"), ("LT_errorDeclarationTime", at(8))], []),
    ([("EQ_correctiveEventID", "urn:uuid:corrective-2|urn:uuid:corrective-1")],
     ["receive", "destroy"]),
    ([("EQ_correctiveEventID", "urn:uuid:corrective-1")], ["destroy"]),
    ([("EQ_bizTransaction_po", PO)], ["ship", "sell"]),
    ([("EQ_source_owning_party", "urn:epc:id:pgln:4700123.10000")], ["ship"]),
    ([("EQ_destination_owning_party", "urn:epc:id:pgln:4700123.10000")], []),
    ([("EQ_ILMD_cbvmda:lotNumber", "L1")], ["commission"]),
    ([("GE_ILMD_cbvmda:itemExpirationDate", "2027-12-31T00:00:00Z")], []),
    ([("EQ_ex:temperature", "5")], ["ship"]),
    ([("GT_ex:temperature", "4"), ("LE_ex:temperature", "5")], ["ship"]),
    ([("LT_ex:temperature", "5")], []),
    ([("EXISTS_ex:temperature", "")], ["ship"]),
    ([("EXISTS_ILMD_cbvmda:lotNumber", "")], ["commission"]),
    ([("orderBy", "eventTime"), ("orderDirection", "ASC"), ("eventCountLimit", "2")],
     ["commission", "pack"]),
    ([("orderBy", "eventTime"), ("eventCountLimit", "2")], ["sell", "destroy"]),
    ([("orderBy", "recordTime"), ("EQ_bizStep", "shipping|receiving")], ["receive", "ship"]),
    ([("maxEventCount", "7")], ALL),
    ([("MATCH_anyEPC", CASE), ("EQ_action", "OBSERVE"), ("LT_eventTime", at(4))], ["ship"]),
]  # fmt: skip


@pytest.mark.parametrize(("params", "expected"), CASES)
def test_each_parameter_selects_the_expected_events(
    world: World, params: list[tuple[str, str]], expected: list[str]
) -> None:
    assert world.names(params) == expected


def test_event_ids_record_times_and_the_receipt_link(world: World) -> None:
    assert world.names([("EQ_eventID", f"{world.ids['pack']}|{world.ids['sell']}")]) == [
        "pack",
        "sell",
    ]
    response = world.answer([])
    assert "/events/{eventID}/receipt" in response.headers["link-template"]
    assert response.headers["gs1-epcis-version"] == "2.0.0"
    events = response.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    times = [datetime.fromisoformat(e["recordTime"]) for e in events]
    assert times == sorted(times) and all(t.tzinfo == UTC for t in times)
    last = events[-1]["recordTime"]
    later = [n for n, t in zip(ALL, times, strict=True) if t >= times[-1]]
    assert world.names([("GE_recordTime", last)]) == later
    assert world.names([("LT_recordTime", last)]) == ALL[: len(ALL) - len(later)]
    receipt = world.http.get(
        f"/events/{world.ids['ship'].split(';')[1][:64]}/receipt", headers=world.auth
    )
    assert receipt.status_code == 200, receipt.text


def test_pages_follow_the_link_and_a_token_serves_only_its_query(world: World) -> None:
    seen: list[str] = []
    params: list[tuple[str, str]] = [("perPage", "3"), ("EQ_bizStep", "shipping|receiving|packing"
                                     "|commissioning|decommissioning|retail_selling")]  # fmt: skip
    response = world.answer(params)
    pages = 1
    while True:
        by_id = {v: k for k, v in world.ids.items()}
        events = response.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        seen += [by_id[e["eventID"]] for e in events]
        if "link" not in response.headers:
            break
        link = response.headers["link"]
        assert link.endswith('>; rel="next"')
        response = world.http.get(link[1 : link.index(">")], headers=world.auth)
        assert response.status_code == 200, response.text
        pages += 1
        token = response.request.url.params["nextPageToken"]
    assert seen == ALL and pages == 3
    for bad in (token[:-2] + "AA", token.replace(".", ""), "x"):
        problem = world.http.get(
            "/events", params=[*params, ("nextPageToken", bad)], headers=world.auth
        )
        assert problem.status_code == 400 and problem.json()["pointer"] == "nextPageToken"
    other = world.http.get(
        "/events", params=[("perPage", "3"), ("nextPageToken", token)], headers=world.auth
    )
    assert other.status_code == 400, "a token is only good for the filters that made it"


@pytest.mark.parametrize(
    ("params", "status", "rule"),
    [
        ([("limit", "5")], 400, "query.parameter"),
        ([("EQ_bizStep", "shiping")], 400, "query.parameter"),
        ([("GE_eventTime", "2026-11-02")], 400, "query.parameter"),
        ([("GE_startTime", at(1))], 400, "query.unsupported"),
        ([("GE_eventTime", "0001-01-01T00:00:00+01:00")], 400, "query.parameter"),
        ([("GT_quantity", "1e999999999")], 400, "query.parameter"),
        ([("EQ_bizLocation", "geo:1,2\x00")], 400, "query.parameter"),
        ([("maxEventCount", "6")], 413, "query.tooLarge"),
    ],
)
def test_refusals_are_problems_never_ignored(
    world: World, params: list[tuple[str, str]], status: int, rule: str
) -> None:
    response = world.http.get("/events", params=params, headers=world.auth)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["rule"] == rule


def test_a_reader_key_is_needed(world: World) -> None:
    assert world.http.get("/events").status_code == 401


@pytest.mark.parametrize(
    ("resource", "members"),
    [
        ("eventTypes", ["AggregationEvent", "ObjectEvent", "TransactionEvent",
                        "TransformationEvent"]),
        ("bizSteps", ["commissioning", "decommissioning", "packing", "receiving",
                      "retail_selling", "shipping"]),
        ("bizLocations", ["https://id.gs1.org/414/4700123100002",
                          "https://id.gs1.org/414/4700321100002"]),
        ("readPoints", ["https://id.gs1.org/414/4700123100002",
                        "https://id.gs1.org/414/4700321100002"]),
        ("dispositions", ["active", "in_progress", "in_transit"]),
        ("epcs", ["https://id.gs1.org/00/047001230000000012",
                  *(f"https://id.gs1.org/01/04700123123452/21/P{i}" for i in (1, 2, 3))]),
    ],
)  # fmt: skip
def test_each_top_level_resource_lists_what_the_events_name_a_page_at_a_time(
    world: World, resource: str, members: list[str]
) -> None:
    found: list[str] = []
    params: list[tuple[str, str]] = [("perPage", "2")]
    while True:
        response = world.http.get(f"/{resource}", params=params, headers=world.auth)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["type"] == "Collection" and len(body["member"]) <= 2
        found += body["member"]
        if "link" not in response.headers:
            break
        link = response.headers["link"]
        params = [("perPage", "2"), ("nextPageToken", link.split("nextPageToken=")[1][:-13])]
    assert found == members
    refused = world.http.get(f"/{resource}", params={"EQ_bizStep": "x"}, headers=world.auth)
    assert refused.status_code == 400 and refused.json()["pointer"] == "EQ_bizStep"


@pytest.mark.parametrize(
    ("path", "params", "expected"),
    [
        ("/eventTypes/TransformationEvent/events", [], ["transform"]),
        ("/bizSteps/shipping/events", [], ["ship"]),
        ("/bizLocations/" + IMPORTER_SITE + "/events", [], ["receive"]),
        ("/readPoints/https%3A%2F%2Fid.gs1.org%2F414%2F4700123100002/events",
         [("EQ_action", "ADD")], ["commission"]),
        ("/dispositions/in_progress/events", [], ["receive"]),
    ],
)  # fmt: skip
def test_a_resource_s_events_are_the_query_with_its_value(
    world: World, path: str, params: list[tuple[str, str]], expected: list[str]
) -> None:
    response = world.http.get(path, params=params, headers=world.auth)
    assert response.status_code == 200, response.text
    load_schema().validate(response.json())
    by_id = {v: k for k, v in world.ids.items()}
    events = response.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert [by_id[e["eventID"]] for e in events] == expected
    again = world.http.get(
        "/bizSteps/shipping/events", params={"EQ_bizStep": "receiving"}, headers=world.auth
    )
    assert again.status_code == 400 and again.json()["pointer"] == "EQ_bizStep"


def test_a_declaration_anchored_later_is_on_the_event_it_declares(world: World) -> None:
    response = world.http.get("/events/" + world.ids["receive"][14:78], headers=world.auth)
    (event,) = response.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert event["errorDeclaration"] == {
        "declarationTime": "2026-11-03T00:00:00Z",
        "reason": "incorrect_data",
        "correctiveEventIDs": ["urn:uuid:corrective-2"],
    }


def test_one_event_by_its_id_and_its_receipt_beside_it(world: World) -> None:
    event_id = world.ids["transform"]
    for path in (f"/events/{quote(event_id, safe='')}", f"/events/{event_id[14:78]}"):
        response = world.http.get(path, headers=world.auth)
        assert response.status_code == 200, response.text
        load_schema().validate(response.json())
        events = response.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        assert [e["eventID"] for e in events] == [event_id]
    receipt = world.http.get(f"/events/{event_id[14:78]}/receipt", headers=world.auth)
    assert receipt.status_code == 200 and "event_hash" in receipt.json()
    assert world.http.get("/events/" + "0" * 64, headers=world.auth).status_code == 404
    assert world.http.get("/events/12", headers=world.auth).status_code == 400
    extra = world.http.get(f"/events/{event_id[14:78]}?perPage=1", headers=world.auth)
    assert extra.status_code == 400 and extra.json()["pointer"] == "perPage"


@pytest.mark.parametrize(
    ("accept", "events_as", "list_status"),
    [
        ("application/ld+json", "json", 200),
        ("*/*", "json", 200),
        ("application/json, application/xml", "json", 200),  # a tie: JSON
        ("application/json;q=0.5, application/xml", "xml", 200),  # a list has no XML form
        ("application/xml", "xml", 406),
        ("text/xml, application/json;q=0", "xml", 406),
        ("image/png", None, 406),
    ],
)
def test_events_answer_in_json_ld_or_epcis_xml_as_accept_prefers(
    world: World, accept: str, events_as: str | None, list_status: int
) -> None:
    listed = world.http.get("/bizSteps", headers={**world.auth, "Accept": accept})
    assert listed.status_code == list_status, listed.text
    for path in ("/events", "/events/" + world.ids["ship"][14:78], f"/epcs/{PACK2}/events"):
        response = world.http.get(path, headers={**world.auth, "Accept": accept})
        if events_as is None:
            assert response.status_code == 406 and response.json()["rule"] == "query.accept"
            continue
        assert response.status_code == 200, (path, response.text)
        kind = response.headers["content-type"].split(";")[0]
        assert kind == {"json": "application/json", "xml": "application/xml"}[events_as]


def test_an_xml_answer_is_valid_under_gs1_s_xsd_and_reads_back_to_the_same_events(
    world: World,
) -> None:
    response = world.http.get("/events", headers={**world.auth, "Accept": "application/xml"})
    assert response.status_code == 200, response.text
    root = xml_read.parse(response.content)
    xsd.validate(root, "2.0")
    document = xml_read.read_root(root)
    events = document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    as_json = world.answer([]).json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert [e["eventID"] for e in events] == [e["eventID"] for e in as_json]
    # each event read back from the XML hashes to its eventID, those with ILMD keys under
    # cbvmda: (lot, expiry) too: XML capture reads urn:epcglobal:cbv:mda as that JSON prefix
    assert any(_cbvmda_keys(e) for e in as_json)
    assert document_hashes(document) == [e["eventID"] for e in events]
    declared = [e for e in events if "errorDeclaration" in e]
    assert declared and declared[0]["errorDeclaration"]["reason"] == "incorrect_data"


def _cbvmda_keys(event: dict[str, Any]) -> bool:
    return any(k.startswith("cbvmda:") for k in event.get("ilmd", {}))


def test_a_resource_value_lists_its_events_sub_resource(world: World) -> None:
    for path in ("/bizSteps/shipping", "/bizLocations/" + IMPORTER_SITE, "/eventTypes/ObjectEvent"):
        response = world.http.get(path, headers=world.auth)
        assert response.status_code == 200, response.text
        assert response.json()["member"] == ["events"] and response.json()["type"] == "Collection"
    assert world.http.get("/bizSteps/stocking", headers=world.auth).status_code == 404
    assert world.http.get("/dispositions/nonsense", headers=world.auth).status_code == 400


def test_an_epc_s_events_take_the_query_parameters_too(world: World) -> None:
    path = f"/epcs/{PACK2}/events"
    steps = [("EQ_bizStep", "packing|commissioning|shipping")]  # the pack was never shipped
    response = world.http.get(path, params=steps, headers=world.auth)
    assert response.status_code == 200, response.text
    load_schema().validate(response.json())
    by_id = {v: k for k, v in world.ids.items()}

    def names(answer: Any) -> list[str]:
        events = answer.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        return [by_id[e["eventID"]] for e in events]

    assert names(response) == ["commission", "pack"]
    legacy = world.http.get(path, params={"limit": "100"}, headers=world.auth)
    everything = world.http.get(path, headers=world.auth)
    assert names(everything) == names(legacy) and "destroy" in names(everything)
    first = world.http.get(path, params=[*steps, ("perPage", "1")], headers=world.auth)
    link = first.headers["link"]
    rest = world.http.get(link[1 : link.index(">")], headers=world.auth)
    assert names(first) + names(rest) == names(response)
    token = rest.request.url.params["nextPageToken"]
    elsewhere = world.http.get(
        "/events", params=[*steps, ("nextPageToken", token)], headers=world.auth
    )
    assert elsewhere.status_code == 400, "a token is only good where it was given"
    mixed = world.http.get(path, params=[*steps, ("limit", "2")], headers=world.auth)
    assert mixed.status_code == 400 and mixed.json()["pointer"] == "EQ_bizStep"
