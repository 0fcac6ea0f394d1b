"""Codes for packs without one: declare a lot, issue within its packs, commission, print."""

from __future__ import annotations

import struct
import zlib
from typing import Any
from xml.etree import ElementTree

import biip
import pytest
import segno

from gateway import code_issuance
from gateway.store.lots import CodeRecord, codes_of, commission_into_lot
from gateway.store.recalls import lot_known
from medledger.epcis.gs1 import check_digit
from medledger.epcis.identifiers import canonical_identifier
from provenance.journey import DISTRIBUTOR, IMPORTER, MANUFACTURER, PHARMACY
from tests.gateway.conftest import Gateway

PROBLEM = "application/problem+json"
GTIN_BODY = "0470012399999"
GTIN = GTIN_BODY + str(check_digit(GTIN_BODY))
LOT = "C2026/5"  # a "/" on purpose: percent-encoded in paths and in the QR's query
EXPIRY = "2028-06-30"


def declare(gateway: Gateway, packs: int = 100, actor: Any = MANUFACTURER, **extra: Any) -> Any:
    body = {"gtin": GTIN, "lot": LOT, "expiry": EXPIRY, "packs": packs, **extra}
    return gateway.http.post("/lots", json=body, headers=gateway.headers(actor))


def issue(gateway: Gateway, count: int, actor: Any = MANUFACTURER, **extra: Any) -> Any:
    body = {"gtin": GTIN, "lot": LOT, "count": count, "format": "png", **extra}
    return gateway.http.post("/codes", json=body, headers=gateway.headers(actor))


def lot_path() -> str:
    return f"/codes/{GTIN}/C2026%2F5"


def stored_codes(gateway: Gateway) -> list[CodeRecord]:
    with gateway.service.sessions() as session:
        return codes_of(session, GTIN, LOT)


def test_declare_issue_60_then_40_commissioned_and_anchored(gateway: Gateway) -> None:
    declared = declare(gateway)
    assert declared.status_code == 201, declared.text
    body = declared.json()
    assert (body["packs"], body["issued"], body["remaining"]) == (100, 0, 100)
    assert body["registerTx"].startswith("0x")
    assert body["releasedBy"] == gateway.addresses[MANUFACTURER.name]
    registrant = gateway.service.lots.registrant(GTIN, LOT)
    assert registrant == gateway.addresses[MANUFACTURER.name]  # released on-chain
    again = declare(gateway)
    assert again.status_code == 200 and again.json()["registerTx"] == body["registerTx"]
    assert declare(gateway, packs=101).status_code == 409

    first = issue(gateway, 60)
    assert first.status_code == 201, first.text
    second = issue(gateway, 40, expiry=EXPIRY)
    assert second.status_code == 201, second.text
    issued = first.json() + second.json()
    serials = [c["serial"] for c in issued]
    assert len(serials) == 100 and len(set(serials)) == 100
    for code in issued:
        serial = code["serial"]
        assert len(serial) == 12 and set(serial) <= set(code_issuance.SERIAL_ALPHABET)
        assert code["identifier"] == f"https://id.gs1.org/01/{GTIN}/21/{serial}"
        assert canonical_identifier(code["uri"]) == code["identifier"]  # check digit verified
        assert code["uri"] == f"{code['identifier']}?10=C2026%2F5&17=280630"
        parsed = biip.parse(code["uri"]).gs1_digital_link_uri
        assert parsed is not None
        ais = {e.ai.ai: e for e in parsed.element_strings}
        assert ais["01"].value == GTIN and ais["21"].value == serial
        assert ais["10"].value == LOT and str(ais["17"].date) == EXPIRY
        assert code["image"] == f"{lot_path()}/{serial}.png"

    # commissioned through the intake: the event store and the custody state have them
    event_ids = {c["eventID"] for c in issued}
    assert len(event_ids) == 2
    for event_id in event_ids:
        event = gateway.http.get(
            f"/events/{event_id[14:78]}", headers=gateway.headers(MANUFACTURER)
        )
        assert event.status_code == 200, event.text
        body = event.json()
        assert body["bizStep"] == "commissioning" and body["action"] == "ADD"
        assert body["ilmd"] == {"cbvmda:lotNumber": LOT, "cbvmda:itemExpirationDate": EXPIRY}
        assert body["readPoint"]["id"] == f"https://id.gs1.org/414/{MANUFACTURER.gln}"
    with gateway.service.sessions() as session:
        assert lot_known(session, GTIN, LOT)

    gateway.anchor_all()
    for event_id in event_ids:
        receipt = gateway.http.get(
            f"/events/{event_id[14:78]}/receipt", headers=gateway.headers(MANUFACTURER)
        )
        assert receipt.status_code == 200, receipt.text

    listed = gateway.http.get(lot_path(), headers=gateway.headers(MANUFACTURER))
    assert listed.status_code == 200
    assert [c["serial"] for c in listed.json()] == serials
    lot = gateway.http.get(f"/lots/{GTIN}/C2026%2F5", headers=gateway.regulator).json()
    assert (lot["issued"], lot["remaining"]) == (100, 0)

    # one more: 409, and nothing stored (no code, no event, no capture)
    with gateway.service.engine.connect() as conn:
        events_before = conn.exec_driver_sql("SELECT count(*) FROM events").scalar()
    more = issue(gateway, 1)
    assert more.status_code == 409 and more.headers["content-type"] == PROBLEM
    assert "100 packs declared" in more.json()["detail"]
    assert len(stored_codes(gateway)) == 100
    with gateway.service.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM events").scalar() == events_before
        assert conn.exec_driver_sql("SELECT issued FROM code_lots").scalar() == 100


def test_the_declared_packs_hold_even_past_the_service_check(gateway: Gateway) -> None:
    assert declare(gateway, packs=5).status_code == 201
    assert issue(gateway, 3).status_code == 201
    # the store itself refuses to go past the packs (the guard under every caller: /codes and
    # /capture count their packs with it)
    with gateway.service.sessions() as session:
        with pytest.raises(Exception, match="exceed its declared packs"):
            commission_into_lot(
                session,
                gtin=GTIN,
                lot=LOT,
                owner=gateway.addresses[MANUFACTURER.name],
                packs=3,
                declared=True,
            )
        session.rollback()
    assert issue(gateway, 3).status_code == 409
    assert issue(gateway, 2).status_code == 201
    assert len(stored_codes(gateway)) == 5


def test_roles_undeclared_lots_and_other_participants(gateway: Gateway) -> None:
    refused = declare(gateway, actor=DISTRIBUTOR)
    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
    importer = declare(gateway, actor=IMPORTER)
    assert importer.status_code == 403 and "registry" in importer.json()["detail"]
    assert issue(gateway, 1, actor=PHARMACY).status_code == 403

    undeclared = issue(gateway, 1)
    assert undeclared.status_code == 404 and undeclared.headers["content-type"] == PROBLEM
    assert declare(gateway, packs=10).status_code == 201
    assert issue(gateway, 1, expiry="2029-01-31").status_code == 409  # not the declared expiry
    assert issue(gateway, 0).status_code == 422
    bad = gateway.http.post(
        "/lots",
        json={"gtin": GTIN[:13] + "0", "lot": "X", "expiry": EXPIRY, "packs": 1},
        headers=gateway.headers(MANUFACTURER),
    )
    if GTIN[13] != "0":
        assert bad.status_code == 422
    # others do not see the lot's codes; the regulator does
    assert issue(gateway, 2).status_code == 201
    assert gateway.http.get(lot_path(), headers=gateway.headers(PHARMACY)).status_code == 404
    assert len(gateway.http.get(lot_path(), headers=gateway.regulator).json()) == 2
    assert len(stored_codes(gateway)) == 2


def png_modules(data: bytes, scale: int, border: int) -> list[list[bool]]:
    """The dark modules of a segno PNG (greyscale or palette, 1 bit, unfiltered rows)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    idat = b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        payload = data[pos + 8 : pos + 8 + length]
        if kind == b"IDAT":
            idat += payload
        else:
            chunks[kind] = payload
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert depth == 1 and width == height
    raw = zlib.decompress(idat)
    stride = (width + 7) // 8
    rows, previous = [], bytes(stride)
    for y in range(height):
        line = raw[y * (stride + 1) : (y + 1) * (stride + 1)]
        current = bytearray(line[1:])
        for i in range(stride):  # PNG filters with 1 byte per pixel
            left = current[i - 1] if i else 0
            up, corner = previous[i], previous[i - 1] if i else 0
            if line[0] == 1:
                current[i] = (current[i] + left) & 0xFF
            elif line[0] == 2:
                current[i] = (current[i] + up) & 0xFF
            elif line[0] == 3:
                current[i] = (current[i] + (left + up) // 2) & 0xFF
            elif line[0] == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                current[i] = (current[i] + pred) & 0xFF
        previous = bytes(current)
        rows.append([(current[x // 8] >> (7 - x % 8)) & 1 for x in range(width)])
    dark_bit = 0
    if colour == 3:  # palette: which index is black
        palette = chunks[b"PLTE"]
        dark_bit = 0 if palette[:3] == b"\x00\x00\x00" else 1
    size = width // scale - 2 * border
    return [
        [
            rows[(border + r) * scale + scale // 2][(border + c) * scale + scale // 2] == dark_bit
            for c in range(size)
        ]
        for r in range(size)
    ]


def test_qr_images_carry_the_digital_link(gateway: Gateway) -> None:
    assert declare(gateway, packs=3).status_code == 201
    codes = issue(gateway, 3).json()
    code = codes[0]
    png = gateway.http.get(code["image"] + "?scale=4", headers=gateway.headers(MANUFACTURER))
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    expected = segno.make_qr(code["uri"], error="m", boost_error=False)
    modules = png_modules(png.content, scale=4, border=4)
    assert modules == [[bool(v) for v in row] for row in expected.matrix]
    assert len(png.content) > 100

    svg = gateway.http.get(
        code["image"].replace(".png", ".svg"), headers=gateway.headers(MANUFACTURER)
    )
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert ElementTree.fromstring(svg.content).tag == "{http://www.w3.org/2000/svg}svg"

    sheet = gateway.http.get(f"{lot_path()}/sheet.svg", headers=gateway.headers(MANUFACTURER))
    assert sheet.status_code == 200
    root = ElementTree.fromstring(sheet.content)
    texts = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]
    for c in codes:
        assert f"(01){GTIN} (21){c['serial']}" in texts
    assert f"(10){LOT} (17)280630" in texts

    missing = gateway.http.get(
        f"{lot_path()}/{'Z' * 12}.png", headers=gateway.headers(MANUFACTURER)
    )
    assert missing.status_code == 404
