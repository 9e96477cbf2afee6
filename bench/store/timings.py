"""The timed parts: the scheduler's two big queries, parsing a CSV, importing it, its memory."""

from __future__ import annotations

import io
import statistics
import time
import tracemalloc
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bench.store.common import (
    IMPORT_TARGET_ROWS_PER_SECOND,
    LAPSED_AT_MOST_DAYS,
    LAPSED_DAYS,
    LAPSED_LIMIT,
    QUERY_TARGET_CUSTOMERS,
    QUERY_TARGET_SECONDS,
    SEED,
    Figure,
    Timing,
    console,
    met_text,
    seconds_text,
)
from bench.store.databases import engine_for, fill_customers, provision
from bench.store.generated import CUSTOMERS, make_import_csv
from crm_store.customer_csv import (
    CustomerRow,
    ImportFailed,
    RowProblem,
    checked_batches,
    import_customers,
)
from crm_store.customers import customers_with_birthday_today, lapsed_customers
from crm_store.db import make_session_factory


def time_runs(factory: sessionmaker[Session], run: Callable[[Session], int], repeat: int) -> Timing:
    """Run `run` `repeat` times, each in a fresh session; `run` returns its row count."""
    seconds: list[float] = []
    rows = 0
    for _ in range(repeat):
        with factory() as session:
            start = time.perf_counter()
            rows = run(session)
            seconds.append(time.perf_counter() - start)
    return Timing(statistics.median(seconds), min(seconds), rows)


def bench_queries(
    backend: str, url: str, *, customers: int, repeat: int, now: datetime
) -> list[Figure]:
    figures: list[Figure] = []
    with engine_for(url) as engine:
        fill_seconds = fill_customers(engine, customers, now)
        figures.append(
            Figure(
                backend,
                f"fill {customers:,} customers",
                f"{fill_seconds:,.1f} s",
                f"{customers / fill_seconds:,.0f} rows/s",
            )
        )
        factory = make_session_factory(engine)

        def count_all(session: Session) -> int:
            return int(session.scalar(select(func.count()).select_from(CUSTOMERS)) or 0)

        def birthdays(session: Session) -> int:
            return len(customers_with_birthday_today(session, now=now))

        def lapsed(session: Session) -> int:
            return len(
                lapsed_customers(
                    session,
                    now=now,
                    lapsed_days=LAPSED_DAYS,
                    at_most_days=LAPSED_AT_MOST_DAYS,
                    limit=LAPSED_LIMIT,
                )
            )

        baseline = time_runs(factory, count_all, repeat)
        console.print(
            f"  baseline SELECT count(*): median {seconds_text(baseline.median)}, "
            f"min {seconds_text(baseline.best)} (count {baseline.rows:,})"
        )
        figures.append(
            Figure(
                backend,
                "baseline SELECT count(*)",
                seconds_text(baseline.median),
                f"min {seconds_text(baseline.best)}; count {baseline.rows:,}",
            )
        )
        target = f"< {QUERY_TARGET_SECONDS:g} s at {QUERY_TARGET_CUSTOMERS:,}"
        for name, run in (
            ("customers_with_birthday_today", birthdays),
            (
                f"lapsed_customers({LAPSED_DAYS}..{LAPSED_AT_MOST_DAYS} d, limit {LAPSED_LIMIT:,})",
                lapsed,
            ),
        ):
            timing = time_runs(factory, run, repeat)
            ratio = timing.median / baseline.median if baseline.median else float("inf")
            met = timing.median < QUERY_TARGET_SECONDS
            console.print(
                f"  {name}: median {seconds_text(timing.median)}, "
                f"min {seconds_text(timing.best)}, {timing.rows:,} rows, "
                f"{ratio:,.1f}× count(*)  [target {target}: {met_text(met)}]"
            )
            figures.append(
                Figure(
                    backend,
                    name,
                    seconds_text(timing.median),
                    f"min {seconds_text(timing.best)}; {timing.rows:,} rows; "
                    f"{ratio:,.1f}× count(*)",
                    target,
                    met,
                )
            )
    return figures


def bench_parse(csv_text: str, rows: int, repeat: int) -> tuple[Figure, float]:
    """Time checking the rows alone (`checked_batches`): the part of an import that no
    database can speed up."""
    seconds: list[float] = []
    parsed: list[CustomerRow] = []
    problems: list[RowProblem] = []
    with console.status("  parsing the CSV"):
        for _ in range(repeat):
            start = time.perf_counter()
            parsed, problems = [], []
            for batch in checked_batches(
                io.StringIO(csv_text), region="TW", default_timezone="Asia/Taipei"
            ):
                parsed += batch.rows
                problems += batch.problems
            seconds.append(time.perf_counter() - start)
    median = statistics.median(seconds)
    detail = (
        f"median {seconds_text(median)}, min {seconds_text(min(seconds))} for {len(parsed):,} rows"
    )
    if problems:
        detail += f"; {len(problems):,} problems, first: {problems[0]}"
    rate = f"{rows / median:,.0f} rows/s"
    console.print(f"  parse and check only (checked_batches): {rate}, {detail}")
    return Figure("—", "parse + check CSV only (baseline)", rate, detail), median


def bench_import(backend: str, url: str, csv_text: str, rows: int, parse_seconds: float) -> Figure:
    target = f"≥ {IMPORT_TARGET_ROWS_PER_SECOND:,} rows/s"
    with engine_for(url) as engine:
        factory = make_session_factory(engine)
        with factory() as session, console.status(f"  importing {rows:,} rows into {backend}"):
            start = time.perf_counter()
            try:
                result = import_customers(
                    session,
                    io.StringIO(csv_text),
                    region="TW",
                    default_timezone="Asia/Taipei",
                    actor="bench",
                )
                session.commit()
            except ImportFailed as error:
                console.print(f"  [red]import failed[/]: {error}; first: {error.problems[0]}")
                return Figure(
                    backend, f"import {rows:,} CSV rows", "failed", str(error), target, False
                )
            seconds = time.perf_counter() - start
        with engine.connect() as connection:
            identities = connection.exec_driver_sql(
                "SELECT count(*) FROM channel_identities"
            ).scalar()
    rate = result.imported / seconds
    met = rate >= IMPORT_TARGET_ROWS_PER_SECOND
    detail = (
        f"{seconds_text(seconds)} for {result.imported:,} customers, {identities:,} identities; "
        f"{seconds / parse_seconds:.2f}× the time of checking alone (checking overlaps writing)"
    )
    console.print(
        f"  import_customers + commit: {rate:,.0f} rows/s, {detail}  [{target}: {met_text(met)}]"
    )
    return Figure(
        backend, f"import {rows:,} CSV rows + commit", f"{rate:,.0f} rows/s", detail, target, met
    )


def bench_import_memory(workdir: Path, rows: int) -> Figure:
    """Peak Python heap of the importing process (tracemalloc) for a file of `rows` and
    one of a fifth as many, on SQLite: an import that streams needs about the same for
    both. The row checker's process is not traced; it holds one batch, and the first
    line of every phone and chat id seen."""
    peaks: dict[int, int] = {}
    for size in (max(rows // 5, 1), rows):
        stream = io.StringIO(make_import_csv(size, SEED))
        with provision("sqlite", f"memory{size}", workdir, "") as url, engine_for(url) as engine:
            factory = make_session_factory(engine)
            with factory() as session, console.status(f"  importing {size:,} rows, traced"):
                tracemalloc.start()
                try:
                    import_customers(
                        session,
                        stream,
                        region="TW",
                        default_timezone="Asia/Taipei",
                        actor="bench",
                    )
                    session.commit()
                    peaks[size] = tracemalloc.get_traced_memory()[1]
                finally:
                    tracemalloc.stop()
    (small, small_peak), (large, large_peak) = sorted(peaks.items())
    value = f"{large_peak / 1e6:,.1f} MB"
    detail = (
        f"{large:,} rows; {small_peak / 1e6:,.1f} MB for {small:,} rows: "
        f"{large_peak / small_peak:.2f}× for {large / small:.0f}× the rows"
    )
    console.print(f"  import peak Python memory (tracemalloc): {value}, {detail}")
    return Figure("sqlite", "import peak Python memory", value, detail)
