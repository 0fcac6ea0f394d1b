"""The intake pipeline on GS1's own documents: examples accepted whole, invalid ones refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.intake import prepare
from medledger.custody.overlay import InMemoryCustody
from medledger.custody.ruleset import RuleSet, check_events
from medledger.custody.state import Participant
from medledger.epcis.schema import load_schema
from medledger.errors import ValidationError
from tests.medledger.epcis.epcis_vectors import vector_files

EXAMPLES = vector_files("epcis/gs1-examples", "*.jsonld")
INVALID = vector_files("epcis/invalid", "*.json")
ANYONE = Participant(address="0x" + "11" * 20, roles=1, gln="4700000100002", active=True)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_gs1_example_passes_the_whole_intake_under_the_epcis_rule_set(path: Path) -> None:
    events, normalised, event_ids = prepare(json.loads(path.read_text()), load_schema())
    assert len(events) == len(normalised) == len(event_ids) > 0
    assert all(e["@context"] for e in events), "each stored event carries its @context"
    assert check_events(RuleSet.EPCIS, normalised, ANYONE, InMemoryCustody()) == []


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_every_invalid_document_is_refused_by_the_intake(path: Path) -> None:
    with pytest.raises(ValidationError) as refused:
        prepare(json.loads(path.read_text()), load_schema())
    assert refused.value.rule
