"""Engines and sessions. Nothing here runs at import time."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    Column,
    CursorResult,
    Engine,
    Executable,
    Table,
    create_engine,
    event,
    insert,
    inspect,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapper,
    Session,
    make_transient_to_detached,
    sessionmaker,
)


def make_engine(database_url: str, **kwargs: Any) -> Engine:
    """An engine for `database_url`, with SQLite tuned for several processes.

    SQLite gets WAL (readers never block the writer), foreign keys, and a busy
    timeout so that the gateway, the scheduler and the action server can share
    one file. The folder of a SQLite file is created when missing.
    """
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _configure_sqlite)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits when the block succeeds and rolls back when it raises."""
    with factory() as session, session.begin():
        yield session


@contextmanager
def savepoint(session: Session) -> Iterator[None]:
    """A SAVEPOINT in the session's transaction: rolled back to if the block raises,
    kept (until the transaction ends) if not.

    pysqlite begins its transaction lazily, before the first write. A SAVEPOINT sent
    before that would itself become the transaction, and releasing it would commit, so
    on SQLite the transaction is begun first, and as a writer (IMMEDIATE): one begun as a
    reader and writing only later fails at once ("database is locked", without waiting)
    if another connection wrote in between, as a dispatcher does all the time.
    """
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        driver_connection = connection.connection.driver_connection
        if driver_connection is not None and not driver_connection.in_transaction:
            driver_connection.execute("BEGIN IMMEDIATE")
    with session.begin_nested():
        yield


Model = TypeVar("Model", bound=DeclarativeBase)


def inserted(session: Session, model: type[Model], values: Mapping[str, Any]) -> Model:
    """A row of `model` (`values` by column, defaults filled in) inserted now, and
    returned as an object of the session, as if it had been loaded.

    For the hot path: adding a new object and flushing it costs several times this, in
    the ORM's unit of work, and so does loading the returned row through the ORM.
    """
    row = session.connection().execute(_insert_returning(model), values).one()
    return as_loaded(session, model, row._mapping)


def as_loaded(session: Session, model: type[Model], row: Mapping[Any, Any]) -> Model:
    """The object of the session for the row `row` of `model` (every column, keyed by
    its `Column`), as a query would give it: the one the session holds already, or a
    new one, whose relationships load when first read.

    A query through the ORM prepares a loader for every attribute each time it runs,
    which costs more than the query: the hot path reads rows with Core and makes them
    objects here.
    """
    mapper: Mapper[Model] = inspect(model)
    key = mapper.identity_key_from_primary_key(tuple(row[column] for column in mapper.primary_key))
    held = session.identity_map.get(key)
    if held is not None:
        return held
    instance = model(**{attribute: row[column] for column, attribute in _attributes(model)})
    make_transient_to_detached(instance)
    session.add(instance)
    return instance


@cache
def _attributes(model: type[DeclarativeBase]) -> tuple[tuple[Column[Any], str], ...]:
    """Each column of `model` with the attribute that holds it."""
    mapper = inspect(model)
    return tuple((column, mapper.get_property_by_column(column).key) for column in mapper.columns)


@cache
def _insert_returning(model: type[DeclarativeBase]) -> Executable:
    table: Table = model.__table__  # type: ignore[assignment]
    return insert(table).returning(*table.c)


class OnConflict:
    """An INSERT … ON CONFLICT, which each database writes its own way: built once for
    each database the store runs on, by `build` from that database's `insert`."""

    def __init__(self, build: Callable[[Callable[..., Any]], Executable]) -> None:
        self._statements = {
            name: build(dialect_insert)
            for name, dialect_insert in (
                ("postgresql", postgresql.insert),
                ("sqlite", sqlite.insert),
            )
        }

    def execute(self, session: Session, values: Mapping[str, Any]) -> CursorResult[Any]:
        """Run it on the session's connection, in its transaction."""
        connection = session.connection()
        return connection.execute(self._statements[connection.dialect.name], values)
