"""Docs that run: every command and JSON example in README.md and docs/*.md, checked offline.

- GS1 keys: every 13-digit (GLN), 14-digit (GTIN) and 18-digit (SSCC) number carries a right
  check digit, unless its sentence says it is wrong on purpose ("check digit").
- Commands: each `provenance ...` line of a shell block parses with the real CLI (click's own
  parser, nothing run); `[--option VALUE]` reads as the option given, `[...]` as nothing.
- JSON: each ```json block parses (`…` outside a string elides members or items), and one under
  a heading naming an endpoint (`## GET /alerts`) validates against that endpoint's answer in
  the service's OpenAPI document: members may be left out (or elided as `"…": "…"`), but none
  may be named that the answer does not have, and each has the answer's type.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import fastjsonschema
import pytest
from fastapi import APIRouter, FastAPI
from typer.core import TyperGroup
from typer.main import get_command

from gateway.api.routes import capture, lots, participants, recalls, receipts
from gateway.api.routes import operations as gateway_operations
from indexer.alert_kinds import ALERT_KINDS
from indexer.api import routes as indexer_routes
from provenance.cli import app as cli_app
from provenance.usage import ClickException

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
ENDPOINT = re.compile(r"\b(GET|POST|PUT|DELETE) (/\S*)")
KEY = re.compile(r"(?<![\d\w.:/-])(\d{13}|\d{14}|\d{18})(?![\d\w])")


@dataclass(frozen=True)
class Block:
    doc: Path
    line: int
    lang: str
    body: str
    heading: str

    @property
    def where(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"


def blocks() -> list[Block]:
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            before = text[: match.start()]
            headings = re.findall(r"^#+ (.*)$", before, re.M)
            line = before.count("\n") + 1
            found.append(Block(doc, line, match.group(1), match.group(2), (headings or [""])[-1]))
    return found


# --- GS1 check digits --------------------------------------------------------------------------


def check_digit_ok(digits: str) -> bool:
    body = digits[:-1]
    total = sum(int(c) * (3 if i % 2 == 0 else 1) for i, c in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == int(digits[-1])


def test_every_gln_gtin_and_sscc_in_the_docs_has_its_check_digit() -> None:
    wrong = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for match in KEY.finditer(text):
            sentence = text[max(0, match.start() - 200) : match.end() + 120]
            if check_digit_ok(match.group(1)) or "check digit" in sentence:
                continue
            line = text[: match.start()].count("\n") + 1
            wrong.append(f"{doc.relative_to(ROOT)}:{line}: {match.group(1)}")
    assert wrong == []


# --- commands ----------------------------------------------------------------------------------


def commands() -> list[tuple[str, list[str]]]:
    """(where, argv after `provenance`) of every provenance command in a shell block."""
    found = []
    for block in blocks():
        if block.lang not in ("", "bash", "sh", "console"):
            continue
        text = block.body.replace("\\\n", " ")
        for number, line in enumerate(text.splitlines()):
            line = line.split(" #", 1)[0].strip().removeprefix("$ ")
            line = line.replace("[...]", "")
            line = re.sub(r"\[(?=-)|(?<=\S)\](?=\s|$)", "", line)
            if "provenance " not in line:
                continue
            for part in re.split(r"\s*(?:&&|\|\||;|\|)\s*", line):
                words = shlex.split(part)
                while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):
                    words.pop(0)  # VAR=value before the command
                if words and Path(words[0]).name == "provenance":
                    found.append((f"{block.where}+{number}", words[1:]))
    return found


def parse(argv: list[str]) -> None:
    """Parse ``argv`` as the console script would, running nothing."""
    group = get_command(cli_app)
    assert isinstance(group, TyperGroup)  # the app has several commands
    name, *rest = argv
    context = group.make_context("provenance", [name])
    command = group.get_command(context, name)
    assert command is not None, f"no command {name}"
    command.make_context(name, rest, parent=context)


def test_every_provenance_command_in_the_docs_parses() -> None:
    found = commands()
    assert len(found) >= 10  # the extraction still finds them
    refused = []
    for where, argv in found:
        try:
            parse(argv)
        except ClickException as exc:
            refused.append(f"{where}: provenance {' '.join(argv)}: {exc.format_message()}")
    assert refused == []


# --- JSON examples -----------------------------------------------------------------------------


def without_elisions(text: str) -> str:
    """``…`` outside strings dropped, with the comma after it (``{…}``, ``[…, x]``)."""
    out, in_string, escaped, skip_comma = [], False, False, False
    for char in text:
        if in_string:
            out.append(char)
            escaped = char == "\\" and not escaped
            if char == '"' and not escaped:
                in_string = False
            continue
        if char == "…":
            skip_comma = True
            continue
        if skip_comma and char == ",":
            skip_comma = False
            continue
        if not char.isspace():
            skip_comma = False
        in_string = char == '"'
        out.append(char)
    return "".join(out)


def without_elided_members(document: Any) -> Any:
    """Members named ``…`` (``"…": "…"``: and so on) and items that are a ``"… text …"``
    note dropped."""
    if isinstance(document, dict):
        return {k: without_elided_members(v) for k, v in document.items() if k != "…"}
    if isinstance(document, list):
        return [
            without_elided_members(v)
            for v in document
            if not (isinstance(v, str) and v.startswith("…"))
        ]
    return document


def _routers(*modules: ModuleType) -> FastAPI:
    app = FastAPI()
    for module in modules:
        for router in vars(module).values():
            if isinstance(router, APIRouter):
                app.include_router(router)
    return app


@cache
def openapi() -> dict[str, Any]:
    """Both services' operations (paths with ``{}`` for each parameter) and components."""
    operations: dict[str, Any] = {}
    components: dict[str, Any] = {}
    for app in (
        _routers(capture, receipts, participants, recalls, gateway_operations, lots),
        _routers(indexer_routes),
    ):
        document = app.openapi()
        components |= document.get("components", {}).get("schemas", {})
        for path, methods in document["paths"].items():
            for method, operation in methods.items():
                operations[f"{method.upper()} {re.sub(r'{[^}]*}', '{}', path)}"] = operation
    return {"operations": operations, "schemas": components}


def as_example(schema: Any) -> Any:
    """An answer's schema as its doc example is held to: members may be elided (no
    ``required``), but no member may be named that the answer does not have."""
    if isinstance(schema, list):
        return [as_example(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    shaped = {k: as_example(v) for k, v in schema.items() if k != "required"}
    if "properties" in shaped and "additionalProperties" not in shaped:
        shaped["additionalProperties"] = False
    return shaped


def answer_schema(method: str, path: str) -> dict[str, Any] | None:
    spec = openapi()
    operation = spec["operations"].get(f"{method} {re.sub(r'{[^}]*}', '{}', path)}")
    if operation is None:
        return None
    for status, response in sorted(operation.get("responses", {}).items()):
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        if status.startswith("2") and schema:
            example: dict[str, Any] = as_example(
                {**schema, "components": {"schemas": spec["schemas"]}}
            )
            return example
    return None


JSON_BLOCKS = [b for b in blocks() if b.lang == "json"]


@pytest.mark.parametrize("block", JSON_BLOCKS, ids=[b.where for b in JSON_BLOCKS])
def test_every_json_example_parses_and_matches_its_endpoint(block: Block) -> None:
    document = without_elided_members(json.loads(without_elisions(block.body)))
    endpoint = ENDPOINT.search(block.heading.replace("`", ""))
    if endpoint is None:
        return
    schema = answer_schema(endpoint.group(1), endpoint.group(2))
    if schema is None or (schema.get("type") == "array") != isinstance(document, list):
        return  # no JSON answer, or a part of one that its text introduces ("`holdings` holds")
    fastjsonschema.compile(schema)(document)


def section(doc: str, heading: str) -> str:
    text = (ROOT / doc).read_text(encoding="utf-8")
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


@pytest.mark.parametrize(
    ("doc", "heading"),
    [
        ("docs/indexer.md", "GET /alerts"),
        ("docs/indexer.md", "Alert kinds"),
        ("docs/detection.md", "Alert kinds"),
    ],  # fmt: skip
)
def test_the_alert_sections_name_every_kind(doc: str, heading: str) -> None:
    text = section(doc, heading)
    assert [k for k in ALERT_KINDS if f"`{k}`" not in text] == []


def test_every_table_starts_with_a_header_and_its_rule() -> None:
    """A row cut off from its table (after a paragraph) renders as text: the README's
    configuration table did."""
    broken = []
    for doc in DOCS:
        lines = doc.read_text(encoding="utf-8").splitlines()
        in_code = False
        for number, line in enumerate(lines):
            if line.startswith("```"):
                in_code = not in_code
            if in_code or not line.startswith("|"):
                continue
            previous = lines[number - 1] if number else ""
            following = lines[number + 1] if number + 1 < len(lines) else ""
            if not previous.startswith("|") and not re.match(r"\|\s*:?-{3,}", following):
                broken.append(f"{doc.relative_to(ROOT)}:{number + 1}")
    assert broken == []
