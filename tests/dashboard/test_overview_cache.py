"""dashboard/overview.OverviewCache: the overview's numbers (a scan of every event and current
item) are read again only when they may have changed: not while the index's checkpoint is the
block they were read at, and at most once per ``max_age`` seconds while it moves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from dashboard.overview import OverviewCache
from indexer.store import make_engine, session_factory, upgrade
from indexer.store.models import CheckpointRow


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path}/index.db")
    upgrade(engine)
    yield session_factory(engine)
    engine.dispose()


def index_block(sessions: sessionmaker[Session], number: int, tag: int = 0) -> None:
    with sessions() as session, session.begin():
        session.merge(CheckpointRow(id=1, block_number=number, block_hash=bytes([tag]) * 32))


def test_numbers_are_read_again_only_once_the_checkpoint_moved_and_they_aged(
    sessions: sessionmaker[Session],
) -> None:
    now = [0.0]
    cache = OverviewCache(max_age=10, clock=lambda: now[0])
    index_block(sessions, 5)
    with sessions() as session:
        assert cache.read(session).checkpoint == 5
        now[0] = 60.0  # old, but the index has not moved: still exact
        assert cache.read(session).checkpoint == 5
    assert cache.readings == 1
    index_block(sessions, 6)
    now[0] = 65.0  # moved, and the reading is older than max_age: read again
    with sessions() as session:
        assert cache.read(session).checkpoint == 6
    index_block(sessions, 7)
    now[0] = 70.0  # moved again, but the last reading is 5 s old: served as it is
    with sessions() as session:
        assert cache.read(session).checkpoint == 6
        now[0] = 75.0
        assert cache.read(session).checkpoint == 7
    assert cache.readings == 3


def test_another_block_of_the_same_number_is_read_again(sessions: sessionmaker[Session]) -> None:
    now = [0.0]
    cache = OverviewCache(max_age=10, clock=lambda: now[0])
    index_block(sessions, 5, tag=1)
    with sessions() as session:
        cache.read(session)
    index_block(sessions, 5, tag=2)  # a reorganisation: block 5 is another block now
    now[0] = 20.0
    with sessions() as session:
        cache.read(session)
    assert cache.readings == 2
