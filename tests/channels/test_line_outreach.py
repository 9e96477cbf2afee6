"""The scheduler's outreach over LINE, end to end (#15): birthday greetings planned by
the scheduler's tick and sent by the running gateway's dispatcher through the real
line-bot-sdk to the fake LINE API; who gets them, and on which channel (surveys:
`test_line_surveys.py`).

Outreach is always a push (a reply token is kept for the customer's own answers), and
every push is counted against the month's plan in the store.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from channels.line import LineFollow, mark_follow
from crm_store import line_usage
from crm_store.conversations import open_conversation
from crm_store.customers import zone
from crm_store.models import (
    Channel,
    ChannelIdentity,
    Language,
    MessagePurpose,
    OutboxMessage,
    OutboxStatus,
    SatisfactionSurvey,
    SurveyStatus,
)
from crm_store.opt_out_notice import OPT_OUT_NOTICE
from crm_store.policy import load_policy
from crm_store.reach import preferred_identity
from crm_store.settings import Settings
from crm_store.tickets import resolve_ticket, schedule_survey
from scheduler.outreach import birthday
from scheduler.service import run_planners
from tests.channels.conftest import RunningGateway, wait_until
from tests.channels.gateway_helpers import identity
from tests.channels.line_helpers import LineUser, post_line, pushes_counted
from tests.factories import make_customer_with_late_order, make_ticket
from tests.fakes import FakeTwilio
from tests.fakes.line import FakeLine

MEI = "U4f1e2d3c4b5a69788796a5b4c3d2e1f0"
JOHN = "U0f1e2d3c4b5a69788796a5b4c3d2e1f4"
GONE = "U9a8b7c6d5e4f30211203f4e5d6c7b8a9"


def born_today() -> date:
    """A birthday that is today in Taipei (1992, a leap year: 29 February works too)."""
    today = datetime.now(UTC).astimezone(zone("Asia/Taipei")).date()
    return date(1992, today.month, today.day)


def at_midnight(shop: RunningGateway) -> Settings:
    """The shop's settings greeting at 00:00, so that today's greetings are due now."""
    return shop.settings.model_copy(update={"birthday_hour": 0})


def follows(
    shop: RunningGateway,
    line: FakeLine,
    user_id: str,
    *,
    name: str,
    language: Language = Language.ZH_TW,
    birthday: date | None = None,
) -> int:
    """`user_id` adds the shop's LINE account, and the shop's records give their name,
    language and birthday; the customer's id."""
    response = post_line(shop, line.follow_event(user_id))
    assert response.status_code == 200, response.text
    with shop.store() as session, session.begin():
        customer = identity(session, Channel.LINE, user_id).customer
        customer.name, customer.language = name, language
        customer.set_birthday(birthday)
        return customer.id


def blocks(shop: RunningGateway, line: FakeLine, user_id: str) -> None:
    response = post_line(shop, line.follow_event(user_id, following=False))
    assert response.status_code == 200, response.text


def outreach_rows(shop: RunningGateway, customer_id: int) -> list[OutboxMessage]:
    return list(
        shop.query(
            lambda s: s.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.customer_id == customer_id)
                .order_by(OutboxMessage.id)
            ).all()
        )
    )


def resolved_complaint_in_line(shop: RunningGateway, user_id: str, *, resolved: datetime) -> int:
    """A complaint made in the LINE user's conversation, solved at `resolved` and its
    survey scheduled as the bot's last step does (`survey_after_days` later); the
    survey's id."""
    with shop.store() as session, session.begin():
        line_identity = identity(session, Channel.LINE, user_id)
        conversation = open_conversation(session, line_identity, now=resolved)
        customer = line_identity.customer
        ticket = make_ticket(
            session, customer, conversation=conversation, language=customer.language, now=resolved
        )
        due = schedule_survey(session, ticket, due_at=resolved + load_policy().survey_after)
        resolve_ticket(ticket, root_cause="carrier delay", now=resolved)
        return due.id


# --- birthday greetings -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "name", "greeting"),
    [
        (Language.ZH_TW, "林美華", "美華，生日快樂！🎂"),
        (Language.EN, "Mei Lin", "Happy birthday, Mei! 🎂"),
    ],
    ids=["zh-TW", "en"],
)
def test_a_line_follower_gets_the_birthday_greeting_pushed_in_their_language(
    line_shop: RunningGateway,
    fake_line: FakeLine,
    fake_twilio: FakeTwilio,
    language: Language,
    name: str,
    greeting: str,
) -> None:
    customer_id = follows(
        line_shop, fake_line, MEI, name=name, language=language, birthday=born_today()
    )
    # Mei wrote a moment ago: her fresh reply token is kept for the answer to her.
    token = fake_line.reply_token(MEI)
    with line_shop.store() as session, session.begin():
        line_usage.keep_reply_token(session, user_id=MEI, token=token, now=datetime.now(UTC))

    planned = run_planners(line_shop.store, at_midnight(line_shop), now=datetime.now(UTC))
    assert planned["birthdays"] == 1
    line_shop.gateway.dispatcher.wake()
    [sent] = fake_line.wait_for_sent(MEI)
    assert sent["kind"] == "push"
    assert sent["text"].startswith(greeting) and "BDAY-" in sent["text"]
    # Her first marketing message: it says how to refuse more, in her language.
    assert sent["text"].endswith(f"\n{OPT_OUT_NOTICE[language]}")
    wait_until(lambda: pushes_counted(line_shop) == 1, what="the push counted")
    assert fake_line.pushes == 1
    [row] = outreach_rows(line_shop, customer_id)
    assert (row.channel, row.purpose, row.body) == (
        Channel.LINE,
        MessagePurpose.MARKETING,
        sent["text"],
    )
    # The greeting left her token alone, and nothing went anywhere else.
    taken = line_shop.query(
        lambda s: line_usage.take_reply_token(s, user_id=MEI, now=datetime.now(UTC))
    )
    assert taken == token
    assert fake_twilio.sent == []
    # The next tick greets nobody again.
    assert run_planners(line_shop.store, at_midnight(line_shop), now=datetime.now(UTC)) == {
        "birthdays": 0,
        "surveys": 0,
        "winback": 0,
        "campaigns": 0,
    }


def test_a_customer_on_line_and_sms_is_greeted_on_line_only(
    line_shop: RunningGateway, fake_line: FakeLine, fake_twilio: FakeTwilio
) -> None:
    phone = "+886912770001"
    with line_shop.store() as session:
        customer_id, order = make_customer_with_late_order(
            session, phone=phone, language=Language.ZH_TW, name="陳志明"
        )
    # He adds the shop on LINE and says who he is: the chat joins his record.
    assert post_line(line_shop, fake_line.follow_event(JOHN)).status_code == 200
    john = LineUser(line_shop, fake_line, JOHN)
    assert "找到會員資料" in john.says(f"0912770001 {order}")
    assert john.customer_id == customer_id
    with line_shop.store() as session, session.begin():
        identity(session, Channel.SMS, phone).customer.set_birthday(born_today())
        # Telegram first, then LINE (a counted push), then SMS (paid each): LINE here.
        for marketing in (True, False):
            chosen = preferred_identity(session, customer_id, marketing=marketing)
            assert chosen is not None and chosen.channel is Channel.LINE

    assert (
        run_planners(line_shop.store, at_midnight(line_shop), now=datetime.now(UTC))["birthdays"]
        == 1
    )
    line_shop.gateway.dispatcher.wake()
    greeting = fake_line.wait_for_sent(JOHN, 2)[-1]
    assert greeting["kind"] == "push" and greeting["text"].startswith("志明，生日快樂！")
    assert [row.channel for row in outreach_rows(line_shop, customer_id)] == [
        Channel.LINE,  # the linking answer
        Channel.LINE,  # the greeting
    ]
    assert fake_twilio.sent == []


def test_when_the_months_line_pushes_run_out_greetings_go_by_sms_to_who_has_it(
    line_shop: RunningGateway, fake_line: FakeLine, fake_twilio: FakeTwilio
) -> None:
    mei = follows(line_shop, fake_line, MEI, name="林美華", birthday=born_today())
    gone_by_sms = follows(line_shop, fake_line, JOHN, name="陳志明", birthday=born_today())
    with line_shop.store() as session, session.begin():
        customer = identity(session, Channel.LINE, JOHN).customer
        customer.identities.append(
            ChannelIdentity(channel=Channel.SMS, address="+886912770002", marketing_consent=True)
        )
        # The plan has one push left this month.
        now = datetime.now(UTC)
        for _ in range(line_shop.settings.line_monthly_quota - 1):
            line_usage.count_push(session, now=now, timezone=line_shop.settings.default_timezone)

    planned = run_planners(line_shop.store, at_midnight(line_shop), now=datetime.now(UTC))
    assert planned["birthdays"] == 2
    line_shop.gateway.dispatcher.wake()
    # Whoever came first has the last push; the other is greeted by SMS, not refused by LINE.
    channels = {
        customer_id: [row.channel for row in outreach_rows(line_shop, customer_id)]
        for customer_id in (mei, gone_by_sms)
    }
    assert channels in (
        {mei: [Channel.LINE], gone_by_sms: [Channel.SMS]},
        {mei: [], gone_by_sms: [Channel.LINE]},
    )
    if channels[mei]:
        fake_line.wait_for_sent(MEI)
        [sms] = fake_twilio.wait_for_sent("+886912770002")
        assert "生日快樂" in sms["body"]
    else:
        fake_line.wait_for_sent(JOHN)
    wait_until(
        lambda: pushes_counted(line_shop) == line_shop.settings.line_monthly_quota,
        what="the month's last push counted",
    )


def test_a_line_user_who_blocked_the_account_gets_nothing_and_the_tick_goes_on(
    line_shop: RunningGateway, fake_line: FakeLine
) -> None:
    now = datetime.now(UTC)
    mei = follows(line_shop, fake_line, MEI, name="林美華", birthday=born_today())
    gone = follows(line_shop, fake_line, GONE, name="張雅婷", birthday=born_today())
    due = now - load_policy().survey_after
    surveys = [resolved_complaint_in_line(line_shop, user, resolved=due) for user in (MEI, GONE)]
    blocks(line_shop, fake_line, GONE)

    planned = run_planners(line_shop.store, at_midnight(line_shop), now=now)
    assert (planned["birthdays"], planned["surveys"]) == (1, 1)
    line_shop.gateway.dispatcher.wake()
    assert len(fake_line.wait_for_sent(MEI, 2)) == 2
    assert fake_line.sent_to(GONE) == []
    assert outreach_rows(line_shop, gone) == []
    statuses = line_shop.query(
        lambda s: [s.get_one(SatisfactionSurvey, id).status for id in surveys]
    )
    assert statuses == [SurveyStatus.SENT, SurveyStatus.CANCELLED]
    wait_until(lambda: pushes_counted(line_shop) == 2, what="Mei's two pushes counted")
    assert len(outreach_rows(line_shop, mei)) == 2
    # Adding the account again gives consent back: next year's greeting would go out.
    post_line(line_shop, fake_line.follow_event(GONE))
    with line_shop.store() as session:
        back = preferred_identity(session, gone, marketing=True)
        assert back is not None and back.address == GONE


def test_a_greeting_queued_before_the_user_blocked_the_account_is_cancelled_when_due(
    line_shop: RunningGateway, fake_line: FakeLine
) -> None:
    now = datetime.now(UTC)
    mei = follows(line_shop, fake_line, MEI, name="林美華", birthday=born_today())
    follows(line_shop, fake_line, JOHN, name="陳志明", birthday=born_today())
    with line_shop.store() as session, session.begin():
        assert birthday.plan(session, now=now, settings=at_midnight(line_shop)) == 2
        # Mei blocks the account after the tick queued her greeting, before it goes out.
        mark_follow(
            session, LineFollow(user_id=MEI, following=False), settings=line_shop.settings, now=now
        )
    line_shop.gateway.dispatcher.wake()
    assert "生日快樂" in fake_line.wait_for_sent(JOHN)[0]["text"]
    wait_until(
        lambda: [row.status for row in outreach_rows(line_shop, mei)] == [OutboxStatus.CANCELLED],
        what="Mei's greeting cancelled",
    )
    assert fake_line.sent_to(MEI) == []
    wait_until(lambda: pushes_counted(line_shop) == 1, what="John's push counted")
    assert fake_line.pushes == 1
