"""The built-in outreach (birthdays, surveys, win-back) and the tick that runs every
planner, on a controllable clock.

Every planner takes `now`; nothing sleeps through real hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session, sessionmaker

from crm_store import campaigns, outbox, outbox_results
from crm_store.db import session_scope
from crm_store.models import (
    Customer,
    Language,
    MessagePurpose,
    OrderStatus,
    SatisfactionSurvey,
    StaffRole,
    SurveyStatus,
)
from crm_store.orders import record_order
from crm_store.surveys import record_score
from crm_store.tickets import schedule_survey
from scheduler import outreach
from scheduler.outreach import PLANNERS
from scheduler.service import run_planners
from tests.factories import make_customer, make_product, make_staff, make_ticket, scheduled_campaign
from tests.scheduler.outreach_helpers import SETTINGS, TAIPEI, queued

LOS_ANGELES = ZoneInfo("America/Los_Angeles")


# --- birthdays --------------------------------------------------------------------------


def test_birthdays_are_greeted_on_the_day_in_each_customers_own_zone(session: Session) -> None:
    taipei = make_customer(
        session, name="陳美玲", birthday=date(1990, 11, 23), phone="+886912400001"
    )
    la = make_customer(
        session,
        name="Amy Chen",
        birthday=date(1985, 11, 23),
        timezone="America/Los_Angeles",
        language=Language.EN,
        telegram_chat_id="9401",
    )
    # 10:00 on the 23rd in Taipei is still the 22nd in Los Angeles.
    morning_in_taipei = datetime(2026, 11, 23, 10, 0, tzinfo=TAIPEI)
    assert outreach.birthday.plan(session, now=morning_in_taipei, settings=SETTINGS) == 1
    greeting = queued(session, f"birthday:{taipei.id}:2026")
    assert len(greeting) == 1 and "美玲" in greeting[0].body and "BDAY-" in greeting[0].body
    assert greeting[0].not_before == morning_in_taipei
    # Later the same UTC day it is the 23rd, 07:00, in Los Angeles: queued for 10:00 there.
    dawn_in_la = datetime(2026, 11, 23, 7, 0, tzinfo=LOS_ANGELES)
    assert outreach.birthday.plan(session, now=dawn_in_la, settings=SETTINGS) == 1
    la_greeting = queued(session, f"birthday:{la.id}:2026")
    assert la_greeting[0].body.startswith("Happy birthday, Amy!")
    assert la_greeting[0].not_before == datetime(2026, 11, 23, 10, 0, tzinfo=LOS_ANGELES)
    assert la_greeting[0].channel.value == "telegram"
    # Running again changes nothing.
    assert outreach.birthday.plan(session, now=dawn_in_la, settings=SETTINGS) == 0
    assert len(queued(session, "birthday:")) == 2


@pytest.mark.parametrize(
    ("today", "greeted"),
    [(date(2027, 2, 28), True), (date(2028, 2, 28), False), (date(2028, 2, 29), True)],
)
def test_29_february_birthdays_are_greeted_on_28_february_in_other_years(
    session: Session, today: date, greeted: bool
) -> None:
    make_customer(session, birthday=date(2000, 2, 29), phone="+886912400002")
    noon = datetime(today.year, today.month, today.day, 12, tzinfo=TAIPEI)
    assert outreach.birthday.plan(session, now=noon, settings=SETTINGS) == int(greeted)


def test_no_greeting_without_marketing_consent(session: Session) -> None:
    make_customer(
        session, birthday=date(1990, 11, 23), phone="+886912400003", marketing_consent=False
    )
    noon = datetime(2026, 11, 23, 12, tzinfo=TAIPEI)
    assert outreach.birthday.plan(session, now=noon, settings=SETTINGS) == 0


# --- surveys ----------------------------------------------------------------------------


def test_a_survey_is_asked_reminded_once_then_given_up(session: Session) -> None:
    customer = make_customer(session, phone="+886912400004")
    resolved = datetime(2026, 11, 20, 12, tzinfo=TAIPEI)
    ticket = make_ticket(session, customer, now=resolved)
    survey = schedule_survey(session, ticket, due_at=resolved + timedelta(days=3))
    assert outreach.survey.plan(session, now=resolved + timedelta(days=2), settings=SETTINGS) == 0
    asked_at = resolved + timedelta(days=3, minutes=1)
    assert outreach.survey.plan(session, now=asked_at, settings=SETTINGS) == 1
    asked = queued(session, f"survey:{survey.id}")
    assert len(asked) == 1 and ticket.reference in asked[0].body
    assert asked[0].purpose is MessagePurpose.SURVEY
    assert survey.status is SurveyStatus.SENT
    outreach.survey.plan(session, now=asked_at + timedelta(hours=47), settings=SETTINGS)
    assert survey.status is SurveyStatus.SENT
    outreach.survey.plan(session, now=asked_at + timedelta(hours=49), settings=SETTINGS)
    assert survey.status is SurveyStatus.REMINDED
    assert [row.idempotency_key for row in queued(session, f"survey:{survey.id}")] == [
        f"survey:{survey.id}",
        f"survey:{survey.id}:reminder",
    ]
    outreach.survey.plan(session, now=asked_at + timedelta(hours=98), settings=SETTINGS)
    assert survey.status is SurveyStatus.EXPIRED
    assert len(queued(session, f"survey:{survey.id}")) == 2


def test_an_answered_survey_gets_no_reminder(session: Session) -> None:
    customer = make_customer(session, phone="+886912400005")
    now = datetime(2026, 11, 20, 12, tzinfo=TAIPEI)
    ticket = make_ticket(session, customer, now=now)
    survey = schedule_survey(session, ticket, due_at=now)
    outreach.survey.plan(session, now=now, settings=SETTINGS)
    record_score(session, survey, score=5, reply="5", now=now + timedelta(hours=1))
    outreach.survey.plan(session, now=now + timedelta(days=3), settings=SETTINGS)
    assert session.get_one(SatisfactionSurvey, survey.id).status is SurveyStatus.ANSWERED
    assert len(queued(session, f"survey:{survey.id}")) == 1


# --- win-back ---------------------------------------------------------------------------


def lapsed(session: Session, phone: str, *, days_ago: int, spent: str) -> Customer:
    customer = make_customer(session, phone=phone)
    product = make_product(session, price=spent)
    record_order(
        session,
        customer=customer,
        number=f"W{phone[-6:]}",
        placed_at=datetime(2026, 11, 23, tzinfo=UTC) - timedelta(days=days_ago),
        lines=[(product, 1)],
        status=OrderStatus.DELIVERED,
    )
    return customer


def test_win_back_writes_to_the_lapsed_worth_keeping_first_once_per_period(
    session: Session,
) -> None:
    big = lapsed(session, "+886912400006", days_ago=200, spent="9000")
    small = lapsed(session, "+886912400007", days_ago=200, spent="300")
    lapsed(session, "+886912400008", days_ago=20, spent="5000")  # still active
    now = datetime(2026, 11, 23, 12, tzinfo=TAIPEI)
    assert outreach.winback.plan(session, now=now, settings=SETTINGS, limit=1) == 1
    assert [row.customer_id for row in queued(session, "winback:")] == [big.id]
    assert outreach.winback.plan(session, now=now + timedelta(days=1), settings=SETTINGS) == 1
    assert [row.customer_id for row in queued(session, "winback:")] == [big.id, small.id]
    half_year = now + timedelta(days=SETTINGS.winback_every_days + 1)
    # Both again, and the third customer, whose last order is now 200 days old too.
    assert outreach.winback.plan(session, now=half_year, settings=SETTINGS) == 3


def test_a_purchase_after_a_win_back_message_counts_as_won_back(session: Session) -> None:
    gone = lapsed(session, "+886912400301", days_ago=200, spent="4000")
    lapsed(session, "+886912400302", days_ago=200, spent="3000")
    now = datetime(2026, 11, 23, 12, tzinfo=TAIPEI)
    assert outreach.winback.plan(session, now=now, settings=SETTINGS) == 2
    outbox.claim_due(session, worker="w", now=now, limit=10)
    for row in queued(session, "winback:"):
        outbox_results.mark_sent(session, row.id, worker="w", provider_id=f"SM{row.id}", now=now)
    record_order(
        session,
        customer=gone,
        number="B0000001",
        placed_at=now + timedelta(days=3),
        lines=[(make_product(session, price="800"), 1)],
        status=OrderStatus.PAID,
    )
    result = campaigns.built_in_report(session, "winback", since=now - timedelta(days=1))
    assert (result.sent, result.converted) == (2, 1)
    with pytest.raises(campaigns.CampaignError, match="choose from"):
        campaigns.built_in_report(session, "spam", since=now)


def test_each_tick_runs_every_planner_in_its_own_transaction(
    session_factory: sessionmaker[Session],
) -> None:
    now = datetime(2026, 11, 23, 12, tzinfo=TAIPEI)
    with session_scope(session_factory) as session:
        make_customer(session, birthday=date(1990, 11, 23), phone="+886912400501")
        surveyed = make_customer(session, phone="+886912400502")
        schedule_survey(session, make_ticket(session, surveyed, now=now), due_at=now)
        lapsed(session, "+886912400503", days_ago=200, spent="900")
        scheduled_campaign(
            session,
            author=make_staff(session, "mia@shop.test", StaffRole.MARKETER),
            approver=make_staff(session, "leo@shop.test", StaffRole.MARKETER),
            templates={"zh-TW": "hi"},
            send_at=now,
            now=now,
        )
    assert list(PLANNERS) == ["birthdays", "surveys", "winback", "campaigns"]
    assert run_planners(session_factory, SETTINGS, now=now) == {
        "birthdays": 1,
        "surveys": 1,
        "winback": 1,
        "campaigns": 3,
    }
    assert set(run_planners(session_factory, SETTINGS, now=now).values()) == {0}
