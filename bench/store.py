"""Benchmark of the customer store at the scale of a million customers.

    .venv/bin/python -m bench.store [--customers 1000000] [--import-rows 100000]
        [--backends sqlite,postgresql] [--repeat 5]

For each backend it migrates a fresh database, fills it with customers in realistic
proportions (bulk Core inserts on SQLite, COPY on PostgreSQL), runs ANALYZE, and times
the scheduler's two big queries, `customers_with_birthday_today` and `lapsed_customers`,
against a plain ``SELECT count(*)`` in the same run. It then times `import_customers`
of a generated CSV into a second, empty database, next to the time that parsing and
checking the same file alone takes. It prints figures and a summary with the targets;
it never asserts. SQLite files live in a temporary folder; PostgreSQL databases are
named ``crmbot_bench_*`` and dropped at the end.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from sqlalchemy import URL, Engine, func, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from crm_store import migrate
from crm_store.customer_csv import (
    CustomerRow,
    ImportFailed,
    RowProblem,
    checked_batches,
    import_customers,
)
from crm_store.customers import customers_with_birthday_today, lapsed_customers
from crm_store.db import make_engine, make_session_factory
from crm_store.models import Base, Language, Tier

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BACKENDS = ("sqlite", "postgresql")
QUERY_TARGET_SECONDS = 1.0
QUERY_TARGET_CUSTOMERS = 1_000_000
IMPORT_TARGET_ROWS_PER_SECOND = 20_000
LAPSED_DAYS = 180
LAPSED_AT_MOST_DAYS = 720
LAPSED_LIMIT = 10_000
FILL_BATCH = 20_000
PARSE_REPEAT = 3
SEED = 20240229

CUSTOMERS = Base.metadata.tables["customers"]
FILL_COLUMNS = (
    "name",
    "email",
    "birthday",
    "birth_month",
    "birth_day",
    "language",
    "timezone",
    "tier",
    "notes",
    "first_order_at",
    "last_order_at",
    "order_count",
    "total_spent",
    "created_at",
    "updated_at",
    "erased_at",
)
IMPORT_COLUMNS = (
    "name",
    "phone",
    "telegram_chat_id",
    "email",
    "birthday",
    "language",
    "timezone",
    "tier",
    "marketing_consent",
    "tags",
)

# Mostly Taiwan, then the diaspora and neighbours; Auckland and Los Angeles stretch the
# local date as far as it goes from UTC's on either side.
TIME_ZONES: tuple[tuple[str, float], ...] = (
    ("Asia/Taipei", 70),
    ("America/Los_Angeles", 6),
    ("Asia/Tokyo", 4),
    ("Asia/Hong_Kong", 4),
    ("Asia/Shanghai", 3),
    ("Asia/Singapore", 3),
    ("America/New_York", 3),
    ("America/Vancouver", 2),
    ("Europe/London", 2),
    ("Australia/Sydney", 2),
    ("Pacific/Auckland", 1),
)
ASIAN_ZONES = frozenset(name for name, _ in TIME_ZONES if name.startswith("Asia/"))
SURNAMES = (
    "陳林黃張李王吳劉蔡楊許鄭謝洪郭邱曾廖賴徐"
    "周葉蘇莊呂江何蕭羅高潘簡朱鍾彭游詹胡施沈"
    "余盧梁趙顏柯翁魏孫戴"
)
GIVEN_NAME_CHARACTERS = "家怡志明淑芬俊傑雅婷宗翰冠宇佳穎承恩書豪欣子涵柏宏美玲建雯信靜宜嘉慧文彥"
ENGLISH_FIRST_NAMES = (
    "Amy", "Brian", "Cindy", "David", "Emily", "Frank", "Grace", "Henry", "Irene", "Jason",
    "Kevin", "Linda", "Michael", "Nancy", "Oliver", "Peggy", "Ryan", "Sophia", "Tony", "Vivian",
)  # fmt: skip
ENGLISH_LAST_NAMES = (
    "Chen", "Lin", "Huang", "Chang", "Lee", "Wang", "Wu", "Liu", "Tsai", "Yang", "Smith",
    "Brown", "Taylor", "Wilson", "Nguyen", "Tanaka", "Kim", "Wong", "Ng", "Tan",
)  # fmt: skip
TAGS = ("newsletter", "wholesale", "taipei", "kaohsiung", "pets", "beauty", "3c", "gift")
FIRST_BIRTHDAY = date(1950, 1, 1).toordinal()
LAST_BIRTHDAY = date(2007, 12, 31).toordinal()
DAY = 86_400.0

# Wide enough for the summary when the output goes to a file or a pipe.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)


# --- figures ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Figure:
    """One line of the summary."""

    backend: str
    measure: str
    value: str
    detail: str = ""
    target: str = "—"
    met: bool | None = None


@dataclass(frozen=True, slots=True)
class Timing:
    """Repeated runs of one query: median and fastest, and how many rows it returned."""

    median: float
    best: float
    rows: int


def seconds_text(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms" if seconds < 1 else f"{seconds:,.2f} s"


def met_text(met: bool | None) -> str:
    if met is None:
        return ""
    return "[green]yes[/]" if met else "[bold red]NO[/]"


# --- generated data -----------------------------------------------------------------


class CustomerGenerator:
    """Customers in realistic proportions, as rows in `FILL_COLUMNS` order.

    Birthdays spread over every day of the year from 1950 to 2007 (so 29 February turns
    up about once in 1,461 customers) and one in ten unknown; about 60% have ordered, their
    last order spread evenly over three years before `now`; tiers follow money spent.
    """

    def __init__(self, seed: int, now: datetime) -> None:
        self.rng = random.Random(seed)
        self.now = now
        self.index = 0
        self.zone_names = [name for name, _ in TIME_ZONES]
        self.zone_weights = [weight for _, weight in TIME_ZONES]

    def batch(self, size: int) -> list[tuple[Any, ...]]:
        rng = self.rng
        now = self.now
        zones = rng.choices(self.zone_names, self.zone_weights, k=size)
        rows: list[tuple[Any, ...]] = []
        for zone_name in zones:
            self.index += 1
            english = rng.random() < (0.08 if zone_name in ASIAN_ZONES else 0.7)
            birthday = (
                date.fromordinal(rng.randint(FIRST_BIRTHDAY, LAST_BIRTHDAY))
                if rng.random() < 0.9
                else None
            )
            first_order_at: datetime | None = None
            last_order_at: datetime | None = None
            order_count = 0
            cents = 0
            if rng.random() < 0.6:
                last_order_at = now - timedelta(seconds=rng.random() * 3 * 365 * DAY)
                order_count = 1 + min(int(rng.expovariate(1 / 2.5)), 199)
                first_order_at = (
                    last_order_at - timedelta(seconds=rng.random() * 2 * 365 * DAY)
                    if order_count > 1
                    else last_order_at
                )
                cents = round(order_count * rng.lognormvariate(7.0, 0.8) * 100)
            created_at = (first_order_at or now) - timedelta(seconds=rng.random() * 365 * DAY)
            rows.append(
                (
                    self._name(english),
                    f"customer{self.index}@example.com" if rng.random() < 0.55 else None,
                    birthday,
                    birthday.month if birthday else None,
                    birthday.day if birthday else None,
                    Language.EN.value if english else Language.ZH_TW.value,
                    zone_name,
                    _tier(cents).value,
                    "prefers delivery in the morning" if rng.random() < 0.02 else None,
                    first_order_at,
                    last_order_at,
                    order_count,
                    Decimal(cents).scaleb(-2),
                    created_at,
                    last_order_at or created_at,
                    None,
                )
            )
        return rows

    def _name(self, english: bool) -> str:
        rng = self.rng
        if english:
            return f"{rng.choice(ENGLISH_FIRST_NAMES)} {rng.choice(ENGLISH_LAST_NAMES)}"
        given = "".join(rng.choices(GIVEN_NAME_CHARACTERS, k=2))
        return rng.choice(SURNAMES) + given


def _tier(cents: int) -> Tier:
    if cents >= 6_000_000:
        return Tier.VIP
    if cents >= 2_000_000:
        return Tier.GOLD
    if cents >= 600_000:
        return Tier.SILVER
    return Tier.STANDARD


def make_import_csv(rows: int, seed: int) -> str:
    """A customer CSV of `rows` new customers with distinct Taiwanese mobile numbers."""
    rng = random.Random(seed)
    generator = CustomerGenerator(seed + 1, datetime.now(UTC))
    # TW mobiles are 09[0-8] plus seven digits; 091 to 098 keeps clear of the odd 090s.
    mobiles = rng.sample(range(10_000_000, 90_000_000), rows)
    chat_ids = iter(rng.sample(range(100_000_000, 7_000_000_000), rows))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(IMPORT_COLUMNS)
    for mobile, customer in zip(mobiles, generator.batch(rows), strict=True):
        (name, email, birthday, _, _, language, zone_name, tier) = customer[:8]
        tags = ";".join(rng.sample(TAGS, k=rng.choice((0, 0, 0, 1, 1, 2))))
        writer.writerow(
            (
                name,
                f"09{mobile:08d}",
                next(chat_ids) if rng.random() < 0.3 else "",
                email or "",
                birthday.isoformat() if birthday else "",
                language,
                "" if zone_name == "Asia/Taipei" and rng.random() < 0.5 else zone_name,
                tier,
                "yes" if rng.random() < 0.65 else "no",
                tags,
            )
        )
    return out.getvalue()


# --- databases ----------------------------------------------------------------------


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


# --- timings ------------------------------------------------------------------------


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


# --- the run ------------------------------------------------------------------------


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.store", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--customers", type=int, default=1_000_000, help="customers to fill")
    parser.add_argument("--import-rows", type=int, default=100_000, help="rows of the CSV import")
    parser.add_argument(
        "--backends", default=",".join(BACKENDS), help="comma-separated: sqlite,postgresql"
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs of each query")
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help="a database to connect to for creating and dropping crmbot_bench_* databases",
    )
    arguments = parser.parse_args(argv)
    arguments.backends = [name.strip() for name in arguments.backends.split(",") if name.strip()]
    unknown = sorted(set(arguments.backends) - set(BACKENDS))
    if unknown:
        parser.error(f"unknown backend(s) {', '.join(unknown)}; choose from {', '.join(BACKENDS)}")
    if arguments.customers < 1 or arguments.import_rows < 1 or arguments.repeat < 1:
        parser.error("--customers, --import-rows and --repeat must be at least 1")
    return arguments


def print_summary(figures: list[Figure], customers: int) -> None:
    table = Table(title=f"customer store benchmark — {customers:,} customers", title_justify="left")
    for column in ("backend", "measure", "figure", "detail", "target", "met"):
        table.add_column(column, overflow="fold")
    for figure in figures:
        table.add_row(
            figure.backend,
            figure.measure,
            figure.value,
            figure.detail,
            figure.target,
            met_text(figure.met),
        )
    console.print(table)
    if customers != QUERY_TARGET_CUSTOMERS:
        console.print(
            f"(the query targets are for {QUERY_TARGET_CUSTOMERS:,} customers; "
            f"this run had {customers:,})"
        )


def main(argv: Sequence[str] | None = None) -> None:
    arguments = parse_arguments(argv)
    now = datetime.now(UTC)
    console.print(
        f"customer store benchmark: {arguments.customers:,} customers, "
        f"{arguments.import_rows:,} import rows, backends {', '.join(arguments.backends)}, "
        f"{arguments.repeat} runs per query, now = {now:%Y-%m-%d %H:%M} UTC"
    )
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="crmbot_bench_") as folder:
        workdir = Path(folder)
        start = time.perf_counter()
        csv_text = make_import_csv(arguments.import_rows, SEED)
        console.print(
            f"generated the import CSV ({arguments.import_rows:,} rows, "
            f"{len(csv_text) / 1e6:,.1f} MB) in {time.perf_counter() - start:,.1f} s"
        )
        parse_figure, parse_seconds = bench_parse(
            csv_text, arguments.import_rows, min(arguments.repeat, PARSE_REPEAT)
        )
        figures.append(parse_figure)
        for backend in arguments.backends:
            console.rule(backend)
            with provision(backend, "queries", workdir, arguments.postgres_url) as url:
                figures += bench_queries(
                    backend, url, customers=arguments.customers, repeat=arguments.repeat, now=now
                )
            with provision(backend, "import", workdir, arguments.postgres_url) as url:
                figures.append(
                    bench_import(backend, url, csv_text, arguments.import_rows, parse_seconds)
                )
        if "sqlite" in arguments.backends:
            figures.append(bench_import_memory(workdir, arguments.import_rows))
    console.rule("summary")
    print_summary(figures, arguments.customers)


if __name__ == "__main__":
    main()
