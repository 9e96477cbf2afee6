"""`crmbot import` and `crmbot export`: customers in and out as CSV."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from crm_store.customer_csv import ImportFailed, import_customers, write_customers_csv
from crm_store.forked import ChildProcessFailed
from crm_store.settings import get_settings
from crmbot.cli.common import CLI_ACTOR, err, fail, out, store_session

MAX_PROBLEMS_SHOWN = 200

import_app = typer.Typer(help="Bring data in from files.", no_args_is_help=True)
export_app = typer.Typer(help="Write data out to files.", no_args_is_help=True)


def _count_data_lines(path: Path, encoding: str) -> int:
    with path.open(encoding=encoding, errors="replace", newline="") as stream:
        return max(sum(1 for _ in stream) - 1, 0)


@import_app.command("customers")
def import_customers_command(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="CSV file.")
    ],
    skip_existing: Annotated[
        bool, typer.Option(help="Leave out rows whose phone or chat id is already stored.")
    ] = False,
    encoding: Annotated[
        str, typer.Option(help="Text encoding of the file, e.g. utf-8 or big5 (cp950).")
    ] = "utf-8-sig",
) -> None:
    """Import customers from CSV: all rows or none.

    Columns (a header row is required; only [bold]name[/] must be there): name, phone,
    telegram_chat_id, email, birthday (YYYY-MM-DD), language (zh-TW or en), timezone
    (IANA, e.g. Asia/Taipei), tier (standard, silver, gold, vip), marketing_consent
    (yes/no), tags (separated by ;), notes. Phone numbers are normalised to E.164 with
    DEFAULT_REGION for numbers written without a country code.
    """
    settings = get_settings()
    try:
        "".encode(encoding)
    except LookupError as error:
        raise fail(f"unknown encoding {encoding!r}") from error
    total = _count_data_lines(file, encoding)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )
    try:
        with (
            progress,
            store_session(settings) as session,
            file.open(encoding=encoding, newline="") as stream,
        ):
            checking = progress.add_task("checking rows", total=total)
            writing = progress.add_task("writing", total=total, visible=False)

            def written(count: int) -> None:
                progress.update(writing, advance=count, visible=True)

            result = import_customers(
                session,
                stream,
                region=settings.default_region,
                default_timezone=settings.default_timezone,
                actor=CLI_ACTOR,
                skip_existing=skip_existing,
                on_checked=lambda count: progress.advance(checking, count),
                on_written=written,
            )
    except ImportFailed as failure:
        for problem in failure.problems[:MAX_PROBLEMS_SHOWN]:
            err.print(f"{file}: {problem}", markup=False, highlight=False)
        if len(failure.problems) > MAX_PROBLEMS_SHOWN:
            err.print(f"... and {len(failure.problems) - MAX_PROBLEMS_SHOWN} more")
        raise fail(f"{failure}") from failure
    except ChildProcessFailed as failure:
        raise fail(f"nothing was imported: {escape(str(failure))}") from failure
    message = f"imported {result.imported} customers"
    if result.skipped_existing:
        message += f", skipped {result.skipped_existing} already in the store"
    out.print(message)


@export_app.command("customers")
def export_customers_command(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
) -> None:
    """Export every customer (erased ones left out) as CSV, in the import's columns."""
    settings = get_settings()
    with store_session(settings) as session:
        if output is None:
            count = write_customers_csv(session, sys.stdout)
        else:
            with output.open("w", encoding="utf-8", newline="") as stream:
                count = write_customers_csv(session, stream)
    err.print(f"exported {count} customers")
