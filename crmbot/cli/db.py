"""`crmbot db`: the customer store's schema."""

from __future__ import annotations

from typing import Annotated

import typer

from crm_store import migrate
from crm_store.db import make_engine
from crm_store.settings import get_settings
from crmbot.cli.common import out

db_app = typer.Typer(help="The customer store's schema.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Create or migrate the schema (idempotent)."""
    settings = get_settings()
    migrate.upgrade(settings.database_url, revision)
    engine = make_engine(settings.database_url)
    try:
        out.print(f"database at revision [bold]{migrate.current_revision(engine)}[/]")
    finally:
        engine.dispose()
