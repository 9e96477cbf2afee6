"""Fast inserts of many rows: COPY on PostgreSQL, one executemany elsewhere.

Used where tens of thousands of rows arrive at once (customer import, campaign
audiences). Rows come as plain dicts keyed by column name, or column by column, with
values in their model form (enum members, aware UTC datetimes); the caller's
transaction is used, so the insert commits or rolls back with everything else.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from crm_store.models import Base


def allocate_ids(session: Session, model: type[Base], count: int) -> list[int]:
    """Reserve `count` primary keys for `model`'s table before inserting rows with them.

    PostgreSQL hands them out from the table's sequence, safe beside other writers.
    SQLite has one writer at a time; if another process inserts between this and the
    insert, the primary key refuses the duplicate and the whole transaction fails
    rather than linking rows to the wrong parent.
    """
    if count == 0:
        return []
    table = _table(model)
    id_column = table.c.id
    if session.get_bind().dialect.name == "postgresql":
        # Straight through the driver: SQLAlchemy's result rows would cost several times
        # what the server spends on the numbers.
        with _driver_connection(session).cursor() as cursor:
            # The sequence's name first: inside the numbers' query it would be looked up
            # once a row.
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", (table.name,))
            (sequence,) = cursor.fetchone() or (None,)
            cursor.execute(
                "SELECT nextval(%s::regclass) FROM generate_series(1, %s)", (sequence, count)
            )
            return [value for (value,) in cursor.fetchall()]
    start = (session.scalar(select(func.coalesce(func.max(id_column), 0))) or 0) + 1
    return list(range(start, start + count))


def _driver_connection(session: Session) -> Any:
    """The psycopg connection under the session's transaction (for COPY and raw fetches)."""
    driver_connection = session.connection().connection.driver_connection
    assert driver_connection is not None
    return driver_connection


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


def _stored(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}; store times as aware UTC")
        return value.astimezone(UTC)
    return value


def _needs_conversion(values: Sequence[Any]) -> bool:
    """Whether a column holds enums (stored by value) or times (stored in UTC); psycopg
    takes everything else as it is. A column's values all have one type."""
    sample = next((value for value in values if value is not None), None)
    return isinstance(sample, (Enum, datetime))


def _converted(values: Sequence[Any], process: Callable[[Any], Any] | None) -> Sequence[Any]:
    """One column's values in stored form. Most processed values repeat (enums, the
    import's timestamp, common dates), so each distinct value is converted once."""
    if process is None:
        return values
    converted: dict[Any, Any] = {None: None}
    result = []
    for value in values:
        try:
            result.append(converted[value])
        except KeyError:
            converted[value] = process(value)
            result.append(converted[value])
    return result


def bulk_insert(session: Session, model: type[Base], rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` (all with the same keys) into `model`'s table, in the session's
    transaction."""
    if rows:
        insert_columns(session, model, {name: [row[name] for row in rows] for name in rows[0]})


def insert_columns(session: Session, model: type[Base], columns: dict[str, Sequence[Any]]) -> None:
    """Insert rows given column by column (each name to its values, all of one length)
    into `model`'s table, in the session's transaction: `bulk_insert` without building
    a dict a row, for callers that already hold their data by column."""
    lengths = {len(values) for values in columns.values()}
    if len(lengths) != 1:
        raise ValueError(f"columns of different lengths: {sorted(lengths)}")
    if lengths == {0}:
        return
    table = _table(model)
    column_list = ", ".join(f'"{name}"' for name in columns)
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        stored = [
            _converted(values, _stored if _needs_conversion(values) else None)
            for values in columns.values()
        ]
        with (
            _driver_connection(session).cursor() as cursor,
            cursor.copy(f'COPY "{table.name}" ({column_list}) FROM STDIN') as copy,
        ):
            for row in zip(*stored, strict=True):
                copy.write_row(row)
        return
    if connection.dialect.name == "sqlite":
        # SQLAlchemy's own executemany spends more time arranging parameters than
        # SQLite spends inserting; convert each column once with its type's processor.
        stored = [
            _converted(
                values,
                table.c[name]
                .type.dialect_impl(connection.dialect)
                .bind_processor(connection.dialect),
            )
            for name, values in columns.items()
        ]
        placeholders = ", ".join("?" for _ in columns)
        connection.exec_driver_sql(
            f'INSERT INTO "{table.name}" ({column_list}) VALUES ({placeholders})',
            list(zip(*stored, strict=True)),
        )
        return
    names = list(columns)
    connection.execute(
        table.insert(),
        [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)],
    )
