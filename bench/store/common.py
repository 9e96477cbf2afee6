"""What the store benchmark's parts share: targets, sizes, figures and the console."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from rich.console import Console

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


# Wide enough for the summary when the output goes to a file or a pipe.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)


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
