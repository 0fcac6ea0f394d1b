"""The pack check (query and public endpoint) against the indexed journey, both databases: the
finished lot released by its manufacturer, and a second lot of three packs released and recalled
on chain."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from gateway.store.participants import get_participant
from indexer.api.app import create_app
from indexer.api.deps import get_today
from indexer.queries.check import check as check_query
from indexer.queries.check import for_caller, parse_code
from indexer.service import IndexerService
from indexer.store.models import AnchorRow
from medledger.errors import ValidationError
from provenance.journey import FINISHED_LOT, MANUFACTURER, PHARMACY, Journey
from tests.support.network import Network, start_network

GTIN = "04700123123452"
RECALLED_LOT = "B2026-118"
RECALLED_PACKS = [f"urn:epc:id:sgtin:4700123.012345.R{n:08d}" for n in range(1, 4)]
RECALL_REASON = 7
TODAY = date(2027, 3, 1)
PROBLEM = "application/problem+json"


@dataclass
class Checker:
    network: Network
    journey: Journey
    indexed: IndexerService
    http: TestClient

    def query(self, code: str, today: date = TODAY) -> dict[str, Any]:
        with self.indexed.sessions() as session:
            return check_query(session, code, today=today)

    def get(self, code: str) -> dict[str, Any]:
        response = self.http.get("/check", params={"code": code})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def forms(serial: str, lot: str = FINISHED_LOT, expiry: str = "281031") -> dict[str, str]:
    """The same pack in every input form a scanner or a phone gives."""
    return {
        "datamatrix": f"]d201{GTIN}21{serial}\x1d10{lot}\x1d17{expiry}",
        "datamatrix-no-symbology": f"01{GTIN}17{expiry}10{lot}\x1d21{serial}\r\n",
        "brackets": f"(01){GTIN}(21){serial}(10){lot}(17){expiry}",
        "digital-link": f"https://qr.example.kg/01/{GTIN}/21/{serial}?17={expiry}&10={lot}",
        "digital-link-bare": f"https://id.gs1.org/01/{GTIN}/21/{serial}",
        "epc-urn": f"urn:epc:id:sgtin:4700123.012345.{serial}",
    }


FORM_KINDS = {
    "datamatrix": "element-string",
    "datamatrix-no-symbology": "element-string",
    "brackets": "element-string",
    "digital-link": "digital-link",
    "digital-link-bare": "digital-link",
    "epc-urn": "epc-urn",
}


def _release_and_recall(network: Network) -> None:
    """The manufacturer commissions a second lot of three packs, registers (releases) both lots;
    the regulator recalls the second."""
    network.capture(
        MANUFACTURER,
        [
            {
                "type": "ObjectEvent",
                "eventTime": "2026-11-05T08:00:00Z",
                "eventTimeZoneOffset": "+00:00",
                "action": "ADD",
                "bizStep": "commissioning",
                "disposition": "active",
                "epcList": RECALLED_PACKS,
                "readPoint": {"id": MANUFACTURER.sgln},
                "bizLocation": {"id": MANUFACTURER.sgln},
                "ilmd": {
                    "cbvmda:lotNumber": RECALLED_LOT,
                    "cbvmda:itemExpirationDate": "2029-01-31",
                },
            }
        ],
    )
    network.anchor()
    gateway = network.gateway
    maker = network.addresses[MANUFACTURER.name]
    with gateway.sessions() as session:
        record = get_participant(session, maker)
    assert record is not None
    account = gateway.keys.account(maker, record.keystore_path)
    gateway.ledger.register_batch(account, int(GTIN), FINISHED_LOT, 1000)
    gateway.ledger.register_batch(account, int(GTIN), RECALLED_LOT, 3)
    gateway.ledger.recall(gateway.regulator, int(GTIN), RECALLED_LOT, RECALL_REASON)


@pytest.fixture(scope="module")
def checker(module_index_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Checker]:
    tmp = tmp_path_factory.mktemp("check")
    network = start_network(tmp / "gateway")
    try:
        journey = network.run_journey()
        _release_and_recall(network)
        yield from _serve(network, journey, module_index_url, tmp)
    finally:
        network.gateway.stop()


def _serve(network: Network, journey: Journey, url: str, tmp: Path) -> Iterator[Checker]:
    service = network.indexer(url, tmp / "indexer")
    try:
        service.catch_up()
        app = create_app(service, follow=False)
        app.dependency_overrides[get_today] = lambda: TODAY
        with TestClient(app) as http:  # no key: the check is public
            yield Checker(network, journey, service, http)
    finally:
        service.stop()


def serial_of(epc: str) -> str:
    return epc.rsplit(".", 1)[1]


@pytest.mark.parametrize("form", list(forms("S00000001")))
def test_every_form_of_the_dispensed_pack_is_dispensed(checker: Checker, form: str) -> None:
    code = forms(serial_of(checker.journey.dispensed_pack))[form]
    full, public = checker.query(code), checker.get(code)
    assert public == for_caller(full, full=False)  # the HTTP answer without a key
    body = full
    assert body["verdict"] == "dispensed" and body["known"] is True
    assert body["identifier"] == f"https://id.gs1.org/01/{GTIN}/21/S00000001"
    assert (body["gtin"], body["lot"], body["expiry"]) == (GTIN, FINISHED_LOT, "2028-10-31")
    assert body["expirySource"] == "index" and body["expired"] is False
    assert body["released"] is True and body["recalled"] is False
    assert body["mismatches"] == []
    dispensed = body["dispensed"]
    assert dispensed["kind"] == "pharmacy" and dispensed["gln"] == PHARMACY.gln
    assert dispensed["at"] == body["since"]
    assert body["status"] == "dispensed"
    assert body["holder"]["gln"] == PHARMACY.gln and body["holder"]["roles"] == ["pharmacy"]
    last = body["lastEvent"]
    assert last["bizStep"] == "dispensing" and last["eventID"].startswith("ni:///sha-256;")
    assert last["anchor"]["root"].startswith("0x") and last["anchor"]["blockNumber"] > 0
    assert [w["code"] for w in body["warnings"]] == ["dispensed"]
    assert checker.query(code)["code"]["form"] == FORM_KINDS[form]


def test_the_post_form_keeps_control_characters(checker: Checker) -> None:
    code = forms("S00000001")["datamatrix"]
    response = checker.http.post("/check", json={"code": code})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["verdict"] == "dispensed" and body["code"]["lot"] == FINISHED_LOT


def test_an_active_pack_is_ok_and_its_anchor_is_the_last_event(checker: Checker) -> None:
    pack = checker.journey.packs[1]
    body = checker.get(forms(serial_of(pack))["datamatrix"])
    assert body["verdict"] == "ok" and body["warnings"] == [] and body["dispensed"] is None
    assert body["status"] == "active" and body["holder"]["roles"] == ["pharmacy"]
    assert body["released"] is True and body["recall"]["manufacturer"] is not None
    anchors = {a.root.hex(): a for a in _anchors(checker)}
    anchored = anchors[body["lastEvent"]["anchor"]["root"][2:]]
    assert anchored.tx_hash == body["lastEvent"]["anchor"]["txHash"]
    assert body["lastEvent"]["bizStep"] == "receiving"


def test_without_a_key_the_answer_names_no_participant_and_no_site(checker: Checker) -> None:
    """Issue 14, finding 10: serials can be enumerated, so an anonymous check tells the verdict
    and what a patient or pharmacy acts on, not who holds the pack where; a reader key gets
    everything."""
    code = forms(serial_of(checker.journey.dispensed_pack))["brackets"]
    public = checker.get(code)
    assert public["detail"] == "public" and public["verdict"] == "dispensed"
    assert public["holder"] == {
        "address": None,
        "name": None,
        "gln": None,
        "roles": ["pharmacy"],
        "active": True,
        "registered": True,
    }
    assert public["location"] is None and public["inTransitTo"] is None
    assert public["dispensed"]["kind"] == "pharmacy" and public["dispensed"]["gln"] is None
    assert public["dispensed"]["by"] is None and public["lastEvent"]["submitter"] is None
    assert public["dispensed"]["name"] is None
    assert public["lastEvent"]["anchor"]["txHash"].startswith("0x")
    assert PHARMACY.gln not in json.dumps(public)
    with checker.indexed.sessions() as session:
        token = checker.indexed.api_keys.issue(session, "inspector", "auditor")
    response = checker.http.get(
        "/check", params={"code": code}, headers={"Authorization": f"Bearer {token}"}
    )
    full = response.json()
    assert full["detail"] == "full" and full["holder"]["gln"] == PHARMACY.gln
    assert full["location"] is not None and full["lastEvent"]["submitter"] is not None


def _anchors(checker: Checker) -> list[AnchorRow]:
    with checker.indexed.sessions() as session:
        return list(session.scalars(select(AnchorRow)))


def test_a_pack_of_a_recalled_lot_is_recalled(checker: Checker) -> None:
    code = forms(serial_of(RECALLED_PACKS[0]), RECALLED_LOT, "290131")["digital-link"]
    body = checker.get(code)
    assert body["verdict"] == "recalled" and body["recalled"] is True
    assert body["recall"]["reasonCode"] == RECALL_REASON and body["released"] is True
    assert body["recall"]["reason"] == "out of specification"  # the code's text beside it
    assert (body["lot"], body["expiry"]) == (RECALLED_LOT, "2029-01-31")
    assert [w["code"] for w in body["warnings"]] == ["recalled"]
    assert body["warnings"][0]["message"].endswith("recalled: out of specification (code 7)")


def test_expiry_is_judged_against_the_injected_date(checker: Checker) -> None:
    code = forms(serial_of(checker.journey.packs[1]))["epc-urn"]
    assert checker.query(code, today=date(2028, 10, 31))["verdict"] == "ok"  # last day of use
    body = checker.query(code, today=date(2028, 11, 1))
    assert body["verdict"] == "expired" and body["expired"] is True
    assert body["today"] == "2028-11-01" and body["expiry"] == "2028-10-31"
    # recalled outranks expired; the warnings list both
    recalled = checker.query(RECALLED_PACKS[1], today=date(2030, 1, 1))
    assert recalled["verdict"] == "recalled"
    assert [w["code"] for w in recalled["warnings"]] == ["recalled", "expired"]


@pytest.mark.parametrize(
    ("lot", "expiry", "fields"),
    [("B2026-999", "281031", ["lot"]), (FINISHED_LOT, "300101", ["expiry"])],
)
def test_a_label_that_differs_from_the_index_is_suspect(
    checker: Checker, lot: str, expiry: str, fields: list[str]
) -> None:
    body = checker.get(forms(serial_of(checker.journey.packs[2]), lot, expiry)["brackets"])
    assert body["verdict"] == "suspect"
    assert [m["field"] for m in body["mismatches"]] == fields
    assert body["warnings"][0]["code"] == "mismatch"
    assert body["lot"] == FINISHED_LOT  # the index's lot, not the label's


def test_a_well_formed_unknown_code_is_unknown_not_404(checker: Checker) -> None:
    for code in forms("NEVER-SEEN", "L1", "290101").values():
        body = checker.get(code)
        assert body["verdict"] == "unknown" and body["known"] is False
        assert body["holder"] is None and body["lastEvent"] is None
        assert body["gtin"] == GTIN
    body = checker.get(forms("NEVER-SEEN", "L1", "290101")["brackets"])
    assert body["expirySource"] == "code" and body["expired"] is False


@pytest.mark.parametrize(
    ("code", "rule", "says"),
    [
        ("(01)04700123123453(21)S00000001", "gs1.checkDigit", "check digit"),
        ("https://qr.example.kg/01/04700123123453/21/S1", "gs1.checkDigit", "check digit"),
        ("(21)S00000001(10)B2026-117", "check.gtin", "no GTIN"),
        (f"(01){GTIN}(10)B2026-117", "check.serial", "no serial"),
        (GTIN[1:], "check.serial", "linear barcode"),
        ("urn:epc:class:lgtin:4700123.012345.B2026-117", "check.serial", "not a pack"),
        ("hello world", "check.code", "GS1 code"),
        (f"(01){GTIN}(21)S1(17)281340", "check.code", "(17)"),
        ("   ", "check.code", "empty"),
    ],
)
def test_a_malformed_code_is_a_422_naming_what_is_wrong(
    checker: Checker, code: str, rule: str, says: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        parse_code(code)
    assert raised.value.rule == rule and says in str(raised.value)
    for response in (
        checker.http.get("/check", params={"code": code}),
        checker.http.post("/check", json={"code": code}),
    ):
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith(PROBLEM)
        body = response.json()
        assert body["rule"] == rule and body["pointer"] == "code" and says in body["detail"]


def test_missing_or_empty_code_is_422_problem_json(checker: Checker) -> None:
    for response in (
        checker.http.get("/check"),
        checker.http.get("/check", params={"code": ""}),
        checker.http.post("/check", json={}),
        checker.http.post("/check", json={"code": "x" * 3000}),
    ):
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith(PROBLEM)


def test_the_check_is_in_the_openapi_document(checker: Checker) -> None:
    spec = checker.http.get("/openapi.json").json()
    assert {"get", "post"} <= set(spec["paths"]["/check"])
    assert "Check" in spec["components"]["schemas"]
    for operation in spec["paths"]["/check"].values():  # a key is optional (the fuzz run)
        assert {} in operation["security"] and {"HTTPBearer": []} in operation["security"]
