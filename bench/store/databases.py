"""Fresh SQLite and PostgreSQL databases, filled with generated customers and analysed."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from sqlalchemy import URL, Engine, insert
from sqlalchemy.engine import make_url

from bench.store.common import FILL_BATCH, SEED, console
from bench.store.generated import CUSTOMERS, FILL_COLUMNS, CustomerGenerator
from crm_store import migrate
from crm_store.db import make_engine


def _admin_connection(url: URL) -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        dbname=url.database,
        autocommit=True,
    )


@contextmanager
def provision(backend: str, purpose: str, workdir: Path, postgres_url: str) -> Iterator[str]:
    """The URL of a fresh, migrated database of `backend`, removed afterwards."""
    if backend == "sqlite":
        path = workdir / f"{purpose}.db"
        url = f"sqlite:///{path}"
        migrate.upgrade(url)
        try:
            yield url
        finally:
            for leftover in workdir.glob(f"{purpose}.db*"):
                leftover.unlink()
        return
    admin_url = make_url(postgres_url)
    name = f"crmbot_bench_{purpose}_{uuid.uuid4().hex[:8]}"
    with _admin_connection(admin_url) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = admin_url.set(database=name).render_as_string(hide_password=False)
        migrate.upgrade(url)
        yield url
    finally:
        with _admin_connection(admin_url) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextmanager
def engine_for(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def fill_customers(engine: Engine, total: int, now: datetime) -> float:
    """Fill `total` customers with a progress bar, then ANALYZE; returns the seconds taken."""
    generator = CustomerGenerator(SEED, now)
    columns = (
        TextColumn("  filling customers"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    start = time.perf_counter()
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("fill", total=total)

        def advance(rows: int) -> None:
            progress.advance(task, rows)

        if engine.dialect.name == "postgresql":
            _fill_with_copy(engine, generator, total, advance)
        else:
            _fill_with_inserts(engine, generator, total, advance)
    filled = time.perf_counter() - start
    start = time.perf_counter()
    analyse(engine)
    console.print(
        f"  filled {total:,} customers in {filled:,.1f} s ({total / filled:,.0f} rows/s); "
        f"{analyse_statement(engine)} took {time.perf_counter() - start:,.1f} s"
    )
    return filled


def _fill_with_inserts(
    engine: Engine, generator: CustomerGenerator, total: int, advance: Callable[[int], None]
) -> None:
    """Core executemany in batches, one transaction per batch."""
    statement = insert(CUSTOMERS)
    done = 0
    while done < total:
        rows = generator.batch(min(FILL_BATCH, total - done))
        with engine.begin() as connection:
            connection.execute(
                statement, [dict(zip(FILL_COLUMNS, row, strict=True)) for row in rows]
            )
        done += len(rows)
        advance(len(rows))


def _fill_with_copy(
    engine: Engine, generator: CustomerGenerator, total: int, advance: Callable[[int], None]
) -> None:
    """One COPY ... FROM STDIN through psycopg, in a single transaction."""
    copy_statement = sql.SQL("COPY customers ({}) FROM STDIN").format(
        sql.SQL(", ").join(sql.Identifier(column) for column in FILL_COLUMNS)
    )
    with engine.begin() as connection:
        driver_connection = connection.connection.driver_connection
        if not isinstance(driver_connection, psycopg.Connection):
            raise TypeError(f"COPY needs psycopg 3, not {type(driver_connection).__name__}")
        with driver_connection.cursor() as cursor, cursor.copy(copy_statement) as copy:
            done = 0
            while done < total:
                rows = generator.batch(min(FILL_BATCH, total - done))
                for row in rows:
                    copy.write_row(row)
                done += len(rows)
                advance(len(rows))


def analyse_statement(engine: Engine) -> str:
    # On PostgreSQL, VACUUM as well: autovacuum would do it shortly after a bulk load
    # anyway, and doing it now keeps it from running in the middle of the timings.
    return "VACUUM (ANALYZE)" if engine.dialect.name == "postgresql" else "ANALYZE"


def analyse(engine: Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(analyse_statement(engine))
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
