"""`crmbot demo-data`: a bilingual demo shop in the store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from crm_store.demo import load_demo_data, store_has_customers
from crm_store.settings import get_settings
from crmbot.cli.common import out, store_session


def demo_data(
    customers: Annotated[int, typer.Option(min=1, max=100_000, help="How many customers.")] = 300,
    seed: Annotated[int, typer.Option(help="Same seed, same shop.")] = 2026,
    force: Annotated[
        bool, typer.Option(help="Add the demo shop even when customers exist.")
    ] = False,
) -> None:
    """Fill the store with a bilingual demo shop (skipped when customers exist)."""
    settings = get_settings()
    with store_session(settings) as session:
        if store_has_customers(session) and not force:
            out.print("the store already has customers; demo data not loaded (use --force)")
            return
        with out.status("creating the demo shop..."):
            summary = load_demo_data(
                session,
                now=datetime.now(UTC),
                customers=customers,
                seed=seed,
                default_region=settings.default_region,
            )
    out.print(
        f"demo shop loaded: {summary.customers} customers, {summary.products} products, "
        f"{summary.orders} orders, {summary.tickets} tickets; {summary.birthdays_today} "
        f"birthdays today, {summary.lapsed} lapsed, {summary.opted_out} opted out"
    )
