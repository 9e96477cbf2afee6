"""A campaign over LINE against the month's quota: refused at start when it would push
more than is left (and the preview says so), sent and counted when it fits.

Customers add the shop's account over the real webhook; the campaign's pushes go out
through the real gateway and line-bot-sdk to the fake Messaging API.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from channels.line_sender import with_lines_figures
from console.routes.campaigns import campaign_context
from crm_store import line_usage
from crm_store.models import AuditLog, Campaign, CampaignStatus, OutboxMessage, StaffRole
from scheduler import outreach
from tests.channels.conftest import RunningGateway, wait_until
from tests.channels.line_helpers import post_line
from tests.factories import make_staff, scheduled_campaign
from tests.fakes.line import FakeLine

QUOTA = 3


@pytest.fixture
def fake_line() -> Iterator[FakeLine]:
    with FakeLine(quota=QUOTA) as line:
        yield line


@pytest.fixture
def gateway(line_shop: RunningGateway) -> RunningGateway:
    """The gateway these tests drive: with LINE set up."""
    return line_shop


def friends(gateway: RunningGateway, line: FakeLine, count: int, *, first: int = 0) -> list[str]:
    """`count` LINE users who add the shop's account (and so agree to its messages)."""
    users = [f"U{first + number:032x}" for number in range(count)]
    response = post_line(gateway, *(line.follow_event(user) for user in users))
    assert response.status_code == 200, response.text
    return users


def campaign_to_everyone(gateway: RunningGateway, *, name: str, now: datetime) -> int:
    with gateway.store() as session, session.begin():
        author = make_staff(session, f"mia-{name}@shop.test", StaffRole.MARKETER)
        boss = make_staff(session, f"boss-{name}@shop.test", StaffRole.ADMIN)
        campaign = scheduled_campaign(
            session,
            author=author,
            approver=boss,
            templates={"zh-TW": "{{ name }} 您好～雙11全館 85 折，今晚 12 點截止！"},
            send_at=now,
            now=now,
            name=name,
        )
        return campaign.id


def preview(gateway: RunningGateway, campaign_id: int, *, now: datetime) -> dict[str, Any]:
    """What the campaign's console page shows, before LINE is asked."""
    return campaign_context(
        gateway.store, campaign_id, settings=gateway.settings, clock=lambda: now
    )


def run_due(gateway: RunningGateway, now: datetime) -> int:
    with gateway.store() as session, session.begin():
        return outreach.campaign.plan(session, now=now, settings=gateway.settings)


def test_a_campaign_pushing_more_than_the_month_has_left_is_refused_and_the_preview_says_so(
    gateway: RunningGateway, fake_line: FakeLine
) -> None:
    now = datetime.now(UTC)
    friends(gateway, fake_line, QUOTA + 2)
    campaign_id = campaign_to_everyone(gateway, name="雙11", now=now)

    page = campaign_context(
        gateway.store, campaign_id, settings=gateway.settings, clock=lambda: now
    )
    meter = with_lines_figures(page["line_meter"], gateway.settings)
    assert (meter.used, meter.line_used, meter.line_quota, meter.left) == (0, 0, QUOTA, QUOTA)
    refusal = line_usage.quota_refusal(page["line_pushes"], meter)
    assert refusal == f"5 LINE recipients but only {QUOTA} of the month's {QUOTA} LINE pushes left"

    assert run_due(gateway, now + timedelta(minutes=1)) == 0
    with gateway.store() as session:
        audit = session.scalars(select(AuditLog).where(AuditLog.action == "campaign.refused"))
        assert [entry.details for entry in audit] == [{"reason": refusal}]
        assert session.scalars(select(OutboxMessage)).all() == []
        assert session.get_one(Campaign, campaign_id).status is CampaignStatus.APPROVED
    assert fake_line.sent == []


def test_the_scheduler_asks_line_too_so_pushes_made_elsewhere_count(
    gateway: RunningGateway, fake_line: FakeLine
) -> None:
    now = datetime.now(UTC)
    friends(gateway, fake_line, QUOTA - 1)
    # By our own count the month is untouched; the shop pushed two from LINE's own tools.
    fake_line.pushed_elsewhere = 2
    campaign_id = campaign_to_everyone(gateway, name="聖誕", now=now)
    assert run_due(gateway, now + timedelta(minutes=1)) == 0
    with gateway.store() as session:
        [refused] = session.scalars(select(AuditLog).where(AuditLog.action == "campaign.refused"))
        assert refused.details == {
            "reason": f"{QUOTA - 1} LINE recipients but only 1 of the month's {QUOTA} LINE"
            " pushes left"
        }
        assert session.get_one(Campaign, campaign_id).status is CampaignStatus.APPROVED
    assert fake_line.sent == []


def test_a_campaign_that_fits_goes_out_by_push_and_every_push_is_counted(
    gateway: RunningGateway, fake_line: FakeLine
) -> None:
    now = datetime.now(UTC)
    users = friends(gateway, fake_line, QUOTA - 1)
    campaign_to_everyone(gateway, name="週末", now=now - timedelta(minutes=5))
    assert run_due(gateway, now) == QUOTA - 1
    gateway.gateway.dispatcher.wake()
    for user in users:
        [promotion] = fake_line.wait_for_sent(user)
        assert promotion["kind"] == "push" and "85 折" in promotion["text"]
    timezone = gateway.settings.default_timezone
    wait_until(
        lambda: (
            gateway.query(lambda s: line_usage.pushes_in_month(s, now=now, timezone=timezone))
            == QUOTA - 1
        ),
        what="the pushes counted",
    )

    # One push left: a second campaign to all three is more than that.
    friends(gateway, fake_line, 1, first=100)
    second = campaign_to_everyone(gateway, name="再一次", now=now)
    assert run_due(gateway, now + timedelta(minutes=1)) == 0
    page = preview(gateway, second, now=now)
    assert page["line_meter"].left == 1
