"""Rows made into ``COPY`` text away from the database load exactly as the driver loads them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from devkit.postgres import PG_URL, fresh_database, postgres_answers
from indexer.store.copy_text import copy_field, copy_line, copy_lines
from servicekit.sql.helpers import copy_rows, copy_text, driver_connection

COLUMNS = ("label", "payload", "amount", "quantity", "moment")
AWKWARD = [
    ("plain", b"\x00\x01\xff", 1, Decimal("12.5"), datetime(2026, 11, 2, 9, 0, tzinfo=UTC)),
    (
        'json {"a":"b\\"c","d":"\\u00e9\\n"}',
        b"",
        -(2**62),
        Decimal("0.000000001"),
        datetime(2026, 1, 1, 23, 59, 59, 123456, tzinfo=timezone(timedelta(hours=6))),
    ),
    ("tab\there\nnewline\rreturn \\N backslash", None, None, None, None),
    ("Бишкек 比什凯克 ✓", b"\\", 0, Decimal("1E+3"), datetime(1999, 12, 31, tzinfo=UTC)),
    ("", b"\n\t", 7, Decimal("-3"), datetime(2026, 6, 1, 12, 0, tzinfo=UTC)),
    (
        "vertical\x0btab, line\u2028separator",
        b"x",
        1,
        Decimal("1"),
        datetime(2026, 6, 1, tzinfo=UTC),
    ),
]


def test_values_are_written_in_the_text_format_postgresql_reads() -> None:
    assert copy_field(None) == "\\N"
    assert copy_field("a\\b\tc\nd\re") == "a\\\\b\\tc\\nd\\re"
    assert copy_field(b"\x00\xab") == "\\\\x00ab"
    assert copy_field(42) == "42"
    assert copy_field(Decimal("1.50")) == "1.50"
    assert copy_field(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05+00:00"
    assert copy_line(("x", None, 1)) == "x\t\\N\t1\n"
    assert copy_lines([("x",), ("y",)]) == b"x\ny\n"
    # not printable, yet nothing to escape; and a value of a type without a text form
    assert copy_line(("a\x0bb", "\u2028", b"\\")) == "a\x0bb\t\u2028\t\\\\x5c\n"
    with pytest.raises(TypeError, match="bool"):
        copy_line((True,))


def test_what_postgresql_cannot_hold_or_the_index_does_not_keep_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        copy_field(datetime(2026, 1, 2))
    with pytest.raises(ValueError, match="NUL"):
        copy_field("a\x00b")
    with pytest.raises(TypeError, match="float"):
        copy_field(1.5)


@pytest.fixture
def pg_url() -> Iterator[str]:
    if not postgres_answers():
        pytest.skip(f"PostgreSQL does not answer at {PG_URL}")
    with fresh_database(prefix="copy_test") as url:
        yield url


@pytest.mark.postgres
def test_copy_text_loads_the_same_values_as_the_drivers_own_copy(pg_url: str) -> None:
    engine = create_engine(pg_url)
    with Session(engine) as session:
        for table in ("by_driver", "by_text"):
            session.execute(
                text(
                    f"CREATE TABLE {table} (n serial, label text, payload bytea, amount bigint, "
                    "quantity numeric(38, 9), moment timestamptz)"
                )
            )
        copy_rows(session, "by_driver", COLUMNS, AWKWARD)
        copy_text(driver_connection(session), "by_text", COLUMNS, copy_lines(AWKWARD))
        columns = ", ".join(COLUMNS)
        by_driver = session.execute(text(f"SELECT {columns} FROM by_driver ORDER BY n")).all()
        by_text = session.execute(text(f"SELECT {columns} FROM by_text ORDER BY n")).all()
    engine.dispose()
    assert by_text == by_driver
    assert [row[0] for row in by_text] == [row[0] for row in AWKWARD]
    assert [row[1] for row in by_text] == [row[1] for row in AWKWARD]
