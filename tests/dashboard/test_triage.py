"""An alert's triage: the state machine, who may act, what each action needs, the log, and the
triage outliving a rollback that deletes the alert and a re-index that raises it again."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dashboard.triage import ACTIONS, OPEN, act, log_of, next_state, triage_of
from indexer.chainlogs import BlockHeader
from indexer.store import writes
from indexer.store.models import (
    TRIAGE_STATES,
    AlertRow,
    AlertTriageLogRow,
    AlertTriageRow,
    BlockRow,
    first_sequence_of_block,
)
from medledger.epcis.identifiers import canonical_identifier
from medledger.errors import (
    NotFoundError,
    PermissionDeniedError,
    TriageTransitionError,
    ValidationError,
)
from servicekit.sql.helpers import utcnow
from tests.dashboard.conftest import CLONED, ROGUE_REGION, World

#: (state, action) -> the state it leaves; every pair not listed is refused
ALLOWED = {
    ("open", "ack"): "acknowledged",
    ("open", "assign"): "assigned",
    ("open", "resolve"): "resolved",
    ("acknowledged", "assign"): "assigned",
    ("acknowledged", "resolve"): "resolved",
    ("assigned", "assign"): "assigned",
    ("assigned", "resolve"): "resolved",
    ("resolved", "reopen"): "open",
}
NOW = utcnow()


def test_the_state_machine_allows_exactly_its_transitions() -> None:
    for state, action in itertools.product(TRIAGE_STATES, ACTIONS):
        expected = ALLOWED.get((state, action))
        if expected is None:
            with pytest.raises(TriageTransitionError, match=f"cannot {action} an alert that is"):
                next_state("k", state, action)
        else:
            assert next_state("k", state, action) == expected
    with pytest.raises(ValidationError, match="no triage action 'close'"):
        next_state("k", OPEN, "close")


def clone_alert(world: World, session: Session, pack: int) -> AlertRow:
    subject = canonical_identifier(world.journey.packs[pack])
    [alert] = session.scalars(
        select(AlertRow).where(AlertRow.kind == "clone", AlertRow.subject == subject)
    )
    return alert


def untriaged(session: Session, key: str) -> None:
    """The alert as if nobody had acted on it (the pages' tests act on it too)."""
    session.execute(delete(AlertTriageRow).where(AlertTriageRow.alert_key == key))
    session.execute(delete(AlertTriageLogRow).where(AlertTriageLogRow.alert_key == key))


@pytest.fixture
def unsaved(world: World) -> Iterator[tuple[Session, AlertRow]]:
    """A write session on the second clone's alert, untriaged and never committed."""
    with world.indexer.write_sessions() as session:
        alert = clone_alert(world, session, CLONED[1])
        untriaged(session, alert.key)
        yield session, alert
        session.rollback()


def regulator(session: Session, key: str, action: str, **given: str) -> object:
    return act(
        session,
        key,
        action,
        actor="Agency",
        key_id=1,
        role="regulator",
        region=None,
        now=NOW,
        **given,
    )


def test_each_action_is_logged_with_its_state_assignee_and_note(
    unsaved: tuple[Session, AlertRow],
) -> None:
    session, alert = unsaved
    assert triage_of(session, [alert.key])[alert.key].state == OPEN  # nobody acted yet
    regulator(session, alert.key, "ack")
    regulator(session, alert.key, "assign", assignee="  Inspector Asanov ")
    with pytest.raises(ValidationError, match="a note is required"):
        regulator(session, alert.key, "resolve", note="   ")
    done = regulator(session, alert.key, "resolve", note="Seized at the bazaar")
    assert (done.state, done.assignee, done.note) == (  # type: ignore[attr-defined]
        "resolved",
        "Inspector Asanov",
        "Seized at the bazaar",
    )
    with pytest.raises(TriageTransitionError, match="cannot resolve an alert that is resolved"):
        regulator(session, alert.key, "resolve", note="again")
    regulator(session, alert.key, "reopen")
    assert [(e.action, e.state, e.assignee, e.note) for e in log_of(session, alert.key)] == [
        ("ack", "acknowledged", None, None),
        ("assign", "assigned", "Inspector Asanov", None),
        ("resolve", "resolved", None, "Seized at the bazaar"),
        ("reopen", "open", None, None),
    ]
    assert triage_of(session, [alert.key])[alert.key].assignee is None


def test_an_auditor_never_acts_and_an_inspector_only_in_its_region(
    unsaved: tuple[Session, AlertRow],
) -> None:
    session, alert = unsaved

    def as_(role: str, region: str | None) -> object:
        return act(
            session, alert.key, "ack", actor=role, key_id=2, role=role, region=region, now=NOW
        )

    with pytest.raises(PermissionDeniedError, match="role 'auditor' may not triage"):
        as_("auditor", None)
    with pytest.raises(NotFoundError, match="no alert"):  # not in its region: not there at all
        as_("inspector", "KG-GB")
    with pytest.raises(ValidationError, match="name to assign to is required"):
        regulator(session, alert.key, "assign", assignee="")
    with pytest.raises(NotFoundError, match="no alert 'no-such-key'"):
        regulator(session, "no-such-key", "ack")
    assert log_of(session, alert.key) == []  # nothing refused was recorded
    assert as_("inspector", ROGUE_REGION).state == "acknowledged"  # type: ignore[attr-defined]


def test_the_triage_outlives_a_rollback_and_the_re_index_that_raises_the_alert_again(
    world: World,
) -> None:
    with world.indexer.write_sessions() as session, session.begin():
        alert = clone_alert(world, session, CLONED[1])
        key, block = alert.key, alert.block_number
        untriaged(session, key)
        regulator(session, key, "assign", assignee="Chui inspectorate")
    with world.indexer.write_sessions() as session, session.begin():
        ancestor = session.scalars(
            select(BlockRow).where(BlockRow.number < block).order_by(BlockRow.number.desc())
        ).first()
        assert ancestor is not None
        header = BlockHeader(
            ancestor.number, ancestor.hash, ancestor.parent_hash, ancestor.timestamp
        )
        writes.rollback_to(session, header, first_sequence_of_block(header.number + 1))
    with world.indexer.sessions() as session:
        assert session.get(AlertRow, key) is None  # the alert went with its block
        assert triage_of(session, [key])[key].state == "assigned"  # its triage did not
    world.indexer.catch_up()  # the same chain read again: the alert is raised again
    with world.indexer.write_sessions() as session, session.begin():
        again = session.get(AlertRow, key)
        assert again is not None and again.block_number == block
        kept = triage_of(session, [key])[key]
        assert (kept.state, kept.assignee, kept.updated_by) == (
            "assigned",
            "Chui inspectorate",
            "Agency",
        )
        assert kept.updated_at is not None and NOW - kept.updated_at < timedelta(seconds=1)
        regulator(session, key, "resolve", note="a test's alert: closed again")
        assert [e.action for e in log_of(session, key)] == ["assign", "resolve"]
