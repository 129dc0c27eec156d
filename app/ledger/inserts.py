"""One batch of ledger rows into `ai_calls`, in one statement per batch on either database.

PostgreSQL: COPY (asyncpg's binary copy), half the CPU per row of a multi-row INSERT.
SQLite: one multi-row INSERT. Not `executemany`: aiosqlite runs it on its own thread, and
sqlite3 releases and takes back the GIL around every row's step, so a batch of 500 rows meant
about a thousand GIL hand-overs against the busy event loop (in `bench.profile`-style runs the
ledger then cost 20 % of a JSON call's CPU). One statement binds its values in one go and steps
once. Values go through the column types' own SQLite bind processors, so what is stored is
exactly what SQLAlchemy stores and reads back.
"""

import sqlite3
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from app.ledger.schema import ai_calls

Columns = tuple[Any, ...]
# Every column but the generated id, in table order: the order of a row's values.
COLUMNS = tuple(column.name for column in ai_calls.columns if column.name != "id")
# Bound parameters per statement: SQLite's default limit since 3.32, and before it.
SQLITE_MAX_PARAMS = 32_766 if sqlite3.sqlite_version_info >= (3, 32) else 999
SQLITE_ROWS = SQLITE_MAX_PARAMS // len(COLUMNS)


async def insert_rows(connection: AsyncConnection, rows: Sequence[Columns]) -> None:
    if connection.dialect.name == "postgresql":
        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None  # an open connection has its driver's
        await raw.copy_records_to_table(ai_calls.name, records=rows, columns=COLUMNS)
        return
    processors = _bind_processors(connection.dialect)
    for start in range(0, len(rows), SQLITE_ROWS):
        chunk = rows[start : start + SQLITE_ROWS]
        values: list[Any] = []
        for row in chunk:
            converted = list(row)
            for index, process in processors:
                converted[index] = process(converted[index])
            values.extend(converted)
        await connection.exec_driver_sql(_sqlite_insert(len(chunk)), tuple(values))


def _bind_processors(dialect: Dialect) -> list[tuple[int, Callable[[Any], Any]]]:
    columns = [ai_calls.c[name] for name in COLUMNS]
    found = ((i, column.type.bind_processor(dialect)) for i, column in enumerate(columns))
    return [(i, process) for i, process in found if process is not None]


@cache
def _sqlite_insert(rows: int) -> str:
    one = f"({', '.join('?' * len(COLUMNS))})"
    return f"INSERT INTO {ai_calls.name} ({', '.join(COLUMNS)}) VALUES {', '.join([one] * rows)}"
