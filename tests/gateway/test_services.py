"""A service of the gateway is built from its dependencies alone (gateway/services/): here
capture on a SQLite store, with no chain and no contracts deployed."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.intake import Intake
from gateway.services.capture import CaptureService
from gateway.settings import GatewaySettings
from gateway.store.engine import make_engine, session_factory, upgrade
from gateway.store.participants import create_participant
from medledger.epcis.builders import as_document
from medledger.epcis.schema import load_schema
from medledger.errors import BackPressureError, NotFoundError
from provenance.journey import API_MAKER, MANUFACTURER, build_journey


def test_capture_runs_on_a_store_alone(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/gateway.db")
    upgrade(engine)
    reads, writes = session_factory(engine), session_factory(engine, write=True)
    woken: list[str] = []
    captures = CaptureService(
        sessions=reads,
        write_sessions=writes,
        intake=Intake(load_schema()),
        settings=GatewaySettings(data_dir=tmp_path / "data", max_backlog_events=1),
        wake=lambda: woken.append("batcher"),
    )
    with writes() as session:
        maker, other = (
            create_participant(
                session,
                address=f"0x{n:040x}",
                name=actor.name,
                roles=int(actor.roles),
                gln=actor.gln,
                company_prefixes=(actor.company_prefix,),
            )
            for n, actor in ((1, API_MAKER), (2, MANUFACTURER))
        )
    events = build_journey().steps[0].events
    accepted = captures.capture(maker, as_document(events))
    assert (accepted.stored, woken) == (len(events), ["batcher"])
    assert captures.status(maker, accepted.capture_id).status == "accepted"
    with pytest.raises(NotFoundError, match="no capture"):
        captures.status(other, accepted.capture_id)  # not its capture, not a reader
    with pytest.raises(BackPressureError, match="waiting to be anchored"):
        captures.capture(maker, as_document(events))  # nothing anchors here: the backlog is full
    engine.dispose()
