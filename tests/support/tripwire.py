"""A chain reader that lets a test rewrite the chain in the middle of a follower's step."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from indexer.chainlogs import BlockHeader, ChainLog, LogReader


class Tripwire:
    """The live index's chain reader, which can rewrite the chain under its follower: armed,
    it runs ``action`` before its ``calls``-th read (a reorganisation between reading a
    range's header and its logs, between the logs and the blocks, ...)."""

    def __init__(self, reader: LogReader) -> None:
        self.reader = reader
        self.calls = 0
        self.action: Callable[[], None] | None = None

    def arm(self, calls: int, action: Callable[[], None]) -> None:
        self.calls, self.action = calls, action

    def fire(self) -> None:
        """Run the action now if no read did."""
        action, self.action = self.action, None
        if action is not None:
            action()

    def _read(self) -> None:
        self.calls -= 1
        if self.calls <= 0:
            self.fire()

    def head(self) -> int:
        self._read()
        return self.reader.head()

    def header(self, number: int) -> BlockHeader | None:
        self._read()
        return self.reader.header(number)

    def headers(self, numbers: Sequence[int]) -> dict[int, BlockHeader | None]:
        self._read()
        return self.reader.headers(numbers)

    def logs(self, from_block: int, to_block: int) -> list[ChainLog]:
        self._read()
        return self.reader.logs(from_block, to_block)

    def gas_used(self, entries: Sequence[ChainLog]) -> dict[str, int]:
        return self.reader.gas_used(entries)  # receipts are not a trip point
