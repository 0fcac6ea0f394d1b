"""Exchange: `provenance export` writes the EPCIS document of a pack, case, lot or batch from
network 1's indexer, with its receipts beside it; another network's gateway captures the
document and gets the same event hashes, and the receipts still verify against network 1's
chain. On SQLite and PostgreSQL (both gateways and the index)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from rich.console import Console
from typer.testing import CliRunner

from chain.verification import verify_receipt
from devkit.postgres import fresh_database
from indexer.api.app import create_app as create_indexer_app
from indexer.service import IndexerService
from medledger.epcis import xml_read, xsd
from medledger.epcis.event_id import event_id_of
from medledger.epcis.schema import validate_document
from medledger.formats.receipt import Receipt
from medledger.formats.receipt_bundle import parse_receipt_bundle
from medledger.masterdata.documents import records_from_document
from medledger.masterdata.record import masterdata_id
from medledger.masterdata.xml import records_from_xml
from provenance.cli import app
from provenance.export import receipts_path, run_export
from provenance.journey import (
    API_MAKER,
    FINISHED_LOT,
    IMPORTER,
    MANUFACTURER,
    PHARMACY,
    Journey,
    build_journey,
)
from provenance.verify import default_event_hasher
from tests.indexer.conftest import INDEX_BACKENDS, index_database
from tests.indexer.test_masterdata import GTIN_CLASS, SITES, declare, element, site
from tests.support.network import Network, start_network

runner = CliRunner()
GTIN = "04700123123452"
CONTENT_TYPES = {"jsonld": "application/ld+json", "xml": "application/xml", "xml-1.2": "text/xml"}
PRODUCT = {
    "type": "urn:epcglobal:epcis:vtype:EPCClass",
    "vocabularyElementList": [
        element(
            GTIN_CLASS,
            {
                "urn:epcglobal:cbv:mda#regulatedProductName": "Paracetamol 500 mg",
                "urn:epcglobal:cbv:mda#dosageFormType": "TABLET",
                "https://ns.medicine-provenance-ledger.org/epcis/mda#atcCode": "N02BE01",
            },
        )
    ],
}


@dataclass
class Exchange:
    first: Network
    journey: Journey
    indexer: IndexerService
    http: TestClient
    key_file: Path
    second: Network  # another network: its own store, chain and contracts; `epcis` rule set

    def export(self, identifier: str, out: Path, fmt: str = "jsonld") -> tuple[int, str]:
        console = Console(record=True, width=300)
        code = run_export(
            identifier,
            fmt=fmt,
            indexer_url="http://indexer.invalid",
            key_file=self.key_file,
            out=out,
            console=console,
            client=self.http,
        )
        return code, console.export_text()


def _gateway_url(backend: str, directory: Path, stack: ExitStack) -> str | None:
    if backend == "sqlite":
        return None
    return stack.enter_context(fresh_database(prefix="gateway_test"))


@pytest.fixture(scope="module", params=INDEX_BACKENDS)
def exchange(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Exchange]:
    directory = tmp_path_factory.mktemp("exchange")
    with ExitStack() as stack:
        index_url = stack.enter_context(index_database(request.param, directory))
        first = start_network(
            directory / "first", database_url=_gateway_url(request.param, directory, stack)
        )
        stack.callback(first.gateway.stop)
        journey = build_journey(20, packs_per_case=10)
        for step in journey.steps:
            first.capture(step.actor, step.events)
            first.anchor()
        for actor in SITES:  # each holder's site, and the manufacturer's product
            declare(first, actor, [site(actor)])
        declare(first, MANUFACTURER, [PRODUCT])
        first.anchor()
        indexer = first.indexer(index_url, directory / "indexer")
        stack.callback(indexer.stop)
        indexer.catch_up()
        second = start_network(
            directory / "second",
            database_url=_gateway_url(request.param, directory, stack),
            rule_set="epcis",
        )
        stack.callback(second.gateway.stop)
        http = stack.enter_context(TestClient(create_indexer_app(indexer, follow=False)))
        key_file = indexer.settings.resolved_bootstrap_api_key_file
        yield Exchange(first, journey, indexer, http, key_file, second)


def bundle_of(out: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(receipts_path(out).read_text())
    return document


def exported_ids(out: Path) -> list[str]:
    receipts = parse_receipt_bundle(bundle_of(out)).receipts
    return [event_id_of(r.event_hash) for r in receipts]


def import_master_data(network: Network, out: Path, fmt: str) -> dict[str, Any]:
    """The document's master data imported by ``network``'s regulator (`provenance masterdata
    import`): another network's GLNs and GTINs are no participant's to declare there."""
    response = network.http.post(
        "/masterdata",
        content=out.read_bytes(),
        headers=network.regulator | {"Content-Type": CONTENT_TYPES[fmt]},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def capture_elsewhere(exchange: Exchange, out: Path, fmt: str) -> list[str]:
    """The document captured into the second network by its importer, once its regulator has
    imported the master data: the ids it answers."""
    import_master_data(exchange.second, out, fmt)
    response = exchange.second.http.post(
        "/capture",
        content=out.read_bytes(),
        headers=exchange.second.keys[IMPORTER.name] | {"Content-Type": CONTENT_TYPES[fmt]},
    )
    assert response.status_code == 202, response.text
    ids: list[str] = response.json()["eventIDs"]
    return ids


# --- the round trip ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["jsonld", "xml", "xml-1.2"])
def test_a_pack_exported_and_captured_elsewhere_keeps_every_event_hash(
    exchange: Exchange, fmt: str, tmp_path: Path
) -> None:
    out = tmp_path / f"pack.{fmt}"
    code, text = exchange.export(exchange.journey.dispensed_pack, out, fmt)
    assert code == 0, text
    ids = exported_ids(out)
    # the dispensed pack's chain: its transformation (which commissioned it), the packing, the
    # shipments and receipts of its case, the dispensing, and upstream the API lot's
    # commissioning and shipment to the manufacturer
    assert len(ids) == 10
    assert capture_elsewhere(exchange, out, fmt) == ids


@pytest.mark.parametrize("fmt", ["jsonld", "xml", "xml-1.2"])
def test_the_receipts_verify_against_the_first_networks_chain_only(
    exchange: Exchange, fmt: str, tmp_path: Path
) -> None:
    out = tmp_path / f"pack.{fmt}"
    assert exchange.export(exchange.journey.dispensed_pack, out, fmt)[0] == 0
    hasher = default_event_hasher()
    for receipt in parse_receipt_bundle(bundle_of(out)).receipts:
        assert verify_receipt(receipt, chain=exchange.first.chain, event_hasher=hasher).valid
        elsewhere = verify_receipt(receipt, chain=exchange.second.chain, event_hasher=hasher)
        assert not elsewhere.valid  # the second network never anchored that root
    result = runner.invoke(app, ["verify", str(receipts_path(out))])
    assert result.exit_code == 0, result.output
    # the document beside the bundle: re-hashed from itself, each event proven by a receipt
    assert "each of its 10 events proven" in result.output.replace("\n", "")


def test_the_second_network_anchors_the_same_events_under_its_own_root(
    exchange: Exchange, tmp_path: Path
) -> None:
    out = tmp_path / "lot.jsonld"
    assert exchange.export(f"{GTIN} {FINISHED_LOT}", out)[0] == 0
    ids = capture_elsewhere(exchange, out, "jsonld")
    exchange.second.anchor()
    first = {r.event_hash: r for r in parse_receipt_bundle(bundle_of(out)).receipts}
    for event_id in ids:
        response = exchange.second.http.get(
            f"/events/{quote(event_id, safe='')}/receipt", headers=exchange.second.regulator
        )
        assert response.status_code == 200, response.text
        theirs = Receipt.from_json(response.json())
        ours = first[theirs.event_hash]
        assert theirs.root != ours.root  # its own batch, its own salts
        assert verify_receipt(theirs, chain=exchange.second.chain).valid


def test_the_pharma_rule_set_refuses_foreign_history(exchange: Exchange, tmp_path: Path) -> None:
    """Under `pharma` the importer may only record what it holds, at its own sites: the first
    network's commissioning by another maker is refused, so a receiving gateway takes exports
    on an `epcis` participant. Before that, the header's master data names another network's
    sites and products, which no participant may declare: its regulator imports them first."""
    out = tmp_path / "pack.jsonld"
    assert exchange.export(exchange.journey.dispensed_pack, out)[0] == 0
    third = start_network(tmp_path / "third", rule_set="pharma")
    headers = third.keys[IMPORTER.name] | {"Content-Type": "application/ld+json"}
    try:
        refused = third.http.post("/capture", content=out.read_bytes(), headers=headers)
        import_master_data(third, out, "jsonld")
        response = third.http.post("/capture", content=out.read_bytes(), headers=headers)
    finally:
        third.gateway.stop()
    assert refused.status_code == 400, refused.text
    assert refused.json()["rule"] == "masterdata.not-yours", refused.text
    assert response.status_code == 400, response.text  # the capture binding's refusal
    assert response.json()["rule"] == "location.not-own", response.text


def first_records(exchange: Exchange) -> dict[str, str]:
    """``{record id: element id}`` of the first network's index: every site of the journey's
    holders and the product (the versions true now)."""
    from sqlalchemy import select

    from indexer.store.models import MasterDataRow

    with exchange.indexer.sessions() as session:
        rows = session.execute(select(MasterDataRow.record_hash, MasterDataRow.element_id)).all()
    return {masterdata_id(h): e for h, e in rows}


@pytest.mark.parametrize("fmt", ["jsonld", "xml", "xml-1.2"])
def test_master_data_travels_in_the_header_and_is_captured_as_master_data_elsewhere(
    exchange: Exchange, fmt: str, tmp_path: Path
) -> None:
    out = tmp_path / f"lot.{fmt}"
    code, text = exchange.export(f"{GTIN} {FINISHED_LOT}", out, fmt)
    assert code == 0, text
    assert "5 master data elements" in text
    expected = first_records(exchange)
    assert len(expected) == 5  # four holders' sites (the API maker declared none), the product
    now = datetime.now(UTC)
    if fmt == "jsonld":
        document = json.loads(out.read_text())
        records = records_from_document(document, received=now)
        assert {
            v["type"] for v in document["epcisHeader"]["epcisMasterData"]["vocabularyList"]
        } == {
            "urn:epcglobal:epcis:vtype:BusinessLocation",
            "urn:epcglobal:epcis:vtype:EPCClass",
        }
    else:
        root = xml_read.parse(out.read_bytes())
        assert root.find("EPCISHeader/extension/EPCISMasterData/VocabularyList") is not None
        records = records_from_xml(out.read_bytes(), received=now)
    # the same records, to the digest: each keeps its effective time
    assert {r.id for r in records} == set(expected)
    imported = import_master_data(exchange.second, out, fmt)
    assert set(imported["masterdataIDs"]) == set(expected)
    response = exchange.second.http.post(
        "/capture",
        content=out.read_bytes(),
        headers=exchange.second.keys[IMPORTER.name] | {"Content-Type": CONTENT_TYPES[fmt]},
    )
    assert response.status_code == 202, response.text
    captured = response.json()
    assert set(captured["masterdataIDs"]) == set(expected)
    assert captured["masterdataStored"] == 0  # the regulator's records, repeated
    assert captured["eventIDs"] == exported_ids(out)
    for record_id in expected:
        found = exchange.second.http.get(
            f"/masterdata/{quote(record_id, safe='')}", headers=exchange.second.regulator
        )
        assert found.status_code == 200, found.text


# --- what is exported ---------------------------------------------------------------------------


def test_every_form_of_a_lot_exports_the_same_events(exchange: Exchange, tmp_path: Path) -> None:
    forms = [
        f"{GTIN} {FINISHED_LOT}",
        f"(01){GTIN}(10){FINISHED_LOT}",
        f"urn:epc:class:lgtin:4700123.012345.{FINISHED_LOT}",
        f"https://id.gs1.org/01/{GTIN}/10/{FINISHED_LOT}",
    ]
    found = []
    for at, form in enumerate(forms):
        out = tmp_path / f"lot{at}.jsonld"
        code, text = exchange.export(form, out)
        assert code == 0, text
        found.append(exported_ids(out))
        assert bundle_of(out)["subject"] == {
            "identifier": f"https://id.gs1.org/01/{GTIN}/10/{FINISHED_LOT}",
            "kind": "lot",
        }
    assert all(f == found[0] for f in found)
    # every pack of the lot is in the export: the lot holds more than one pack's chain
    pack = tmp_path / "pack.jsonld"
    assert exchange.export(exchange.journey.dispensed_pack, pack)[0] == 0
    assert set(exported_ids(pack)) < set(found[0])


def test_a_case_and_a_batch_root_export(exchange: Exchange, tmp_path: Path) -> None:
    with exchange.indexer.sessions() as session:
        from sqlalchemy import select

        from indexer.store.models import AnchorRow, ItemVersionRow

        case = session.scalars(
            select(ItemVersionRow.parent).where(ItemVersionRow.parent.is_not(None)).limit(1)
        ).one()
        anchor = session.scalars(select(AnchorRow).order_by(AnchorRow.block_number)).first()
        assert anchor is not None and case is not None
    out = tmp_path / "case.xml"
    code, text = exchange.export(case, out, "xml")
    assert code == 0, text
    assert bundle_of(out)["subject"]["kind"] == "logistic-unit"
    out = tmp_path / "batch.jsonld"
    code, text = exchange.export(f"0x{anchor.root.hex()}", out)
    assert code == 0, text
    assert bundle_of(out)["subject"]["kind"] == "batch"
    assert len(exported_ids(out)) == anchor.event_count


@pytest.mark.parametrize("fmt", ["jsonld", "xml", "xml-1.2"])
def test_the_document_is_valid_under_gs1s_schema(
    exchange: Exchange, fmt: str, tmp_path: Path
) -> None:
    out = tmp_path / f"lot.{fmt}"
    assert exchange.export(f"{GTIN} {FINISHED_LOT}", out, fmt)[0] == 0
    if fmt == "jsonld":
        document = json.loads(out.read_text())
        validate_document(document)
        assert document["type"] == "EPCISDocument"
        assert all("recordTime" not in e for e in document["epcisBody"]["eventList"])
    else:
        xsd.validate(xml_read.parse(out.read_bytes()), "1.2" if fmt == "xml-1.2" else "2.0")
    described = bundle_of(out)["document"]
    assert described["format"] == fmt and described["file"] == out.name
    import hashlib

    assert described["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()


def test_the_indexer_serves_the_export_as_xml_too(exchange: Exchange) -> None:
    key = exchange.key_file.read_text().strip()
    response = exchange.http.get(
        f"/exports/{GTIN}%20{FINISHED_LOT}",
        headers={"Authorization": f"Bearer {key}", "Accept": "application/xml"},
    )
    assert response.status_code == 200, response.text
    xsd.validate(xml_read.parse(response.content), "2.0")
    assert response.headers["Export-Kind"] == "lot"
    assert "receipt" in response.headers["Link-Template"]


# --- refusals -----------------------------------------------------------------------------------


def test_an_unknown_pack_is_exit_code_1_and_writes_nothing(
    exchange: Exchange, tmp_path: Path
) -> None:
    out = tmp_path / "none.jsonld"
    code, text = exchange.export("urn:epc:id:sgtin:4700123.012345.NOSUCHPACK", out)
    assert code == 1
    assert "unknown" in text and "not in the index" in text
    assert not out.exists() and not receipts_path(out).exists()


def test_an_unknown_batch_root_is_exit_code_1(exchange: Exchange, tmp_path: Path) -> None:
    code, text = exchange.export("0x" + "ab" * 32, tmp_path / "none.jsonld")
    assert code == 1 and "no batch" in text


def test_a_malformed_id_is_unusable(exchange: Exchange, tmp_path: Path) -> None:
    code, text = exchange.export("not a gs1 key", tmp_path / "bad.jsonld")
    assert code == 2 and "unusable" in text and "422" in text


def test_a_bad_format_is_unusable(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("k")
    result = runner.invoke(
        app,
        ["export", "x", "--format", "pdf", "--key-file", str(key), "--out", str(tmp_path / "o")],
    )
    assert result.exit_code == 2
    assert "--format must be one of jsonld, xml, xml-1.2, got 'pdf'" in result.output


def test_an_unreachable_indexer_is_unusable(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("k")
    result = runner.invoke(
        app,
        [
            "export", "x", "--indexer", "http://127.0.0.1:9", "--key-file", str(key),
            "--out", str(tmp_path / "o.jsonld"),
        ],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "the indexer does not answer" in result.output


def test_a_refused_key_is_unusable(exchange: Exchange, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.api-key"
    wrong.write_text("not-a-key")
    console = Console(record=True, width=300)
    code = run_export(
        exchange.journey.dispensed_pack,
        fmt="jsonld",
        indexer_url="http://indexer.invalid",
        key_file=wrong,
        out=tmp_path / "o.jsonld",
        console=console,
        client=exchange.http,
    )
    assert code == 2 and "401" in console.export_text()


def test_verify_finds_a_tampered_event_in_the_bundle(exchange: Exchange, tmp_path: Path) -> None:
    out = tmp_path / "pack.jsonld"
    assert exchange.export(exchange.journey.dispensed_pack, out)[0] == 0
    bundle = bundle_of(out)
    bundle["receipts"][1]["event"]["eventTime"] = "2020-01-01T00:00:00Z"
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(bundle))
    result = runner.invoke(app, ["verify", str(tampered)])
    assert result.exit_code == 1
    assert f"INVALID {tampered}#1" in result.output.replace("\n", "")


def test_verify_calls_a_malformed_bundle_unusable(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"type": "receipt-bundle", "version": 1, "receipts": []}))
    result = runner.invoke(app, ["verify", str(bad)])
    assert result.exit_code == 2
    assert "bad.json" in result.output and "subject" in result.output


DECLARATION = {
    "declarationTime": "2026-01-02T00:00:00Z",
    "reason": "incorrect_data",
    "correctiveEventIDs": ["urn:uuid:7f1f3b4e-0000-4000-8000-000000000001"],
}


def test_an_event_declared_erroneous_travels_with_its_declaration(tmp_path: Path) -> None:
    """The declaration rides on its event (not hashed): the other network stores the event with
    the same id and the declaration as its capturing participant's."""
    first = start_network(tmp_path / "first")
    second = start_network(tmp_path / "second", rule_set="epcis")
    try:
        journey = build_journey(2, packs_per_case=2)
        for step in journey.steps:
            first.capture(step.actor, step.events)
            first.anchor()
        dispensing = journey.steps[-1]
        declared = first.capture(
            dispensing.actor, [{**dispensing.events[-1], "errorDeclaration": DECLARATION}]
        )
        assert declared["declarationsStored"] == 1
        first.anchor()
        indexer = first.indexer(f"sqlite:///{tmp_path}/indexer.db", tmp_path / "indexer")
        try:
            indexer.catch_up()
            with TestClient(create_indexer_app(indexer, follow=False)) as http:
                exchange = Exchange(
                    first, journey, indexer, http,
                    indexer.settings.resolved_bootstrap_api_key_file, second,
                )  # fmt: skip
                for fmt in ("jsonld", "xml", "xml-1.2"):
                    out = tmp_path / f"pack.{fmt}"
                    code, text = exchange.export(journey.dispensed_pack, out, fmt)
                    assert code == 0, text
                    if fmt == "jsonld":
                        events = json.loads(out.read_text())["epcisBody"]["eventList"]
                        marked = [e for e in events if "errorDeclaration" in e]
                        assert [e["eventID"] for e in marked] == declared["eventIDs"]
                        assert marked[0]["errorDeclaration"]["reason"] == "incorrect_data"
                    response = second.http.post(
                        "/capture",
                        content=out.read_bytes(),
                        headers=second.keys[IMPORTER.name] | {"Content-Type": CONTENT_TYPES[fmt]},
                    )
                    assert response.status_code == 202, response.text
                    assert response.json()["eventIDs"] == exported_ids(out)
                    # the first capture stores the declaration; the same again is a duplicate
                    assert response.json()["declarationsStored"] == (1 if fmt == "jsonld" else 0)
        finally:
            indexer.stop()
    finally:
        first.gateway.stop()
        second.gateway.stop()


def participant_key(exchange: Exchange, actor: Any, tmp_path: Path) -> Path:
    key = exchange.key_file.read_text().strip()
    issued = exchange.http.post(
        "/keys",
        json={
            "label": f"{actor.gln} ERP",
            "role": "participant",
            "participant": exchange.first.addresses[actor.name],
        },
        headers={"Authorization": f"Bearer {key}"},
    )
    assert issued.status_code == 201, issued.text
    path = tmp_path / f"{actor.gln}.api-key"
    path.write_text(issued.json()["apiKey"])
    return path


def test_a_participant_exports_its_own_view_of_the_chain(
    exchange: Exchange, tmp_path: Path
) -> None:
    """The pharmacy hands a partner the pack it dispensed: the events of the pack it sees (its
    custody chain), not the API maker's commissioning of the API lot, which it never held; the
    manufacturer sees that one too. Each view's receipts prove exactly its events."""
    everything = tmp_path / "all.jsonld"
    assert exchange.export(exchange.journey.dispensed_pack, everything)[0] == 0
    views = {}
    for actor in (PHARMACY, MANUFACTURER):
        out = tmp_path / f"{actor.gln}.jsonld"
        console = Console(record=True, width=300)
        code = run_export(
            exchange.journey.dispensed_pack,
            fmt="jsonld",
            indexer_url="http://indexer.invalid",
            key_file=participant_key(exchange, actor, tmp_path),
            out=out,
            console=console,
            client=exchange.http,
        )
        assert code == 0, console.export_text()
        views[actor.name] = exported_ids(out)
        assert runner.invoke(app, ["verify", str(receipts_path(out))]).exit_code == 0
    full = exported_ids(everything)
    assert set(views[PHARMACY.name]) < set(views[MANUFACTURER.name]) <= set(full)
    assert (
        capture_elsewhere(exchange, tmp_path / f"{PHARMACY.gln}.jsonld", "jsonld")
        == (views[PHARMACY.name])
    )


def test_a_participant_sees_only_its_part_of_what_it_never_held(
    exchange: Exchange, tmp_path: Path
) -> None:
    """The importer never held the API lot: of the lot's record it sees only the transformation
    that made packs it held; the API maker's batch (the lot's commissioning) is unknown to its
    key (exit 1), as if the index had none."""
    key = participant_key(exchange, IMPORTER, tmp_path)

    def export(identifier: str, out: Path) -> int:
        console = Console(record=True, width=300)
        return run_export(
            identifier,
            fmt="jsonld",
            indexer_url="http://indexer.invalid",
            key_file=key,
            out=out,
            console=console,
            client=exchange.http,
        )

    out = tmp_path / "api.jsonld"
    assert export(exchange.journey.api_class, out) == 0
    events = json.loads(out.read_text())["epcisBody"]["eventList"]
    assert [e["type"] for e in events] == ["TransformationEvent"]
    with exchange.indexer.sessions() as session:
        from sqlalchemy import select

        from indexer.store.models import AnchorRow

        maker = exchange.first.addresses[API_MAKER.name]
        root = session.scalars(
            select(AnchorRow.root).where(AnchorRow.submitter == maker).limit(1)
        ).one()
    assert export(f"0x{root.hex()}", tmp_path / "maker.jsonld") == 1
    assert not (tmp_path / "maker.jsonld").exists()


def test_the_command_end_to_end_over_http_and_json_rpc(tmp_path: Path) -> None:
    """The verb as a partner runs it: the first network on a real node (anvil), its indexer
    served over HTTP; `provenance export` then `provenance verify --rpc` against that node;
    the document captured by the second network (in-process chain) with the same ids."""
    from chain.client import Chain
    from devkit.nodes import available, free_port, running_node
    from provenance.up import ServerThread

    if not available("anvil"):
        pytest.skip("anvil is not installed in node_modules (run `make deps`)")
    with running_node("anvil") as node, ExitStack() as stack:
        chain = Chain.from_url(node.url, poll_interval=0.05)
        first = start_network(tmp_path / "first", chain=chain)
        stack.callback(first.gateway.stop)
        journey = build_journey(4, packs_per_case=2)
        for step in journey.steps:
            first.capture(step.actor, step.events)
            first.anchor()
        indexer = first.indexer(f"sqlite:///{tmp_path}/indexer.db", tmp_path / "indexer")
        stack.callback(indexer.stop)
        indexer.catch_up()
        server = ServerThread(
            create_indexer_app(indexer, follow=False), "127.0.0.1", free_port(), "indexer"
        )
        server.start()
        stack.callback(server.stop)
        second = start_network(tmp_path / "second", rule_set="epcis")
        stack.callback(second.gateway.stop)
        out = tmp_path / "lot.xml"
        result = runner.invoke(
            app,
            [
                "export", f"{GTIN} {FINISHED_LOT}", "--format", "xml", "--indexer", server.url,
                "--key-file", str(indexer.settings.resolved_bootstrap_api_key_file),
                "--out", str(out),
            ],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        verified = runner.invoke(app, ["verify", str(receipts_path(out)), "--rpc", node.url])
        assert verified.exit_code == 0, verified.output
        assert "offline and on-chain" in verified.output
        response = second.http.post(
            "/capture",
            content=out.read_bytes(),
            headers=second.keys[IMPORTER.name] | {"Content-Type": "application/xml"},
        )
        assert response.status_code == 202, response.text
        assert response.json()["eventIDs"] == exported_ids(out)


@pytest.mark.parametrize("fmt", ["jsonld", "xml-1.2"])
def test_verify_finds_a_document_its_receipts_do_not_prove(
    exchange: Exchange, fmt: str, tmp_path: Path
) -> None:
    """A document edited after export (its stated SHA-256 made to match) fails: its events,
    re-hashed from the document itself, are not the ones the receipts prove."""
    out = tmp_path / f"pack.{fmt}"
    assert exchange.export(exchange.journey.dispensed_pack, out, fmt)[0] == 0
    body = out.read_bytes()
    marker = b'"eventTime": "' if fmt == "jsonld" else b"<eventTime>"
    at = body.index(marker) + len(marker) + 3  # the last digit of the first event's year
    edited = body[:at] + (b"1" if body[at : at + 1] != b"1" else b"2") + body[at + 1 :]
    out.write_bytes(edited)
    bundle = bundle_of(out)
    result = runner.invoke(app, ["verify", str(receipts_path(out))])
    assert result.exit_code == 1
    assert "SHA-256 is not the one the bundle states" in result.output.replace("\n", "")
    import hashlib

    bundle["document"]["sha256"] = hashlib.sha256(edited).hexdigest()
    receipts_path(out).write_text(json.dumps(bundle))
    result = runner.invoke(app, ["verify", str(receipts_path(out))])
    assert result.exit_code == 1
    assert "not proven: ni:///sha-256;" in result.output.replace("\n", "")


def test_an_export_beyond_the_limit_is_refused(
    exchange: Exchange, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from indexer.queries import exports

    monkeypatch.setattr(exports, "MAX_EXPORT_EVENTS", 5)
    code, text = exchange.export(f"{GTIN} {FINISHED_LOT}", tmp_path / "lot.jsonld")
    assert code == 2 and "413" in text and "at most 5" in text


def test_the_indexer_answers_only_json_ld_or_xml(exchange: Exchange) -> None:
    key = exchange.key_file.read_text().strip()
    response = exchange.http.get(
        f"/exports/{GTIN}%20{FINISHED_LOT}",
        headers={"Authorization": f"Bearer {key}", "Accept": "text/html"},
    )
    assert response.status_code == 406, response.text
