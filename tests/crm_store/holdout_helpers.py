"""A shop and a campaign to all of it, for the holdout and variant tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm_store.bulk import bulk_insert
from crm_store.models import (
    Campaign,
    CampaignHoldout,
    ChannelIdentity,
    Customer,
    OutboxMessage,
    StaffRole,
    StaffUser,
    Tier,
)
from crm_store.variants import Templates
from tests.factories import bulk_customers, consenting_sms_rows, make_staff, scheduled_campaign

NOW = datetime(2026, 11, 2, 4, tzinfo=UTC)  # noon in Taipei


def shop(session: Session, count: int) -> list[int]:
    """`count` consenting SMS customers, a quarter of them VIPs."""
    ids = bulk_customers(session, count, now=NOW - timedelta(days=400))
    bulk_insert(session, ChannelIdentity, consenting_sms_rows(ids, now=NOW))
    session.execute(update(Customer).where(Customer.id.in_(ids[::4])).values(tier=Tier.VIP))
    return ids


def marketers(session: Session) -> tuple[StaffUser, StaffUser]:
    found = session.scalars(select(StaffUser).order_by(StaffUser.id)).all()
    if found:
        return found[0], found[1]
    return (
        make_staff(session, "mia@shop.test", StaffRole.MARKETER),
        make_staff(session, "leo@shop.test", StaffRole.MARKETER),
    )


def campaign_to_all(
    session: Session,
    holdout_percent: int,
    templates: Templates | None = None,
) -> Campaign:
    author, approver = marketers(session)
    return scheduled_campaign(
        session,
        author=author,
        approver=approver,
        templates=templates or {"zh-TW": "{{ name }}，週年慶全館 85 折！"},
        send_at=NOW,
        now=NOW,
        holdout_percent=holdout_percent,
    )


def held_out(session: Session, campaign: Campaign) -> set[int]:
    return set(
        session.scalars(
            select(CampaignHoldout.customer_id).where(CampaignHoldout.campaign_id == campaign.id)
        )
    )


def messaged(session: Session, campaign: Campaign) -> set[int]:
    return set(
        session.scalars(
            select(OutboxMessage.customer_id).where(OutboxMessage.campaign_id == campaign.id)
        )
    )
