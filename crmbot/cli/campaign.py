"""`crmbot campaign`: marketers' campaigns from create to report."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from channels.line_sender import with_lines_figures
from crm_store import campaigns, segments, variants
from crm_store.holdouts import (
    HELD_OUT,
    VariantComparison,
    campaign_uplift,
    outreach_uplift,
    variant_comparison,
)
from crm_store.line_usage import LinePlan, expected_pushes, quota_refusal
from crm_store.models import (
    DEFAULT_CONVERSION_DAYS,
    DEFAULT_HOLDOUT_PERCENT,
    Campaign,
    Channel,
    StaffUser,
)
from crm_store.settings import get_settings
from crm_store.tw_sms_rules import template_refusals
from crm_store.uplift import Group, Uplift
from crmbot.cli.common import fail, out, store_session

campaign_app = typer.Typer(
    help="Marketers' campaigns: create, preview, approve, schedule, pause, report.",
    no_args_is_help=True,
)

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
        typer.Option(
            help="LANGUAGE=TEXT (zh-TW, en); Jinja2 fields. Give a language several times"
            " for an A/B test: its first text is variant A, the next B, up to D, and every"
            " language lists as many."
        ),
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
    holdout: Annotated[
        int,
        typer.Option(
            help="Per cent of the audience held out and sent nothing, to measure the"
            " campaign's effect against (0: none)."
        ),
    ] = DEFAULT_HOLDOUT_PERCENT,
    conversion_days: Annotated[
        int, typer.Option(help="An order within this many days of the start counts.")
    ] = DEFAULT_CONVERSION_DAYS,
) -> None:
    """Create a draft campaign; someone else approves it before it can be scheduled."""
    templates: dict[str, list[str]] = {}
    for item in template:
        language, separator, text = item.partition("=")
        if not separator:
            raise fail(f"--template {item!r}: write LANGUAGE=TEXT")
        templates.setdefault(language.strip(), []).append(text)
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
                holdout_percent=holdout,
                conversion_days=conversion_days,
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
        line_meter = LinePlan.of(settings).meter(session, now=datetime.now(UTC))
    out.print(f"[bold]{shown.size}[/bold] recipients")
    if campaign.holdout_percent:
        held = round(shown.size * campaign.holdout_percent / 100)
        out.print(
            f"of whom about {held} ({campaign.holdout_percent} %) are held out and sent"
            f" nothing, to measure orders within {campaign.conversion_days} days against"
        )
    out.print(f"by language: {shown.by_language}   by channel: {shown.by_channel}")
    for refusal in template_refusals(
        campaign.templates,
        rules=settings.sending_policy.taiwan,
        sms_recipients=shown.by_channel.get(Channel.SMS.value, 0),
    ):
        out.print(f"SMS to Taiwanese numbers will be refused: {refusal}", markup=False)
    line_pushes = expected_pushes(shown.by_channel, holdout_percent=campaign.holdout_percent)
    if line_pushes:
        meter = with_lines_figures(line_meter, settings)
        out.print(f"LINE: about {line_pushes} pushes; {meter.left} left this month")
        over_quota = quota_refusal(line_pushes, meter)
        if over_quota is not None:
            out.print(f"the campaign will not start: {over_quota}", markup=False)
    for sample in shown.samples:
        variant = f"[{sample.variant}] " if sample.variant else ""
        out.print(
            f"— {variant}{sample.customer_name} ({sample.language}, {sample.channel}):"
            f" {sample.text}",
            markup=False,
        )


def _transition(
    campaign_id: int, by: str, step: Any, done: str, *, show_measurement: bool = False
) -> None:
    with store_session(get_settings()) as session:
        campaign = campaign_by_id(session, campaign_id)
        try:
            step(session, campaign, by=staff_by_email(session, by), now=datetime.now(UTC))
        except campaigns.CampaignError as error:
            raise fail(str(error)) from error
        status = campaign.status.value
        measurement = _measurement(campaign)
    out.print(f"campaign #{campaign_id} {done}; now {status}")
    if show_measurement:
        out.print(measurement, markup=False)


def _measurement(campaign: Campaign) -> str:
    """How the campaign will be measured, in one sentence, for whoever approves it."""
    versions = len(variants.variants(campaign.templates))
    held = (
        f"holds {campaign.holdout_percent} % of its audience out, sent nothing,"
        if campaign.holdout_percent
        else "holds no one out (its effect cannot be measured),"
    )
    split = f" splits the rest between {versions} versions at random," if versions > 1 else ""
    return f"it{' ' + held}{split} and counts orders within {campaign.conversion_days} days"


@campaign_app.command("approve")
def campaign_approve(campaign_id: int, by: By) -> None:
    """Approve a draft (a marketer or admin other than its author)."""
    _transition(campaign_id, by, campaigns.approve, "approved", show_measurement=True)


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
    """Audience, sent, delivered, failed, replied, opted out, converted (won back); for a
    campaign, birthdays or win-back with a holdout, the uplift over those held out."""
    uplift, compared, window = None, None, DEFAULT_CONVERSION_DAYS
    with store_session(get_settings()) as session:
        if campaign_id.isdigit():
            campaign = campaign_by_id(session, int(campaign_id))
            result = campaigns.report(session, campaign)
            uplift = campaign_uplift(session, campaign)
            compared = variant_comparison(session, campaign)
            window = campaign.conversion_days
        else:
            since, until = datetime.now(UTC) - timedelta(days=days), datetime.now(UTC)
            try:
                result = campaigns.built_in_report(session, campaign_id, since=since)
            except campaigns.CampaignError as error:
                raise fail(str(error)) from error
            if campaign_id in ("birthday", "winback"):
                uplift = outreach_uplift(session, campaign_id, since=since, until=until)
    table = Table(
        "measure", "count", title=f"#{result.campaign_id} {result.name} ({result.status})"
    )
    for name in (
        "audience", "sent", "delivered", "failed", "skipped", "waiting",
        "replied", "opted_out", "converted",
    ):  # fmt: skip
        table.add_row(name.replace("_", " "), str(getattr(result, name)))
    out.print(table)
    if uplift is not None:
        _print_uplift(uplift, window)
    if compared is not None:
        _print_variants(compared, window)


def _groups_table(title: str, window: int, groups: Iterable[tuple[str, Group]]) -> Table:
    """Each group's customers, orders within the window, conversion and revenue."""
    table = Table(
        "group",
        "customers",
        f"ordered within {window} days",
        "conversion",
        "revenue per customer",
        title=title,
    )
    for label, group in groups:
        table.add_row(
            label,
            f"{group.customers:,}",
            f"{group.converted:,}",
            f"{group.conversion:.1%}",
            f"NT${group.revenue_per_customer:,.0f}",
        )
    return table


def _print_uplift(uplift: Uplift, window: int) -> None:
    groups = (("messaged", uplift.sent), ("held out", uplift.held_out))
    out.print(_groups_table("Uplift over the customers held out", window, groups))
    if uplift.conclusive:
        assert uplift.conversion_interval is not None and uplift.revenue_interval is not None
        assert uplift.conversion_difference is not None and uplift.revenue_difference is not None
        orders, revenue = uplift.incremental_conversions, uplift.incremental_revenue
        assert orders is not None and revenue is not None
        conversion, spend = uplift.conversion_interval, uplift.revenue_interval
        out.print(
            f"conversion: {uplift.conversion_difference:+.1%} points"
            f" (95 % interval {conversion.low:+.1%} to {conversion.high:+.1%})"
        )
        out.print(
            f"revenue per customer: NT${uplift.revenue_difference:+,.0f}"
            f" (95 % interval NT${spend.low:+,.0f} to NT${spend.high:+,.0f})"
        )
        out.print(
            f"that is about {orders[0]:+,.0f} customers ordering"
            f" ({orders[1].low:+,.0f} to {orders[1].high:+,.0f})"
            f" and NT${revenue[0]:+,.0f} in revenue"
            f" (NT${revenue[1].low:+,.0f} to NT${revenue[1].high:+,.0f})"
            " that would not have come without the campaign"
        )
    out.print(uplift.verdict)


# What a comparison of two variants shows, by the finding (`Uplift.finding`).
PAIR_FINDINGS = {
    "too_small": "too few customers to compare {first} with {second}",
    "no_effect": "no difference between {first} and {second} could be shown",
    "more": "{first} made more customers order than {second}",
    "less": "{second} made more customers order than {first}",
}


def _group_name(group: str) -> str:
    return "held out" if group == HELD_OUT else f"variant {group}"


def _print_variants(compared: VariantComparison, window: int) -> None:
    groups = [(_group_name(name), group) for name, group in compared.groups.items()]
    out.print(_groups_table("Template variants", window, groups))
    pairs = [((name, HELD_OUT), uplift) for name, uplift in compared.against_holdout.items()]
    for (first, second), uplift in [*pairs, *compared.pairwise.items()]:
        names = {"first": _group_name(first), "second": _group_name(second)}
        line = f"{names['first']} against {names['second']}: "
        if uplift.conclusive:
            assert uplift.conversion_difference is not None
            assert uplift.conversion_interval is not None
            interval = uplift.conversion_interval
            line += (
                f"conversion {uplift.conversion_difference:+.1%} points"
                f" (95 % interval {interval.low:+.1%} to {interval.high:+.1%}); "
            )
        out.print(line + PAIR_FINDINGS[uplift.finding].format(**names), markup=False)
