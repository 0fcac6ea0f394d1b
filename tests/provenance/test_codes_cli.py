"""``provenance codes``: declare, issue, write the images; exit codes 0, 1 refused, 2 unusable."""

from __future__ import annotations

import csv
from pathlib import Path
from xml.etree import ElementTree

from typer.testing import CliRunner

from medledger.epcis.gs1 import check_digit
from provenance.cli import app
from provenance.codes_command import run_codes
from provenance.exits import EXIT_OK, EXIT_REFUSED, EXIT_UNUSABLE
from provenance.journey import DISTRIBUTOR, MANUFACTURER
from tests.support.network import Network

GTIN = "0470012388888" + str(check_digit("0470012388888"))
LOT = "L-77"


def key_file(tmp_path: Path, headers: dict[str, str], name: str = "key") -> Path:
    path = tmp_path / name
    path.write_text(headers["Authorization"].removeprefix("Bearer ") + "\n")
    return path


def test_declare_issue_and_write_png_files(network: Network, tmp_path: Path) -> None:
    key = key_file(tmp_path, network.keys[MANUFACTURER.name])
    out = tmp_path / "out"
    said: list[str] = []
    code = run_codes(
        GTIN,
        LOT,
        count=6,
        declare=10,
        expiry="2029-03-31",
        out=out,
        key_file=key,
        client=network.http,
        echo=said.append,
    )
    assert code == EXIT_OK, said
    assert said[0].startswith(f"declared lot {LOT} of GTIN {GTIN}: 10 packs")
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == 6
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 100
    with (out / "codes.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["serial"] + ".png" for r in rows) == [p.name for p in pngs]
    assert all(r["uri"].endswith(f"?10={LOT}&17=290331") for r in rows)
    ElementTree.parse(out / "sheet.svg")

    # 4 more as SVG, then the lot is full: refused, nothing written
    code = run_codes(
        GTIN, LOT, count=4, image_format="svg", out=out, key_file=key, client=network.http,
        echo=said.append,
    )  # fmt: skip
    assert code == EXIT_OK, said
    assert len(list(out.glob("*.svg"))) == 5  # 4 codes and the sheet
    code = run_codes(
        GTIN, LOT, count=1, out=out, key_file=key, client=network.http, echo=said.append
    )
    assert code == EXIT_REFUSED and "409" in said[-1]
    assert len(list(out.glob("*.png"))) == 6


def test_refused_and_unusable(network: Network, tmp_path: Path) -> None:
    said: list[str] = []
    out = tmp_path / "out"
    maker = key_file(tmp_path, network.keys[MANUFACTURER.name])
    code = run_codes(
        GTIN, LOT, count=1, out=out, key_file=maker, client=network.http, echo=said.append
    )
    assert code == EXIT_REFUSED and "404" in said[-1]  # not declared
    other = key_file(tmp_path, network.keys[DISTRIBUTOR.name], "other")
    code = run_codes(
        GTIN, LOT, count=1, declare=5, expiry="2029-03-31", out=out, key_file=other,
        client=network.http, echo=said.append,
    )  # fmt: skip
    assert code == EXIT_REFUSED and "403" in said[-1]
    bad_gtin = GTIN[:13] + str((int(GTIN[13]) + 1) % 10)
    code = run_codes(bad_gtin, LOT, count=1, out=out, key_file=maker, echo=said.append)
    assert code == EXIT_UNUSABLE
    code = run_codes(GTIN, LOT, count=1, declare=5, out=out, key_file=maker, echo=said.append)
    assert code == EXIT_UNUSABLE and "--expiry" in said[-1]
    code = run_codes(
        GTIN, LOT, count=1, out=out, key_file=maker, gateway_url="http://127.0.0.1:9",
        echo=said.append,
    )  # fmt: skip
    assert code == EXIT_UNUSABLE


def test_the_command_is_registered() -> None:
    result = CliRunner().invoke(app, ["codes", "--help"])
    assert result.exit_code == 0
    assert "--count" in result.output and "--declare" in result.output
