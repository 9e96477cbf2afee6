"""Marketers' campaign runs: start the scheduled ones whose time has come, finish the
running ones with nothing left to send.

Starting a campaign selects its audience and queues one message per recipient, keyed
``campaign:<id>:<run>:<customer>``, in the same transaction as the status change; a
scheduler killed half-way leaves nothing, and the next one starts it whole. A
recurring campaign (a crontab, UTC, checked by `crm_store.cron` when it was saved)
stays scheduled for its next run. Consent, quiet hours and the frequency cap are
checked again when each message is sent. The campaign itself, its approval and its
audience are the store's (`crm_store.campaigns`, `crm_store.segments`).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import Session

from channels.line_sender import read_quota
from crm_store import outbox, segments, templates, variants
from crm_store.audit import record_audit
from crm_store.db import savepoint
from crm_store.holdouts import assign_variants, hold_out
from crm_store.line_usage import DEFAULT_LINE_PLAN, LinePlan, OverQuota, quota_refusal
from crm_store.models import (
    Campaign,
    CampaignStatus,
    Channel,
    Customer,
    MessagePurpose,
    OutboxMessage,
    OutboxStatus,
)
from crm_store.settings import Settings

log = logging.getLogger(__name__)


def plan(session: Session, *, now: datetime, settings: Settings) -> int:
    """Start due campaigns and finish done ones; how many messages were queued."""
    line_plan = LinePlan.of(settings)
    if settings.line_channel_access_token is not None and session.scalar(
        select(_due(now).exists())
    ):
        # LINE's own count as well: the shop may also push from LINE's own tools.
        line_plan = replace(line_plan, reported=read_quota(settings))
    started = start_due(session, now=now, shop=settings.shop_name, line_plan=line_plan)
    finished = finish_done(session, now=now)
    for campaign_id, queued in started.items():
        log.info("campaign %s started: %s messages", campaign_id, queued)
    for campaign_id in finished:
        log.info("campaign %s done", campaign_id)
    return sum(started.values())


def next_run(recurrence: str, *, after: datetime) -> datetime | None:
    """When a campaign repeating on `recurrence` (crontab, UTC) runs next, strictly after
    `after` (APScheduler counts a fire time equal to it: started at exactly its time, the
    campaign would be due again at once)."""
    trigger = CronTrigger.from_crontab(recurrence, timezone=UTC)
    fire_time: datetime | None = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    return fire_time


def start_due(
    session: Session,
    *,
    now: datetime,
    shop: str,
    line_plan: LinePlan = DEFAULT_LINE_PLAN,
) -> dict[int, int]:
    """Start every scheduled campaign whose time has come; {campaign id: messages queued}.

    A campaign that would push more over LINE than the month's plan has left is not
    started: it goes back to approved, with the reason in the audit log."""
    started: dict[int, int] = {}
    due = session.scalars(_due(now).with_for_update(skip_locked=True)).all()
    for campaign in due:
        try:
            with savepoint(session):
                started[campaign.id] = enqueue_audience(session, campaign, now=now, shop=shop)
                refusal = quota_refusal(
                    _line_pushes(session, campaign, now=now), line_plan.meter(session, now=now)
                )
                if refusal is not None:
                    raise OverQuota(refusal)
        except OverQuota as over:
            started.pop(campaign.id, None)
            _refuse(session, campaign, reason=over.reason)
            continue
        campaign.started_at = campaign.started_at or now
        if campaign.recurrence:
            campaign.send_at = next_run(campaign.recurrence, after=now)
        else:
            campaign.status = CampaignStatus.RUNNING
    return started


def _due(now: datetime) -> Select[Campaign]:
    """The scheduled campaigns whose time has come."""
    return select(Campaign).where(
        Campaign.status == CampaignStatus.SCHEDULED, Campaign.send_at <= now
    )


def _line_pushes(session: Session, campaign: Campaign, *, now: datetime) -> int:
    """The LINE messages this run of `campaign` just queued (each a push)."""
    return (
        session.scalar(
            select(func.count()).where(
                OutboxMessage.campaign_id == campaign.id,
                OutboxMessage.channel == Channel.LINE,
                OutboxMessage.created_at == now,
            )
        )
        or 0
    )


def _refuse(session: Session, campaign: Campaign, *, reason: str) -> None:
    log.warning("campaign %s not started: %s", campaign.id, reason)
    campaign.status = CampaignStatus.APPROVED
    record_audit(
        session,
        actor="scheduler",
        action="campaign.refused",
        entity="campaign",
        entity_id=campaign.id,
        details={"reason": reason},
    )


def finish_done(session: Session, *, now: datetime) -> list[int]:
    """Running campaigns with nothing left to send are done."""
    waiting = exists().where(
        OutboxMessage.campaign_id == Campaign.id,
        OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING)),
    )
    done = session.scalars(
        select(Campaign).where(Campaign.status == CampaignStatus.RUNNING, ~waiting)
    ).all()
    for campaign in done:
        campaign.status = CampaignStatus.DONE
        campaign.finished_at = now
    return [campaign.id for campaign in done]


def enqueue_audience(session: Session, campaign: Campaign, *, now: datetime, shop: str) -> int:
    """One message per recipient of this run not held out (`outbox.enqueue_many`), in
    the template variant dealt to them; returns how many."""
    segment = segments.Segment.from_dict(campaign.segment)
    recipients = segments.audience(session, segment, now=now, marketing=True)
    if not recipients:
        return 0
    run = f"{(campaign.send_at or now).astimezone(UTC):%Y%m%d%H%M}"
    names = _customer_fields(session, [r.customer_id for r in recipients])
    tiers = {r.customer_id: names[r.customer_id].tier.value for r in recipients}
    held = hold_out(session, campaign, tiers, run=int(run), now=now)
    messages = variants.variants(campaign.templates)
    dealt = assign_variants(
        session,
        campaign,
        {customer: tier for customer, tier in tiers.items() if customer not in held},
        count=len(messages),
        run=int(run),
        now=now,
    )
    drafts = []
    for recipient in recipients:
        if recipient.customer_id in held:
            continue
        variant = messages[dealt[recipient.customer_id]]
        text = segments.template_for(variant, recipient.language)
        drafts.append(
            outbox.Draft(
                key=f"campaign:{campaign.id}:{run}:{recipient.customer_id}",
                customer_id=recipient.customer_id,
                identity_id=recipient.identity_id,
                channel=recipient.channel,
                text=templates.render(
                    text, templates.context_for(names[recipient.customer_id], shop=shop)
                ),
            )
        )
    return outbox.enqueue_many(
        session, drafts, purpose=MessagePurpose.MARKETING, now=now, campaign_id=campaign.id
    )


def _customer_fields(session: Session, customer_ids: list[int]) -> dict[int, Customer]:
    found: dict[int, Customer] = {}
    for start in range(0, len(customer_ids), 1_000):
        chunk = customer_ids[start : start + 1_000]
        found.update(
            (c.id, c) for c in session.scalars(select(Customer).where(Customer.id.in_(chunk)))
        )
    return found
