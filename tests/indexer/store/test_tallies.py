"""The overview's counts (indexer/store/tallies.py) are kept as the index is written and equal a
recount of the events and versions: after a journey is loaded, after a rollback (and the same
blocks loaded again), and as the migration that introduced them backfills them. Each anchor
carries its transaction's gasUsed, from the receipt. SQLite and PostgreSQL.

Rollbacks by a real reorganisation, on anvil and ganache, are checked the same way in
tests/indexer/test_reorg.py; the undo of error declarations in tests/indexer/test_corrections.py.
"""

from __future__ import annotations

from alembic import command
from sqlalchemy import select
from sqlalchemy.orm import Session

from indexer.chainlogs import BlockHeader
from indexer.service import IndexerService
from indexer.store import upgrade
from indexer.store.engine import alembic_config
from indexer.store.models import (
    AnchorRow,
    BlockRow,
    EventRow,
    EventTallyRow,
    ItemTallyRow,
    first_sequence_of_block,
)
from indexer.store.writes import rollback_to
from tests.support.network import Network
from tests.support.tallies import assert_tallies_recount

#: the revision before the migration that added the tallies and gas (0021; renumbered with it)
BEFORE_TALLIES = "0020"


def tallies(service: IndexerService) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    with Session(service.engine) as session:
        events = session.execute(
            select(EventTallyRow.block_number, EventTallyRow.day, EventTallyRow.biz_step,
                   EventTallyRow.events).order_by(EventTallyRow.block_number, EventTallyRow.day,
                                                  EventTallyRow.biz_step)
        ).all()  # fmt: skip
        items = session.execute(
            select(ItemTallyRow.block_number, ItemTallyRow.status, ItemTallyRow.delta).order_by(
                ItemTallyRow.block_number, ItemTallyRow.status
            )
        ).all()
    return [tuple(r) for r in events], [tuple(r) for r in items]


def test_the_counts_equal_a_recount_after_a_journey(indexed: IndexerService) -> None:
    assert_tallies_recount(indexed.engine)
    events, items = tallies(indexed)
    assert events and items


def test_each_anchor_carries_its_transaction_s_gas(
    indexed: IndexerService, network: Network
) -> None:
    with Session(indexed.engine) as session:
        anchors = session.scalars(select(AnchorRow)).all()
    assert anchors
    for anchor in anchors:
        receipt = network.chain.w3.eth.get_transaction_receipt(anchor.tx_hash)  # type: ignore[arg-type]
        assert anchor.gas_used == receipt["gasUsed"] > 21_000


def test_a_rollback_takes_its_blocks_counts_and_loading_them_again_restores_them(
    indexed: IndexerService,
) -> None:
    before = tallies(indexed)
    with Session(indexed.engine) as session:
        blocks = sorted(session.scalars(select(EventRow.block_number).distinct()))
        kept = session.get(BlockRow, blocks[len(blocks) // 2 - 1])
        assert kept is not None
        ancestor = BlockHeader(kept.number, kept.hash, kept.parent_hash, kept.timestamp)
        rollback_to(session, ancestor, first_sequence_of_block(ancestor.number + 1))
        session.commit()
    indexed.follower.loader.forget()  # as the follower does when it rolls back
    assert_tallies_recount(indexed.engine)
    events, _ = tallies(indexed)
    assert events and max(int(str(row[0])) for row in events) <= ancestor.number
    indexed.catch_up()  # the same blocks again (the chain did not change)
    assert tallies(indexed) == before
    assert_tallies_recount(indexed.engine)


def test_the_migration_backfills_what_the_writers_keep(indexed: IndexerService) -> None:
    kept = tallies(indexed)
    config = alembic_config(indexed.engine)
    command.downgrade(config, BEFORE_TALLIES)
    upgrade(indexed.engine)
    assert tallies(indexed) == kept
    assert_tallies_recount(indexed.engine)
    with Session(indexed.engine) as session:  # the receipts are read from now on, not before
        assert set(session.scalars(select(AnchorRow.gas_used))) == {None}
