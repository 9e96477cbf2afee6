"""Marketers' campaigns: draft → approved (by a second person) → scheduled → running →
done, with pause and cancel at any time, and what each one achieved.

The scheduler starts and finishes the runs (`scheduler.outreach.campaign`); here are the
campaign's rules: who may create, approve and schedule it, a segment, templates and a
recurrence (crontab, UTC, `crm_store.cron`) that are valid when it is saved, and what
pausing and cancelling do to its unsent messages.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from crm_store import segments, variants
from crm_store.audit import record_audit
from crm_store.cron import check_crontab
from crm_store.models import (
    DEFAULT_CONVERSION_DAYS,
    DEFAULT_HOLDOUT_PERCENT,
    Campaign,
    CampaignKind,
    CampaignStatus,
    ChannelIdentity,
    Conversation,
    Direction,
    Message,
    Order,
    OutboxMessage,
    OutboxStatus,
    StaffRole,
    StaffUser,
)

# Where paused campaign messages wait: far beyond any real send time.
PAUSED_UNTIL = datetime(9999, 1, 1, tzinfo=UTC)
APPROVERS = frozenset({StaffRole.MARKETER, StaffRole.ADMIN})
REPLY_WINDOW = timedelta(days=3)
CONVERSION_WINDOW = timedelta(days=14)
# More held out than this and the campaign reaches too few to be worth its preview.
MAX_HOLDOUT_PERCENT = 50


class CampaignError(ValueError):
    """A campaign request that breaks a rule; the message says which."""


def _check_recurrence(recurrence: str | None) -> None:
    if recurrence:
        try:
            check_crontab(recurrence)
        except ValueError as error:
            raise CampaignError(f"recurrence {recurrence!r}: {error}") from error


def create(
    session: Session,
    *,
    name: str,
    segment: dict[str, Any],
    message_templates: variants.Templates,
    send_at: datetime | None,
    recurrence: str | None,
    by: StaffUser,
    now: datetime,
    holdout_percent: int = DEFAULT_HOLDOUT_PERCENT,
    conversion_days: int = DEFAULT_CONVERSION_DAYS,
) -> Campaign:
    if by.role not in APPROVERS:
        raise CampaignError("only marketers and admins create campaigns")
    if not name.strip():
        raise CampaignError("a campaign needs a name")
    try:
        parsed = segments.Segment.from_dict(segment)
    except ValueError as error:
        raise CampaignError(f"segment: {error}") from error
    try:
        segments.check_templates(message_templates)
    except ValueError as error:
        raise CampaignError(f"templates: {error}") from error
    _check_recurrence(recurrence)
    if not 0 <= holdout_percent <= MAX_HOLDOUT_PERCENT:
        raise CampaignError(
            f"holdout: between 0 (none) and {MAX_HOLDOUT_PERCENT} per cent of the audience,"
            f" not {holdout_percent}"
        )
    if not 1 <= conversion_days <= 90:
        raise CampaignError(f"conversion window: 1 to 90 days, not {conversion_days}")
    campaign = Campaign(
        name=name.strip(),
        kind=CampaignKind.CUSTOM,
        status=CampaignStatus.DRAFT,
        segment=parsed.to_dict(),
        templates=variants.stored(variants.variants(message_templates)),
        send_at=send_at,
        recurrence=recurrence or None,
        created_by=by.id,
        created_at=now,
        holdout_percent=holdout_percent,
        conversion_days=conversion_days,
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
