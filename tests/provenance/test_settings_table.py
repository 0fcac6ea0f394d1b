"""docs/configuration.md lists every settings variable, exactly as scripts/settings_table.py
generates it from the settings classes (so the table never drifts)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from gateway.settings import GatewaySettings
from indexer.settings import IndexerSettings

ROOT = Path(__file__).resolve().parents[2]


def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "settings_table", ROOT / "scripts/settings_table.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_configuration_doc_is_the_generated_table() -> None:
    generator = script()
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert generator.documented(text) == generator.table(), (
        "docs/configuration.md is out of date: run "
        "`.venv/bin/python scripts/settings_table.py --write`"
    )


def test_the_table_has_a_row_per_field_of_both_settings_classes() -> None:
    table = script().table()
    for prefix, settings in (
        ("PROVENANCE_GATEWAY_", GatewaySettings),
        ("PROVENANCE_INDEXER_", IndexerSettings),
    ):
        for name in settings.model_fields:
            assert f"| `{prefix}{name.upper()}` |" in table
    assert table.count("| `PROVENANCE_") == len(GatewaySettings.model_fields) + len(
        IndexerSettings.model_fields
    )
