"""`crmbot`, the command line for operators and marketers.

This package sits at the top of the import graph (like `tests/`): it wires the
store, the channels and the scheduler together for people at a terminal. Each
command group has its module; what they share is in `common`.
"""

from __future__ import annotations

import typer

from crmbot.cli.assistant import rasa_endpoints_command, train
from crmbot.cli.campaign import campaign_app
from crmbot.cli.customer import customer_app
from crmbot.cli.db import db_app
from crmbot.cli.demo import demo_data
from crmbot.cli.staff import staff_app
from crmbot.cli.transfer import export_app, import_app

app = typer.Typer(
    help="Operate the customer-engagement bot: database, customers, staff and demo data.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(db_app, name="db")
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")
app.add_typer(customer_app, name="customer")
app.add_typer(staff_app, name="staff")
app.add_typer(campaign_app, name="campaign")
app.command("demo-data")(demo_data)
app.command("train")(train)
app.command("rasa-endpoints")(rasa_endpoints_command)


def main() -> None:
    app()
