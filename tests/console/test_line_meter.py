"""The LINE meter on a campaign's page: the month's pushes as the store counted them and
as LINE reports them, and the warning that a campaign too big for what is left will not
start. LINE is the fake Messaging API, asked through the real line-bot-sdk."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from crm_store import line_usage
from crm_store.models import StaffUser
from crmbot.web import create_app
from tests.channels.conftest import running_gateway
from tests.channels.line_helpers import post_line
from tests.console.conftest import Console, add_staff
from tests.factories import scheduled_campaign
from tests.fakes import FakeTelegram, FakeTwilio
from tests.fakes.line import FakeLine, line_settings


@pytest.fixture
def line_console(
    database_url: str, fake_telegram: FakeTelegram, fake_twilio: FakeTwilio
) -> Iterator[tuple[Console, FakeLine]]:
    staff_ids = add_staff(database_url)
    with (
        FakeLine(quota=3) as line,
        running_gateway(
            database_url,
            telegram=fake_telegram,
            twilio=fake_twilio,
            app_factory=create_app,
            **line_settings(line),
        ) as running,
    ):
        yield Console(running=running, staff_ids=staff_ids), line


def test_the_campaign_page_shows_the_line_meter_and_that_a_too_big_campaign_will_not_start(
    line_console: tuple[Console, FakeLine],
) -> None:
    console, line = line_console
    shop = console.running
    followers = [line.follow_event(f"U{number:032x}") for number in range(3)]
    assert post_line(shop, *followers).status_code == 200
    now = datetime.now(UTC)
    with shop.store() as session, session.begin():
        for _ in range(2):  # two pushes sent earlier this month
            line_usage.count_push(session, now=now, timezone=shop.settings.default_timezone)
        staff = {user.email: user for user in session.scalars(select(StaffUser))}
        campaign = scheduled_campaign(
            session,
            author=staff["marketer@shop.test"],
            approver=staff["admin@shop.test"],
            templates={"zh-TW": "週末限定：全館滿千折百！"},
            send_at=now,
            now=now,
        )
        campaign_id = campaign.id
    with console.signed_in("marketer@shop.test") as marketer:
        page = marketer.get(f"/console/campaigns/{campaign_id}").text
    assert "LINE pushes this month: 2 / 3 (LINE: 0 / 3) · 剩餘 left 1" in page
    assert "The campaign will not start: 3 LINE recipients but only 1 of the month" in page
