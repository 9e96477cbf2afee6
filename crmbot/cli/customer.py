"""`crmbot customer`: look up or erase one customer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from crm_store.analytics import lifetime_value, rfm_scores
from crm_store.customers import (
    CustomerNotFound,
    forget_customer,
    get_customer,
    open_tickets,
    recent_orders,
)
from crm_store.settings import get_settings
from crmbot.cli.common import CLI_ACTOR, fail, out, store_session

customer_app = typer.Typer(help="Look up or erase one customer.", no_args_is_help=True)


@customer_app.command("show")
def customer_show(
    key: Annotated[str, typer.Argument(metavar="ID|PHONE", help="Customer id or phone.")],
) -> None:
    """Show a customer's profile: channels and consent, value, orders and open tickets."""
    settings = get_settings()
    now = datetime.now(UTC)
    with store_session(settings) as session:
        try:
            customer = get_customer(session, key, region=settings.default_region)
        except CustomerNotFound as error:
            raise fail(str(error)) from error
        profile = Table.grid(padding=(0, 2))
        profile.add_row("customer", f"#{customer.id} {customer.name}")
        if customer.erased_at:
            profile.add_row("erased", customer.erased_at.isoformat(timespec="seconds"))
        profile.add_row("language", customer.language.value)
        profile.add_row("time zone", customer.timezone)
        profile.add_row("tier", customer.tier.value)
        profile.add_row("birthday", customer.birthday.isoformat() if customer.birthday else "-")
        profile.add_row("e-mail", customer.email or "-")
        profile.add_row("tags", ", ".join(tag.tag for tag in customer.tags) or "-")
        profile.add_row("orders", f"{customer.order_count}, {customer.total_spent} TWD in total")
        profile.add_row("lifetime value", f"{lifetime_value(customer, now=now)} TWD (estimate)")
        score = rfm_scores(session, now=now, customer_ids=[customer.id]).get(customer.id)
        if score is not None:
            profile.add_row("RFM", f"{score.code} ({score.segment})")
        out.print(profile)

        channels = Table(
            "channel", "address", "consent", "opted out", "reachable", title="channels"
        )
        for identity in customer.identities:
            channels.add_row(
                identity.channel.value,
                identity.address,
                "yes" if identity.marketing_consent else "no",
                identity.opted_out_at.date().isoformat()
                if identity.opted_out_at
                else ("yes" if identity.opted_out else "no"),
                "yes" if identity.reachable else f"no ({identity.unreachable_reason or '?'})",
            )
        out.print(channels)

        orders = Table("order", "placed", "status", "total", title="recent orders")
        for order in recent_orders(session, customer.id):
            orders.add_row(
                order.number,
                order.placed_at.date().isoformat(),
                order.status.value,
                f"{order.total} {order.currency}",
            )
        out.print(orders)

        tickets = Table(
            "ticket", "opened", "category", "status", "steps done", title="open tickets"
        )
        for ticket in open_tickets(session, customer.id):
            tickets.add_row(
                ticket.reference,
                ticket.created_at.date().isoformat(),
                ticket.category.value,
                ticket.status.value,
                ", ".join(str(s) for s in sorted({s.step for s in ticket.steps})),
            )
        out.print(tickets)


@customer_app.command("forget")
def customer_forget(
    customer_id: Annotated[int, typer.Argument(metavar="ID", help="Customer id.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase a customer's personal data on request; anonymous totals stay for reports."""
    settings = get_settings()
    with store_session(settings) as session:
        try:
            customer = get_customer(session, str(customer_id), region=settings.default_region)
        except CustomerNotFound as error:
            raise fail(str(error)) from error
        if customer.erased_at is not None:
            out.print(
                f"customer #{customer_id} was already erased on {customer.erased_at:%Y-%m-%d}"
            )
            return
        if not yes and not typer.confirm(
            f"Erase the personal data of customer #{customer_id} ({customer.name})? "
            "This cannot be undone."
        ):
            raise typer.Exit(1)
        forget_customer(session, customer_id, actor=CLI_ACTOR)
    out.print(f"customer #{customer_id} erased")
