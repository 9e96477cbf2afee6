"""`crmbot`, the command line for operators and marketers.

This package sits at the top of the import graph (like `tests/`): it wires the
store, the channels and the scheduler together for people at a terminal.
"""

from __future__ import annotations

import getpass
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store import campaigns, migrate, segments
from crm_store.analytics import lifetime_value, rfm_scores
from crm_store.customer_csv import ImportFailed, import_customers, write_customers_csv
from crm_store.customers import (
    CustomerNotFound,
    forget_customer,
    get_customer,
    open_tickets,
    recent_orders,
)
from crm_store.db import make_engine, make_session_factory, session_scope
from crm_store.demo import load_demo_data, store_has_customers
from crm_store.forked import ChildProcessFailed
from crm_store.models import Campaign, Language, StaffRole, StaffUser
from crm_store.settings import PROJECT_ROOT, VAR_DIR, Settings, get_settings
from crm_store.staff import StaffUserExists, WeakPassword, create_staff_user
from crmbot.rasa_endpoints import UnsupportedStore, write_endpoints

CLI_ACTOR = "cli"
MAX_PROBLEMS_SHOWN = 200

app = typer.Typer(
    help="Operate the customer-engagement bot: database, customers, staff and demo data.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
db_app = typer.Typer(help="The customer store's schema.", no_args_is_help=True)
import_app = typer.Typer(help="Bring data in from files.", no_args_is_help=True)
export_app = typer.Typer(help="Write data out to files.", no_args_is_help=True)
customer_app = typer.Typer(help="Look up or erase one customer.", no_args_is_help=True)
staff_app = typer.Typer(help="Console users.", no_args_is_help=True)
campaign_app = typer.Typer(
    help="Marketers' campaigns: create, preview, approve, schedule, pause, report.",
    no_args_is_help=True,
)
app.add_typer(db_app, name="db")
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")
app.add_typer(customer_app, name="customer")
app.add_typer(staff_app, name="staff")
app.add_typer(campaign_app, name="campaign")

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


# --- db -------------------------------------------------------------------------------


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


# --- demo data ------------------------------------------------------------------------


@app.command("demo-data")
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


# --- import / export ------------------------------------------------------------------


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


# --- customer -------------------------------------------------------------------------


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


# --- staff ----------------------------------------------------------------------------


@staff_app.command("add")
def staff_add(
    email: Annotated[str, typer.Argument(help="Sign-in e-mail address.")],
    role: Annotated[StaffRole, typer.Option(help="What the user may do.")] = StaffRole.AGENT,
    name: Annotated[str, typer.Option(help="Name shown to colleagues.")] = "",
    language: Annotated[Language, typer.Option(help="Console language.")] = Language.ZH_TW,
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from standard input (for scripts).")
    ] = False,
) -> None:
    """Add a console user; the password is asked for (twice) unless --password-stdin."""
    settings = get_settings()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise fail("the passwords differ")
    with store_session(settings) as session:
        try:
            user = create_staff_user(
                session=session,
                email=email,
                display_name=name,
                role=role,
                password=password,
                language=language,
                actor=CLI_ACTOR,
            )
        except (StaffUserExists, WeakPassword, ValueError) as error:
            raise fail(str(error)) from error
    out.print(f"staff user #{user.id} {user.email} added as {user.role.value}")


DEMO_ADMIN = "admin@demo.local"


@staff_app.command("demo-admin")
def staff_demo_admin() -> None:
    """Create a demo admin with a generated password, printed once (for `make run`).

    Does nothing when any staff user exists: a shop that added its own staff gets no
    demo account.
    """
    settings = get_settings()
    with store_session(settings) as session:
        if session.scalar(select(func.count()).select_from(StaffUser)):
            out.print("staff users exist; no demo admin created")
            return
        password = secrets.token_urlsafe(12)
        create_staff_user(
            session=session,
            email=DEMO_ADMIN,
            display_name="Demo admin",
            role=StaffRole.ADMIN,
            password=password,
            actor=CLI_ACTOR,
        )
    out.print(
        f"[bold]Demo admin created.[/bold] Sign in at {settings.public_base_url}/console as\n"
        f"  e-mail:   {DEMO_ADMIN}\n  password: {password}\n"
        "(shown only this once; add real staff with `crmbot staff add`)"
    )


# --- campaigns ---------------------------------------------------------------------------

By = Annotated[str, typer.Option("--by", help="E-mail of the staff user doing this.")]


def staff_by_email(session: Session, email: str) -> StaffUser:
    user = session.scalar(select(StaffUser).where(func.lower(StaffUser.email) == email.lower()))
    if user is None or not user.active:
        raise fail(f"no active staff user {email}")
    return user


def campaign_by_id(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise fail(f"no campaign {campaign_id}")
    return campaign


def _segment(value: str) -> dict[str, Any]:
    path = Path(value)
    text = path.read_text(encoding="utf-8") if path.suffix == ".json" and path.exists() else value
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise fail(f"--segment is not JSON (or a .json file): {error}") from error
    if not isinstance(data, dict):
        raise fail('--segment must be a JSON object, e.g. \'{"tiers": ["gold"]}\'')
    return data


@campaign_app.command("create")
def campaign_create(
    name: Annotated[str, typer.Argument(help="What the campaign is called.")],
    by: By,
    template: Annotated[
        list[str],
        typer.Option(help="LANGUAGE=TEXT, once per language (zh-TW, en); Jinja2 fields."),
    ],
    segment: Annotated[
        str, typer.Option(help='Who gets it: JSON or a .json file, e.g. \'{"tiers": ["vip"]}\'.')
    ] = "{}",
    send_at: Annotated[
        datetime | None, typer.Option(help="When (ISO 8601 with offset; default: on scheduling).")
    ] = None,
    recurrence: Annotated[
        str | None, typer.Option(help="Repeat on a crontab schedule (UTC), e.g. '0 2 * * MON'.")
    ] = None,
) -> None:
    """Create a draft campaign; someone else approves it before it can be scheduled."""
    templates: dict[str, str] = {}
    for item in template:
        language, separator, text = item.partition("=")
        if not separator:
            raise fail(f"--template {item!r}: write LANGUAGE=TEXT")
        templates[language.strip()] = text
    if send_at is not None and send_at.tzinfo is None:
        raise fail("--send-at needs a time zone offset, e.g. 2026-12-01T10:00+08:00")
    with store_session(get_settings()) as session:
        try:
            campaign = campaigns.create(
                session,
                name=name,
                segment=_segment(segment),
                message_templates=templates,
                send_at=send_at,
                recurrence=recurrence,
                by=staff_by_email(session, by),
                now=datetime.now(UTC),
            )
        except campaigns.CampaignError as error:
            raise fail(str(error)) from error
        campaign_id = campaign.id
    out.print(f"campaign #{campaign_id} created as a draft; preview it, then have it approved")


@campaign_app.command("preview")
def campaign_preview(campaign_id: int) -> None:
    """How many it would reach now, by language and channel, and rendered samples."""
    settings = get_settings()
    with store_session(settings) as session:
        campaign = campaign_by_id(session, campaign_id)
        shown = segments.preview(
            session,
            segments.Segment.from_dict(campaign.segment),
            campaign.templates,
            now=datetime.now(UTC),
            shop=settings.shop_name,
        )
    out.print(f"[bold]{shown.size}[/bold] recipients")
    out.print(f"by language: {shown.by_language}   by channel: {shown.by_channel}")
    for sample in shown.samples:
        out.print(f"— {sample.customer_name} ({sample.language}, {sample.channel}): {sample.text}")


def _transition(campaign_id: int, by: str, step: Any, done: str) -> None:
    with store_session(get_settings()) as session:
        campaign = campaign_by_id(session, campaign_id)
        try:
            step(session, campaign, by=staff_by_email(session, by), now=datetime.now(UTC))
        except campaigns.CampaignError as error:
            raise fail(str(error)) from error
        status = campaign.status.value
    out.print(f"campaign #{campaign_id} {done}; now {status}")


@campaign_app.command("approve")
def campaign_approve(campaign_id: int, by: By) -> None:
    """Approve a draft (a marketer or admin other than its author)."""
    _transition(campaign_id, by, campaigns.approve, "approved")


@campaign_app.command("schedule")
def campaign_schedule(campaign_id: int, by: By) -> None:
    """Schedule an approved campaign for its send time (now when it has none)."""
    _transition(campaign_id, by, campaigns.schedule, "scheduled")


@campaign_app.command("pause")
def campaign_pause(campaign_id: int, by: By) -> None:
    _transition(campaign_id, by, campaigns.pause, "paused")


@campaign_app.command("resume")
def campaign_resume(campaign_id: int, by: By) -> None:
    _transition(campaign_id, by, campaigns.resume, "resumed")


@campaign_app.command("cancel")
def campaign_cancel(campaign_id: int, by: By) -> None:
    """Cancel; messages not yet sent are never sent."""
    _transition(campaign_id, by, campaigns.cancel, "cancelled")


@campaign_app.command("list")
def campaign_list() -> None:
    with store_session(get_settings()) as session:
        rows = list(session.scalars(select(Campaign).order_by(Campaign.id)))
        table = Table("id", "name", "kind", "status", "send at", "recurrence")
        for c in rows:
            send_at = c.send_at.isoformat(timespec="minutes") if c.send_at else ""
            table.add_row(
                str(c.id), c.name, c.kind.value, c.status.value, send_at, c.recurrence or ""
            )
    out.print(table)


@campaign_app.command("report")
def campaign_report(
    campaign_id: Annotated[
        str, typer.Argument(help="A campaign's id, or birthday, survey or winback.")
    ],
    days: Annotated[int, typer.Option(help="For the built-in ones: the last N days.")] = 30,
) -> None:
    """Audience, sent, delivered, failed, replied, opted out, converted (won back)."""
    with store_session(get_settings()) as session:
        if campaign_id.isdigit():
            result = campaigns.report(session, campaign_by_id(session, int(campaign_id)))
        else:
            try:
                result = campaigns.built_in_report(
                    session, campaign_id, since=datetime.now(UTC) - timedelta(days=days)
                )
            except campaigns.CampaignError as error:
                raise fail(str(error)) from error
    table = Table(
        "measure", "count", title=f"#{result.campaign_id} {result.name} ({result.status})"
    )
    for name in (
        "audience", "sent", "delivered", "failed", "skipped", "waiting",
        "replied", "opted_out", "converted",
    ):  # fmt: skip
        table.add_row(name.replace("_", " "), str(getattr(result, name)))
    out.print(table)


# --- the assistant ---------------------------------------------------------------------


@app.command("train")
def train() -> None:
    """Train the Rasa model from bot/data into bot/models (the Rasa environment's job)."""
    rasa = PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"
    if not rasa.exists():
        raise fail("the Rasa environment .venv-rasa is missing; run `make setup` first")
    command = [
        str(rasa),
        "train",
        "--config",
        "config.yml",
        "--domain",
        "domain.yml",
        "--data",
        "bot/data",
        "--out",
        "bot/models",
        "--fixed-model-name",
        "assistant",
    ]
    environment = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}
    result = subprocess.run(command, cwd=PROJECT_ROOT, env=environment, check=False)
    if result.returncode != 0:
        raise fail(f"training failed (exit code {result.returncode})")
    out.print("model saved to bot/models/assistant.tar.gz")


@app.command("rasa-endpoints")
def rasa_endpoints_command(
    path: Annotated[Path, typer.Argument(help="where to write it")] = VAR_DIR / "endpoints.yml",
) -> None:
    """Write Rasa's endpoints file (action server, tracker and lock stores) from the settings."""
    try:
        write_endpoints(get_settings(), path)
    except UnsupportedStore as error:
        raise fail(str(error)) from error


def main() -> None:
    app()
