"""Marketers' campaigns: the list, a new campaign, one campaign with its audience
preview and results, and the steps from draft to sent (approve, schedule, pause,
resume, cancel)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session, sessionmaker

from channels.line_sender import with_lines_figures
from console import charts
from console.deps import Clock, Marketer, SessionFactory, SettingsDep
from console.pages import Render, Renderer
from crm_store import campaigns, listings, reports, segments
from crm_store.db import session_scope
from crm_store.holdouts import (
    HELD_OUT,
    MESSAGED,
    ConversionDay,
    campaign_uplift,
    cumulative_conversions,
    outreach_uplift,
    variant_comparison,
)
from crm_store.line_usage import LinePlan, expected_pushes, quota_refusal
from crm_store.models import DEFAULT_HOLDOUT_PERCENT, Campaign, Channel, StaffUser
from crm_store.settings import Settings
from crm_store.tw_sms_rules import template_refusals
from crm_store.uplift import MIN_CONVERSIONS, MIN_GROUP

router = APIRouter(prefix="/console", include_in_schema=False)

# The steps a marketer takes a campaign through, by the name in the page's URL.
STEPS = {
    "approve": campaigns.approve,
    "schedule": campaigns.schedule,
    "pause": campaigns.pause,
    "resume": campaigns.resume,
    "cancel": campaigns.cancel,
}


# How far back the campaigns page measures the built-in outreach.
OUTREACH_REPORT_DAYS = 30


def campaigns_page(
    factory: sessionmaker[Session],
    render: Renderer,
    user: StaffUser,
    *,
    now: datetime,
    **context: Any,
) -> HTMLResponse:
    since = now - timedelta(days=OUTREACH_REPORT_DAYS)
    with factory() as session:
        rows = listings.campaigns_newest_first(session)
        outreach = {
            kind: outreach_uplift(session, kind, since=since, until=now)
            for kind in ("winback", "birthday")
        }
    status = 400 if context.get("error") else 200
    return render(
        "campaigns.html",
        user,
        status=status,
        campaigns=rows,
        outreach_uplift={kind: uplift for kind, uplift in outreach.items() if uplift},
        outreach_days=OUTREACH_REPORT_DAYS,
        min_group=MIN_GROUP,
        min_conversions=MIN_CONVERSIONS,
        **context,
    )


@router.get("/campaigns", response_class=HTMLResponse)
async def campaign_list(
    user: Marketer, factory: SessionFactory, render: Render, clock: Clock
) -> HTMLResponse:
    return await asyncio.to_thread(campaigns_page, factory, render, user, now=clock(), form={})


@router.post("/campaigns", response_model=None)
async def campaign_create(
    name: Annotated[str, Form()],
    user: Marketer,
    factory: SessionFactory,
    settings: SettingsDep,
    clock: Clock,
    render: Render,
    segment: Annotated[str, Form()] = "{}",
    # Variant A first, then the A/B test's other versions; blank ones are left out.
    template_zh: Annotated[list[str] | None, Form()] = None,
    template_en: Annotated[list[str] | None, Form()] = None,
    send_at: Annotated[str, Form()] = "",
    recurrence: Annotated[str, Form()] = "",
    holdout_percent: Annotated[int, Form(ge=0, le=100)] = DEFAULT_HOLDOUT_PERCENT,
) -> Response:
    written = {"zh-TW": template_zh or [], "en": template_en or []}
    form = {
        "holdout_percent": holdout_percent,
        "name": name,
        "segment": segment,
        "template_zh": written["zh-TW"],
        "template_en": written["en"],
        "send_at": send_at,
        "recurrence": recurrence,
    }

    def work() -> int | str:
        try:
            chosen = json.loads(segment or "{}")
            if not isinstance(chosen, dict):
                return 'segment: write a JSON object, e.g. {"tiers": ["gold"]}'
            when = None
            if send_at:
                zone = settings.opening_hours.timezone
                when = datetime.fromisoformat(send_at).replace(tzinfo=zone)
        except ValueError as error:
            return str(error)
        templates = {
            language: [text for text in texts if text.strip()]
            for language, texts in written.items()
            if any(text.strip() for text in texts)
        }
        with session_scope(factory) as session:
            try:
                created = campaigns.create(
                    session,
                    name=name,
                    segment=chosen,
                    message_templates=templates,
                    send_at=when,
                    recurrence=recurrence.strip() or None,
                    by=user,
                    now=clock(),
                    holdout_percent=holdout_percent,
                )
            except campaigns.CampaignError as error:
                session.rollback()
                return str(error)
            return created.id

    result = await asyncio.to_thread(work)
    if isinstance(result, str):
        return await asyncio.to_thread(
            campaigns_page, factory, render, user, now=clock(), form=form, error=result
        )
    return RedirectResponse(f"/console/campaigns/{result}", status_code=303)


def campaign_context(
    factory: sessionmaker[Session],
    campaign_id: int,
    *,
    settings: Settings,
    clock: Callable[[], datetime],
) -> dict[str, Any]:
    with factory() as session:
        campaign = session.get(Campaign, campaign_id)
        if campaign is None:
            raise HTTPException(status_code=404, detail="no such campaign")
        shown = segments.preview(
            session,
            segments.Segment.from_dict(campaign.segment),
            campaign.templates,
            now=clock(),
            shop=settings.shop_name,
        )
        result = campaigns.report(session, campaign)
        uplift = campaign_uplift(session, campaign)
        line_meter = LinePlan.of(settings).meter(session, now=clock())
        compared = variant_comparison(session, campaign)
        by_day = cumulative_conversions(session, campaign)
        names = listings.staff_names(session, [campaign.created_by or 0, campaign.approved_by or 0])
    measures = ("sent", "delivered", "failed", "skipped", "replied", "opted_out", "converted")
    chart = charts.bar_chart(
        {name.replace("_", " "): {name: float(getattr(result, name))} for name in measures},
        title=campaign.name,
        no_data="—",
    )
    return {
        "campaign": campaign,
        "preview": shown,
        "report": result,
        "uplift": uplift,
        "variants": compared,
        "conversions_by_day": by_day,
        "min_group": MIN_GROUP,
        "min_conversions": MIN_CONVERSIONS,
        "held_out_estimate": round(shown.size * campaign.holdout_percent / 100),
        "line_meter": line_meter,
        "line_pushes": expected_pushes(shown.by_channel, holdout_percent=campaign.holdout_percent),
        "sms_refusals": template_refusals(
            campaign.templates,
            rules=settings.sending_policy.taiwan,
            sms_recipients=shown.by_channel.get(Channel.SMS.value, 0),
        ),
        "chart": chart,
        "author": names.get(campaign.created_by or 0),
        "approver": names.get(campaign.approved_by or 0),
        "segment_json": json.dumps(campaign.segment, ensure_ascii=False),
    }


@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
async def campaign_page(
    campaign_id: int,
    user: Marketer,
    factory: SessionFactory,
    settings: SettingsDep,
    clock: Clock,
    render: Render,
) -> HTMLResponse:
    context = await asyncio.to_thread(
        campaign_context, factory, campaign_id, settings=settings, clock=clock
    )
    # LINE's own count too, when it can be asked: the shop may push from elsewhere.
    meter = await asyncio.to_thread(with_lines_figures, context["line_meter"], settings)
    context["line_meter"] = meter
    context["line_refusal"] = quota_refusal(context["line_pushes"], meter)
    t = render.translator(user)
    by_day: list[ConversionDay] = context["conversions_by_day"]
    lines: dict[str, list[tuple[str, float]]] = {}
    for row in by_day:
        lines.setdefault(group_name(t, row.group), []).append(
            (str(row.day), round(100 * row.share, 2))
        )
    context["conversions_chart"] = charts.lines_chart(
        lines, title=t("chart_conversions"), no_data=t("no_data")
    )
    context["group_name"] = lambda group: group_name(t, group)
    return render("campaign.html", user, **context)


def group_name(t: Callable[..., str], group: str) -> str:
    """A campaign group as the page names it: messaged, held out, or variant A, B, …."""
    if group in (MESSAGED, HELD_OUT):
        return t(f"group_{group}")
    return t("group_variant", label=group)


@router.get("/campaigns/{campaign_id}/conversions.csv")
async def campaign_conversions_csv(
    campaign_id: int, user: Marketer, factory: SessionFactory
) -> Response:
    """The cumulative conversions behind the campaign page's chart."""

    def load() -> str:
        with factory() as session:
            campaign = session.get(Campaign, campaign_id)
            if campaign is None:
                raise HTTPException(status_code=404, detail="no such campaign")
            return reports.to_csv(cumulative_conversions(session, campaign))

    text = await asyncio.to_thread(load)
    # The byte-order mark makes spreadsheet programs read the Chinese as UTF-8.
    return Response(
        "\ufeff" + text,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="campaign-{campaign_id}-conversions.csv"'
        },
    )


@router.post("/campaigns/{campaign_id}/{action}", response_model=None)
async def campaign_action(
    campaign_id: int,
    action: str,
    user: Marketer,
    factory: SessionFactory,
    settings: SettingsDep,
    clock: Clock,
    render: Render,
) -> Response:
    step = STEPS.get(action)
    if step is None:
        raise HTTPException(status_code=404, detail=f"no action {action!r}")

    def work() -> str | None:
        with session_scope(factory) as session:
            campaign = session.get(Campaign, campaign_id)
            if campaign is None:
                raise HTTPException(status_code=404, detail="no such campaign")
            try:
                step(session, campaign, by=user, now=clock())
            except campaigns.CampaignError as error:
                session.rollback()
                return str(error)
        return None

    error = await asyncio.to_thread(work)
    if error is not None:
        context = await asyncio.to_thread(
            campaign_context, factory, campaign_id, settings=settings, clock=clock
        )
        return render("campaign.html", user, status=409, error=error, **context)
    return RedirectResponse(f"/console/campaigns/{campaign_id}", status_code=303)
