"""The comparison the reorganisation and fault tests rely on (tests/support/index_compare.py):
every table of the models, a readable diff, nothing left out unsaid."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from indexer.store import make_engine, upgrade
from indexer.store.models import Base
from tests.support.index_compare import (
    NOT_COMPARED,
    assert_same_index,
    index_differences,
    index_snapshot,
    without_sweep_alerts,
)


def empty_index(path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    return engine


def test_every_table_of_the_models_is_compared_but_the_listed_ones(tmp_path: Path) -> None:
    snapshot = index_snapshot(empty_index(tmp_path / "a.db"))
    assert set(snapshot) == set(Base.metadata.tables) - set(NOT_COMPARED)
    assert set(NOT_COMPARED) == {
        "ix_api_keys",
        "ix_key_audit",
        "ix_participant_profiles",
        "ix_web_sessions",
        "ix_alert_triage",
        "ix_alert_triage_log",
    }


def test_a_differing_row_is_named_by_table_key_and_column(tmp_path: Path) -> None:
    live, fresh = empty_index(tmp_path / "a.db"), empty_index(tmp_path / "b.db")
    rows = [
        "INSERT INTO ix_lots VALUES ('04700123123452', 'L1', NULL, '0xA', 5, 1)",
        "INSERT INTO ix_lots VALUES ('04700123123452', 'L2', NULL, '0xA', 7, 1)",
    ]
    with live.begin() as conn:
        for row in rows:
            conn.execute(text(row))
        conn.execute(text("INSERT INTO ix_blocks VALUES (9, x'01', x'00', 100)"))
    with fresh.begin() as conn:
        conn.execute(text(rows[0].replace(", 5, 1)", ", 6, 1)")))
        conn.execute(text("INSERT INTO ix_blocks VALUES (8, x'02', x'00', 99)"))

    lines = index_differences(live, fresh)
    assert lines[0].startswith("ix_lots: 2 rows live, 1 fresh; 1 only live, 0 only fresh, 1 differ")
    assert any("only live : gtin='04700123123452', lot='L2'" in line for line in lines)
    assert any("lot='L1'): first_seq: live 5 != fresh 6" in line for line in lines)
    assert not any(line.startswith("ix_blocks") for line in lines)  # blocks both hold only
    with pytest.raises(AssertionError, match="round 3"):
        assert_same_index(live, fresh, "round 3")


def test_a_table_the_models_do_not_describe_cannot_be_compared(tmp_path: Path) -> None:
    engine = empty_index(tmp_path / "a.db")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE ix_lane_totals (lane TEXT PRIMARY KEY, n INTEGER)"))
    with pytest.raises(AssertionError, match="table ix_lane_totals is not in"):
        index_snapshot(engine)


def test_the_expiry_sweeps_alerts_can_be_left_out(tmp_path: Path) -> None:
    engine = empty_index(tmp_path / "a.db")
    with engine.begin() as conn:
        for key, kind in (("k1", "expired-in-stock"), ("k2", "clone")):
            conn.execute(
                text("INSERT INTO ix_alerts VALUES (:key, :kind, 'warning', 3, NULL, 'm', '{}')"),
                {"key": key, "kind": kind},
            )
    alerts = without_sweep_alerts(index_snapshot(engine))["ix_alerts"]
    assert [row[:2] for row in alerts] == [("k2", "clone")]
