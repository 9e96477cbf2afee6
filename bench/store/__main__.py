"""Benchmark of the customer store at the scale of a million customers.

The run, as `python -m bench.store`; what it measures is told in bench/store/__init__.py.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from rich.table import Table

from bench.store.common import (
    BACKENDS,
    DEFAULT_POSTGRES_URL,
    PARSE_REPEAT,
    QUERY_TARGET_CUSTOMERS,
    SEED,
    Figure,
    console,
    met_text,
)
from bench.store.databases import provision
from bench.store.generated import make_import_csv
from bench.store.timings import bench_import, bench_import_memory, bench_parse, bench_queries


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
