"""Marketers' campaigns: draft → approved (by a second person) → scheduled → running →
done, with pause and cancel at any time, and what each one achieved.

Starting a campaign selects its audience and puts one outbox row per recipient, keyed
``campaign:<id>:<run>:<customer>``, in the same transaction as the status change; a
scheduler killed half-way leaves nothing, and the next one starts it whole. Consent,
quiet hours and the frequency cap are checked again when each message is sent.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.orm import Session

from crm_store import segments, templates
from crm_store.audit import record_audit
from crm_store.bulk import bulk_insert
from crm_store.models import (
    Campaign,
    CampaignKind,
    CampaignStatus,
    ChannelIdentity,
    Conversation,
    Customer,
    Direction,
    Language,
    Message,
    MessagePurpose,
    Order,
    OutboxMessage,
    OutboxStatus,
    StaffRole,
    StaffUser,
)
from crm_store.outbox import PRIORITY

# Where paused campaign messages wait: far beyond any real send time.
PAUSED_UNTIL = datetime(9999, 1, 1, tzinfo=UTC)
APPROVERS = frozenset({StaffRole.MARKETER, StaffRole.ADMIN})
REPLY_WINDOW = timedelta(days=3)
CONVERSION_WINDOW = timedelta(days=14)


class CampaignError(ValueError):
    """A campaign request that breaks a rule; the message says which."""


def _check_recurrence(recurrence: str | None) -> None:
    if recurrence:
        try:
            CronTrigger.from_crontab(recurrence, timezone=UTC)
        except ValueError as error:
            raise CampaignError(f"recurrence {recurrence!r}: {error}") from error


def create(
    session: Session,
    *,
    name: str,
    segment: dict[str, Any],
    message_templates: dict[str, str],
    send_at: datetime | None,
    recurrence: str | None,
    by: StaffUser,
    now: datetime,
) -> Campaign:
    if by.role not in APPROVERS:
        raise CampaignError("only marketers and admins create campaigns")
    if not name.strip():
        raise CampaignError("a campaign needs a name")
    try:
        parsed = segments.Segment.from_dict(segment)
    except ValueError as error:
        raise CampaignError(f"segment: {error}") from error
    languages = {language.value for language in Language}
    if not message_templates or set(message_templates) - languages:
        raise CampaignError(f"templates: give one per language, keys from {sorted(languages)}")
    for language, text in message_templates.items():
        try:
            templates.check(text)
        except templates.InvalidTemplate as error:
            raise CampaignError(f"template {language}: {error}") from error
    _check_recurrence(recurrence)
    campaign = Campaign(
        name=name.strip(),
        kind=CampaignKind.CUSTOM,
        status=CampaignStatus.DRAFT,
        segment=parsed.to_dict(),
        templates=dict(message_templates),
        send_at=send_at,
        recurrence=recurrence or None,
        created_by=by.id,
        created_at=now,
    )
    session.add(campaign)
    session.flush()
    _audit(session, campaign, by, "campaign.create")
    return campaign


def _audit(session: Session, campaign: Campaign, by: StaffUser, action: str) -> None:
    record_audit(session, actor=by.email, action=action, entity="campaign", entity_id=campaign.id)


def _expect(campaign: Campaign, *statuses: CampaignStatus) -> None:
    if campaign.status not in statuses:
        allowed = " or ".join(status.value for status in statuses)
        raise CampaignError(f"campaign {campaign.id} is {campaign.status.value}, not {allowed}")


def approve(session: Session, campaign: Campaign, *, by: StaffUser, now: datetime) -> None:
    """A second person (marketer or admin, not the author) approves the draft."""
    _expect(campaign, CampaignStatus.DRAFT)
    if by.role not in APPROVERS:
        raise CampaignError("only marketers and admins approve campaigns")
    if by.id == campaign.created_by:
        raise CampaignError("a campaign is approved by someone other than its author")
    campaign.status = CampaignStatus.APPROVED
    campaign.approved_by = by.id
    campaign.approved_at = now
    _audit(session, campaign, by, "campaign.approve")


def schedule(session: Session, campaign: Campaign, *, by: StaffUser, now: datetime) -> None:
    _expect(campaign, CampaignStatus.APPROVED)
    if campaign.send_at is None:
        campaign.send_at = now
    campaign.status = CampaignStatus.SCHEDULED
    _audit(session, campaign, by, "campaign.schedule")


def _pending_rows(campaign: Campaign) -> Any:
    return and_(
        OutboxMessage.campaign_id == campaign.id,
        OutboxMessage.status == OutboxStatus.PENDING,
    )


def pause(session: Session, campaign: Campaign, *, by: StaffUser, now: datetime) -> None:
    _expect(campaign, CampaignStatus.SCHEDULED, CampaignStatus.RUNNING)
    campaign.status = CampaignStatus.PAUSED
    session.execute(
        update(OutboxMessage).where(_pending_rows(campaign)).values(not_before=PAUSED_UNTIL)
    )
    _audit(session, campaign, by, "campaign.pause")


def resume(session: Session, campaign: Campaign, *, by: StaffUser, now: datetime) -> None:
    _expect(campaign, CampaignStatus.PAUSED)
    started = campaign.started_at is not None and not campaign.recurrence
    campaign.status = CampaignStatus.RUNNING if started else CampaignStatus.SCHEDULED
    session.execute(update(OutboxMessage).where(_pending_rows(campaign)).values(not_before=now))
    _audit(session, campaign, by, "campaign.resume")


def cancel(session: Session, campaign: Campaign, *, by: StaffUser, now: datetime) -> None:
    _expect(
        campaign,
        CampaignStatus.DRAFT,
        CampaignStatus.APPROVED,
        CampaignStatus.SCHEDULED,
        CampaignStatus.RUNNING,
        CampaignStatus.PAUSED,
    )
    campaign.status = CampaignStatus.CANCELLED
    campaign.finished_at = now
    session.execute(
        update(OutboxMessage)
        .where(_pending_rows(campaign))
        .values(status=OutboxStatus.CANCELLED, last_error="campaign cancelled")
    )
    _audit(session, campaign, by, "campaign.cancel")


def enqueue_audience(session: Session, campaign: Campaign, *, now: datetime, shop: str) -> int:
    """One outbox row per recipient of this run; returns how many."""
    segment = segments.Segment.from_dict(campaign.segment)
    recipients = segments.audience(session, segment, now=now, marketing=True)
    if not recipients:
        return 0
    run = f"{(campaign.send_at or now).astimezone(UTC):%Y%m%d%H%M}"
    names = _customer_fields(session, [r.customer_id for r in recipients])
    rows = []
    for recipient in recipients:
        text = campaign.templates.get(recipient.language.value) or next(
            iter(campaign.templates.values())
        )
        body = templates.render(
            text, templates.context_for(names[recipient.customer_id], shop=shop)
        )
        rows.append(
            {
                "idempotency_key": f"campaign:{campaign.id}:{run}:{recipient.customer_id}",
                "customer_id": recipient.customer_id,
                "identity_id": recipient.identity_id,
                "channel": recipient.channel,
                "purpose": MessagePurpose.MARKETING,
                "priority": PRIORITY[MessagePurpose.MARKETING],
                "body": body,
                "payload": None,
                "campaign_id": campaign.id,
                "message_id": None,
                "status": OutboxStatus.PENDING,
                "not_before": now,
                "attempts": 0,
                "created_at": now,
            }
        )
    bulk_insert(session, OutboxMessage, rows)
    return len(rows)


def _customer_fields(session: Session, customer_ids: list[int]) -> dict[int, Customer]:
    found: dict[int, Customer] = {}
    for start in range(0, len(customer_ids), 1_000):
        chunk = customer_ids[start : start + 1_000]
        found.update(
            (c.id, c) for c in session.scalars(select(Customer).where(Customer.id.in_(chunk)))
        )
    return found


def start_due(session: Session, *, now: datetime, shop: str) -> dict[int, int]:
    """Start every scheduled campaign whose time has come; {campaign id: messages queued}."""
    started: dict[int, int] = {}
    due = session.scalars(
        select(Campaign)
        .where(Campaign.status == CampaignStatus.SCHEDULED, Campaign.send_at <= now)
        .with_for_update(skip_locked=True)
    ).all()
    for campaign in due:
        started[campaign.id] = enqueue_audience(session, campaign, now=now, shop=shop)
        campaign.started_at = campaign.started_at or now
        if campaign.recurrence:
            trigger = CronTrigger.from_crontab(campaign.recurrence, timezone=UTC)
            campaign.send_at = trigger.get_next_fire_time(None, now)
        else:
            campaign.status = CampaignStatus.RUNNING
    return started


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


@dataclass(frozen=True, slots=True)
class CampaignReport:
    campaign_id: int
    name: str
    status: str
    audience: int
    sent: int
    delivered: int
    failed: int
    skipped: int
    waiting: int
    replied: int
    opted_out: int
    converted: int


def report(session: Session, campaign: Campaign) -> CampaignReport:
    """What the campaign achieved: a reply within 3 days of the message, an opt-out after
    it, an order within 14 days counts as converted."""
    return _report(
        session,
        OutboxMessage.campaign_id == campaign.id,
        campaign_id=campaign.id,
        name=campaign.name,
        status=campaign.status.value,
    )


BUILT_IN = ("birthday", "survey", "winback")


def built_in_report(session: Session, kind: str, *, since: datetime) -> CampaignReport:
    """The same figures for the built-in outreach since `since` (for win-back,
    "converted" is a customer won back: an order within 14 days of the message)."""
    if kind not in BUILT_IN:
        raise CampaignError(f"no built-in outreach {kind!r}; choose from {', '.join(BUILT_IN)}")
    return _report(
        session,
        and_(
            OutboxMessage.idempotency_key.like(f"{kind}:%"),
            OutboxMessage.created_at >= since,
        ),
        campaign_id=0,
        name=kind,
        status="built-in",
    )


def _report(
    session: Session, rows: Any, *, campaign_id: int, name: str, status: str
) -> CampaignReport:
    statuses = Counter(
        dict(
            session.execute(
                select(OutboxMessage.status, func.count())
                .where(rows)
                .group_by(OutboxMessage.status)
            ).all()
        )
    )
    sent = {
        customer_id: (identity_id, sent_at)
        for customer_id, identity_id, sent_at in session.execute(
            select(OutboxMessage.customer_id, OutboxMessage.identity_id, OutboxMessage.sent_at)
            .where(rows)
            .where(OutboxMessage.status == OutboxStatus.SENT)
        )
    }
    delivered = session.scalar(
        select(func.count()).where(rows, OutboxMessage.delivered_at.is_not(None))
    )
    replied: set[int] = set()
    opted_out: set[int] = set()
    converted: set[int] = set()
    customer_ids = list(sent)
    # Times are compared here rather than in SQL: SQLite has no interval arithmetic.
    for start in range(0, len(customer_ids), 1_000):
        chunk = customer_ids[start : start + 1_000]
        for customer_id, at in session.execute(
            select(Conversation.customer_id, Message.created_at)
            .join(Message, Message.conversation_id == Conversation.id)
            .where(Conversation.customer_id.in_(chunk), Message.direction == Direction.INBOUND)
        ):
            sent_at = sent[customer_id][1]
            if sent_at and sent_at < at <= sent_at + REPLY_WINDOW:
                replied.add(customer_id)
        for customer_id, identity_id, opted_out_at in session.execute(
            select(
                ChannelIdentity.customer_id, ChannelIdentity.id, ChannelIdentity.opted_out_at
            ).where(ChannelIdentity.customer_id.in_(chunk), ChannelIdentity.opted_out.is_(True))
        ):
            own_identity, sent_at = sent[customer_id]
            if identity_id == own_identity and sent_at and opted_out_at and opted_out_at > sent_at:
                opted_out.add(customer_id)
        for customer_id, at in session.execute(
            select(Order.customer_id, Order.placed_at).where(Order.customer_id.in_(chunk))
        ):
            sent_at = sent[customer_id][1]
            if sent_at and sent_at < at <= sent_at + CONVERSION_WINDOW:
                converted.add(customer_id)
    return CampaignReport(
        campaign_id=campaign_id,
        name=name,
        status=status,
        audience=sum(statuses.values()),
        sent=statuses[OutboxStatus.SENT],
        delivered=int(delivered or 0),
        failed=statuses[OutboxStatus.FAILED],
        skipped=statuses[OutboxStatus.CANCELLED],
        waiting=statuses[OutboxStatus.PENDING] + statuses[OutboxStatus.SENDING],
        replied=len(replied),
        opted_out=len(opted_out),
        converted=len(converted),
    )
