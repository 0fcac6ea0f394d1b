from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, insert, inspect, select

from gateway.store.engine import alembic_config, make_engine, upgrade
from gateway.store.models import Base, CaptureRow, EventItemRow, EventRow, ParticipantRow
from gateway.store.partitions import POSTGRESQL_ONLY
from medledger.epcis import builders as epcis
from provenance.journey import MANUFACTURER, PACK_ITEM_REF


def _not_postgresql_only(
    item: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    return name not in POSTGRESQL_ONLY and not (name or "").startswith("events_")


def test_migrated_schema_equals_the_models(engine: Engine) -> None:
    """Exactly, but for the month partitions of ``events`` on PostgreSQL and what they need."""
    with engine.connect() as conn:
        options: dict[str, object] = {"compare_type": True}
        if engine.dialect.name == "postgresql":
            options["include_object"] = _not_postgresql_only
        context = MigrationContext.configure(conn, opts=options)
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_upgrade_is_idempotent(engine: Engine) -> None:
    upgrade(engine)
    with engine.connect() as conn:
        revision = MigrationContext.configure(conn).get_current_revision()
    assert revision == "0018"
    assert set(inspect(engine).get_table_names()) >= set(Base.metadata.tables)


def test_upgrade_from_a_url(db_url: str) -> None:
    upgrade(db_url)
    upgrade(db_url)


def test_sqlite_runs_in_wal_mode_with_foreign_keys(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


def test_0014_fills_event_items_from_the_events_of_pharma_participants(db_url: str) -> None:
    """What each stored event named, in ``seq``, with what it packed; nothing for an event of an
    ``epcis`` participant (no custody) or one that no longer reads."""
    pack = f"urn:epc:id:sgtin:{MANUFACTURER.company_prefix}.{PACK_ITEM_REF}.M1"
    case = f"urn:epc:id:sscc:{MANUFACTURER.company_prefix}.0000000001"
    lot = {"cbvmda:lotNumber": "L1"}
    moment = datetime(2026, 11, 3, tzinfo=UTC)
    raws = [
        ("0x01", epcis.commission(MANUFACTURER, moment, epcs=[pack], ilmd=lot)),
        ("0x01", epcis.aggregate(MANUFACTURER, moment, case, [pack])),
        ("0x02", epcis.commission(MANUFACTURER, moment, epcs=[pack], ilmd=lot)),
        ("0x01", {"type": "ObjectEvent"}),
    ]
    engine = make_engine(db_url)
    try:
        upgrade(engine, "0013")
        now = datetime.now(UTC)
        capture = uuid.uuid4()
        with engine.begin() as conn:
            conn.execute(
                insert(ParticipantRow),
                [
                    {"address": a, "name": a, "roles": 2, "gln": g, "status": "active",
                     "rule_set": r, "created_at": now, "updated_at": now, "company_prefixes": ""}
                    for a, g, r in (("0x01", "4700000000001", "pharma"),
                                    ("0x02", "4700000000002", "epcis"))
                ],
            )  # fmt: skip
            conn.execute(
                insert(CaptureRow),
                [{"id": capture, "participant": "0x01", "received_at": now,
                  "status": "accepted", "event_count": len(raws)}],
            )  # fmt: skip
            conn.execute(
                insert(EventRow),
                [
                    {"seq": 10 + i, "event_id": f"e{i}", "event_hash": b"\0" * 32,
                     "salt": b"\0" * 32, "participant": who, "capture_id": capture,
                     "raw": json.dumps(event), "event_time": moment, "type": "ObjectEvent",
                     "received_at": now}
                    for i, (who, event) in enumerate(raws)
                ],
            )  # fmt: skip
        upgrade(engine)
        with engine.connect() as conn:
            rows = conn.execute(select(EventItemRow.__table__).order_by("seq", "identifier"))
            found = [(r.identifier.rsplit("/", 1)[-1], r.seq, r.packing) for r in rows]
    finally:
        engine.dispose()
    assert found == [("M1", 10, False), ("047001230000000012", 11, True), ("M1", 11, True)]


_ROW_CHECKS = {
    ("events", "fk_events_capture_id_captures"),
    ("events", "fk_events_participant_participants"),
    ("events", "fk_events_batch_id_batches"),
    ("capture_events", "fk_capture_events_capture_id_captures"),
    ("capture_events", "fk_capture_events_event_id_event_keys"),
}


def _foreign_keys(engine: Engine) -> set[tuple[str, str]]:
    found = inspect(engine)
    return {
        (table, str(fk["name"]))
        for table in ("events", "capture_events")
        for fk in found.get_foreign_keys(table)
    }


@pytest.mark.postgres
def test_0017_leaves_postgresql_no_row_checks_on_what_capture_and_seal_write(
    fresh_postgres: str,
) -> None:
    """Each checked what the same transaction had just written; SQLite keeps them (the models)."""
    engine = make_engine(fresh_postgres)
    try:
        upgrade(engine)
        assert _foreign_keys(engine) & _ROW_CHECKS == set()
        command.downgrade(alembic_config(engine), "0016")
        assert _foreign_keys(engine) >= _ROW_CHECKS
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_0018_leaves_postgresql_no_index_of_capture_links_by_event(fresh_postgres: str) -> None:
    """Links are read by capture only; SQLite keeps the index (the models)."""
    engine = make_engine(fresh_postgres)
    try:
        upgrade(engine)
        assert "ix_capture_events_event_id" not in _indexes(engine, "capture_events")
        command.downgrade(alembic_config(engine), "0017")
        assert "ix_capture_events_event_id" in _indexes(engine, "capture_events")
    finally:
        engine.dispose()


def _indexes(engine: Engine, table: str) -> set[str]:
    return {str(index["name"]) for index in inspect(engine).get_indexes(table)}


def test_sqlite_keeps_the_foreign_keys_of_events_and_links(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite keeps what the models declare")
    assert {"fk_events_capture_id_captures", "fk_events_batch_id_batches"} <= {
        str(fk["name"]) for fk in inspect(engine).get_foreign_keys("events")
    }
    assert "ix_capture_events_event_id" in _indexes(engine, "capture_events")
