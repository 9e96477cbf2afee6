"""Fast inserts of many rows: COPY on PostgreSQL, one executemany elsewhere.

Used where tens of thousands of rows arrive at once (customer import, campaign
audiences). Rows are plain dicts keyed by column name with values already in their
stored form (enum members, aware UTC datetimes); the caller's transaction is used,
so the insert commits or rolls back with everything else.
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


def _needs_conversion(rows: Sequence[dict[str, Any]], name: str) -> bool:
    """Whether a column holds enums (stored by value) or times (stored in UTC); psycopg
    takes everything else as it is. A column's values all have one type."""
    sample = next((row[name] for row in rows if row[name] is not None), None)
    return isinstance(sample, (Enum, datetime))


def _column(
    rows: Sequence[dict[str, Any]], name: str, process: Callable[[Any], Any] | None
) -> list[Any]:
    """One column's values in stored form. Most processed values repeat (enums, the
    import's timestamp, common dates), so each distinct value is converted once."""
    values = [row[name] for row in rows]
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
    if not rows:
        return
    table = _table(model)
    columns = list(rows[0])
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        column_list = ", ".join(f'"{name}"' for name in columns)
        stored_columns = [
            _column(rows, name, _stored if _needs_conversion(rows, name) else None)
            for name in columns
        ]
        with (
            _driver_connection(session).cursor() as cursor,
            cursor.copy(f'COPY "{table.name}" ({column_list}) FROM STDIN') as copy,
        ):
            for row in zip(*stored_columns, strict=True):
                copy.write_row(row)
        return
    if connection.dialect.name == "sqlite":
        # SQLAlchemy's own executemany spends more time arranging parameters than
        # SQLite spends inserting; convert each column once with its type's processor.
        processors = [
            table.c[name].type.dialect_impl(connection.dialect).bind_processor(connection.dialect)
            for name in columns
        ]
        placeholders = ", ".join("?" for _ in columns)
        column_list = ", ".join(f'"{name}"' for name in columns)
        values = list(
            zip(
                *(
                    _column(rows, name, process)
                    for name, process in zip(columns, processors, strict=True)
                ),
                strict=True,
            )
        )
        connection.exec_driver_sql(
            f'INSERT INTO "{table.name}" ({column_list}) VALUES ({placeholders})', values
        )
        return
    connection.execute(table.insert(), list(rows))
