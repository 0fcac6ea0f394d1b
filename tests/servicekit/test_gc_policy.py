"""A long-running service process (indexer, gateway) collects young objects less often and
never walks its start-up objects."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from servicekit.gc_policy import YOUNG_THRESHOLD, tune_for_long_runs


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_collector")
def test_the_policy_raises_the_young_threshold_and_freezes_what_exists() -> None:
    before = gc.get_threshold()
    tune_for_long_runs()
    assert gc.get_threshold() == (YOUNG_THRESHOLD, before[1], before[2])
    assert gc.get_freeze_count() > 1000  # modules, classes, the SQL models: out of sight
    assert gc.isenabled()  # cycles are still collected
