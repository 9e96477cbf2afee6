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

from bench.store.databases import fill_customers

__all__ = ["fill_customers"]
