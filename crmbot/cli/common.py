"""What every command group shares: the consoles, the error exit and the store session."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from crm_store import migrate
from crm_store.db import make_engine, make_session_factory, session_scope
from crm_store.settings import Settings

CLI_ACTOR = "cli"

out = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


@contextmanager
def store_session(settings: Settings) -> Iterator[Session]:
    """A session on the configured store that commits on success."""
    engine = make_engine(settings.database_url)
    try:
        if migrate.current_revision(engine) is None:
            raise fail("the database has no schema yet; run `crmbot db upgrade` first")
        with session_scope(make_session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()
