from __future__ import annotations

import pytest

from medledger.epcis.resources import DEFAULT_CONTEXT_DIR, DEFAULT_SCHEMA_PATH, VENDORED_DIR
from tests.medledger.epcis.epcis_vectors import SKIP_REASON, VECTORS


@pytest.mark.skipif(not VECTORS.is_dir(), reason=SKIP_REASON)
def test_vendored_schema_equals_shared_copy() -> None:
    shared = VECTORS / "epcis" / "EPCIS-JSON-Schema.json"
    assert DEFAULT_SCHEMA_PATH.read_bytes() == shared.read_bytes()


@pytest.mark.skipif(not VECTORS.is_dir(), reason=SKIP_REASON)
def test_vendored_contexts_equal_shared_copies() -> None:
    shared = sorted((VECTORS / "epcis" / "jsonld-context").glob("*.jsonld"))
    assert [p.name for p in shared] == sorted(p.name for p in DEFAULT_CONTEXT_DIR.glob("*.jsonld"))
    for path in shared:
        assert (DEFAULT_CONTEXT_DIR / path.name).read_bytes() == path.read_bytes(), path.name


def test_gs1_notice_is_shipped_with_the_vendored_files() -> None:
    assert (VENDORED_DIR / "LICENSE.gs1-EPCIS").is_file()


@pytest.mark.skipif(not VECTORS.is_dir(), reason=SKIP_REASON)
@pytest.mark.parametrize("folder", ["xsd-2.0", "xsd-1.2", "xsl"])
def test_vendored_xml_schemas_and_stylesheet_equal_shared_copies(folder: str) -> None:
    shared_dir = VECTORS / "epcis" / "xml" / folder
    ours = sorted((VENDORED_DIR / folder).iterdir())
    assert ours, folder
    for path in ours:
        assert path.read_bytes() == (shared_dir / path.name).read_bytes(), path.name
    # both stylesheets: 1.2 -> 2.0 for capture, 2.0 -> 1.2 for `provenance export`
    assert [p.name for p in ours] == sorted(p.name for p in shared_dir.iterdir())
