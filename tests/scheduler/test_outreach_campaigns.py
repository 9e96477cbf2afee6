"""Marketers' campaigns, on a controllable clock: approval by a second person, a run
for the consenting audience and its report, pausing and cancelling, and recurrence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from crm_store import campaigns, outbox, outbox_results
from crm_store.consent import set_consent
from crm_store.models import CampaignStatus, OrderStatus, OutboxStatus, StaffRole
from crm_store.orders import record_order
from scheduler import outreach
from tests.factories import make_customer, make_product, make_staff, scheduled_campaign
from tests.scheduler.outreach_helpers import SETTINGS, TAIPEI, queued


def test_a_campaign_needs_a_second_marketer_or_admin_to_approve(session: Session) -> None:
    author = make_staff(session, "mia@shop.test", StaffRole.MARKETER)
    other = make_staff(session, "leo@shop.test", StaffRole.MARKETER)
    agent = make_staff(session, "amy@shop.test", StaffRole.AGENT)
    now = datetime(2026, 11, 23, 12, tzinfo=TAIPEI)
    campaign = campaigns.create(
        session,
        name="週末特賣",
        segment={},
        message_templates={"zh-TW": "{{ first_name }}，週末全館 9 折！", "en": "Hi {{ name }}!"},
        send_at=now,
        recurrence=None,
        by=author,
        now=now,
    )
    with pytest.raises(campaigns.CampaignError, match="other than its author"):
        campaigns.approve(session, campaign, by=author, now=now)
    with pytest.raises(campaigns.CampaignError, match="marketers and admins"):
        campaigns.approve(session, campaign, by=agent, now=now)
    with pytest.raises(campaigns.CampaignError, match="not approved"):
        campaigns.schedule(session, campaign, by=author, now=now)
    campaigns.approve(session, campaign, by=other, now=now)
    assert campaign.status is CampaignStatus.APPROVED
    with pytest.raises(campaigns.CampaignError, match="template"):
        campaigns.create(
            session,
            name="bad",
            segment={},
            message_templates={"zh-TW": "{{ password }}"},
            send_at=None,
            recurrence=None,
            by=author,
            now=now,
        )


def test_a_campaign_runs_once_for_its_consenting_audience_and_reports(session: Session) -> None:
    author = make_staff(session, "mia@shop.test", StaffRole.MARKETER)
    approver = make_staff(session, "boss@shop.test", StaffRole.ADMIN)
    yes = [make_customer(session, phone=f"+8869124001{n:02d}") for n in range(5)]
    make_customer(session, phone="+886912400190", marketing_consent=False)
    leaving = make_customer(session, phone="+886912400191")
    now = datetime(2026, 11, 23, 12, tzinfo=TAIPEI)
    campaign = scheduled_campaign(
        session,
        author=author,
        approver=approver,
        templates={"zh-TW": "{{ first_name }} 您好，新品上市！"},
        send_at=now + timedelta(hours=1),
        now=now,
        name="新品上市",
    )
    assert outreach.campaign.start_due(session, now=now, shop="shop") == {}
    started = outreach.campaign.start_due(session, now=now + timedelta(hours=1), shop="shop")
    assert started == {campaign.id: 6}
    assert campaign.status is CampaignStatus.RUNNING
    assert outreach.campaign.start_due(session, now=now + timedelta(hours=2), shop="shop") == {}
    rows = queued(session, f"campaign:{campaign.id}:")
    assert len(rows) == 6 and len({row.customer_id for row in rows}) == 6
    assert all(row.body.endswith("您好，新品上市！") for row in rows)

    # One opts out between planning and sending; the rest are sent.
    set_consent(
        session,
        leaving.identities[0],
        opted_in=False,
        now=now + timedelta(hours=1, minutes=1),
        actor="test",
    )
    outbox.claim_due(session, worker="w", now=now + timedelta(hours=1), limit=10)
    for row in rows:
        if row.customer_id == leaving.id:
            outbox_results.mark_cancelled(session, row.id, worker="w", reason="opted out", now=now)
        else:
            outbox_results.mark_sent(
                session, row.id, worker="w", provider_id=f"SM{row.id}", now=now + timedelta(hours=1)
            )
    record_order(
        session,
        customer=yes[0],
        number="N0000001",
        placed_at=now + timedelta(days=2),
        lines=[(make_product(session, price="500"), 1)],
        status=OrderStatus.PAID,
    )
    assert outreach.campaign.finish_done(session, now=now + timedelta(hours=3)) == [campaign.id]
    result = campaigns.report(session, campaign)
    assert (result.audience, result.sent, result.skipped, result.converted) == (6, 5, 1, 1)
    assert result.status == "done"
    assert Decimal(yes[0].total_spent) > 0


def test_pausing_holds_and_cancelling_drops_unsent_messages(session: Session) -> None:
    author = make_staff(session, "mia@shop.test", StaffRole.MARKETER)
    approver = make_staff(session, "leo@shop.test", StaffRole.MARKETER)
    for n in range(3):
        make_customer(session, phone=f"+8869124002{n:02d}")
    now = datetime(2026, 11, 23, 12, tzinfo=TAIPEI)
    campaign = scheduled_campaign(
        session,
        author=author,
        approver=approver,
        templates={"zh-TW": "hi"},
        send_at=now,
        now=now,
        name="x",
    )
    outreach.campaign.start_due(session, now=now, shop="shop")
    campaigns.pause(session, campaign, by=author, now=now)
    assert outbox.claim_due(session, worker="w", now=now + timedelta(days=30), limit=10) == []
    campaigns.resume(session, campaign, by=author, now=now)
    assert campaign.status is CampaignStatus.RUNNING
    campaigns.cancel(session, campaign, by=author, now=now)
    statuses = {row.status for row in queued(session, f"campaign:{campaign.id}:")}
    assert statuses == {OutboxStatus.CANCELLED}


def test_a_recurring_campaign_runs_on_its_crontab_and_stays_scheduled(session: Session) -> None:
    author = make_staff(session, "mia@shop.test", StaffRole.MARKETER)
    approver = make_staff(session, "leo@shop.test", StaffRole.MARKETER)
    make_customer(session, phone="+886912400401")
    monday = datetime(2026, 11, 23, 2, tzinfo=UTC)
    campaign = campaigns.create(
        session,
        name="每週一",
        segment={},
        message_templates={"zh-TW": "本週新品"},
        send_at=monday,
        recurrence="0 2 * * mon",
        by=author,
        now=monday,
    )
    campaigns.approve(session, campaign, by=approver, now=monday)
    campaigns.schedule(session, campaign, by=author, now=monday)
    a_minute_later = monday + timedelta(minutes=1)
    assert outreach.campaign.plan(session, now=a_minute_later, settings=SETTINGS) == 1
    assert campaign.status is CampaignStatus.SCHEDULED
    assert campaign.send_at == monday + timedelta(days=7)
    next_monday = monday + timedelta(days=7, minutes=1)
    assert outreach.campaign.plan(session, now=next_monday, settings=SETTINGS) == 1
    keys = [row.idempotency_key for row in queued(session, f"campaign:{campaign.id}:")]
    assert keys[1].split(":")[2] == "202611300200" and len(set(keys)) == 2


def test_a_recurring_campaign_started_on_the_second_of_its_time_waits_for_the_next() -> None:
    """A tick at exactly the fire time must not find the campaign due again at once."""
    monday = datetime(2026, 11, 23, 2, tzinfo=UTC)
    assert outreach.campaign.next_run("0 2 * * mon", after=monday) == monday + timedelta(days=7)
    assert outreach.campaign.next_run("0 2 * * mon", after=monday - timedelta(seconds=1)) == monday


def test_a_campaign_with_a_bad_crontab_is_refused_when_saved(session: Session) -> None:
    author = make_staff(session, "mia@shop.test", StaffRole.MARKETER)
    now = datetime(2026, 11, 23, 12, tzinfo=TAIPEI)
    with pytest.raises(campaigns.CampaignError, match=r"recurrence '0 25 \* \* \*'.*maximum"):
        campaigns.create(
            session,
            name="壞排程",
            segment={},
            message_templates={"zh-TW": "hi"},
            send_at=now,
            recurrence="0 25 * * *",
            by=author,
            now=now,
        )
