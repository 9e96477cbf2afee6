"""Outreach in the staff transcript, end to end (#16): a campaign, a birthday greeting and a
win-back message, planned by the real planners and sent by the gateway's dispatcher to
the fake Telegram and Twilio, show in the transcript of the conversation the customer's
answer opens, before the answer and with their purpose.

They stay outbox rows, with no conversation per recipient, so the transcript finds them
by the identity the conversation is on: a message still waiting to go out, or one sent
to another customer, must not show.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from markupsafe import escape
from sqlalchemy import select

from crm_store import transcripts
from crm_store.models import Conversation, Language, OutboxMessage, OutboxStatus, StaffUser
from scheduler import outreach
from tests.channels.conftest import wait_until
from tests.console.conftest import Console
from tests.factories import lapsed_customers, make_customer, scheduled_campaign
from tests.scheduler.outreach_helpers import SETTINGS, TAIPEI

MEI, JIMMY = 7101, 7102  # Telegram chats
ANNIVERSARY_SALE = {
    "zh-TW": "{{ first_name }}，週年慶全館 85 折，只到週日！",
    "en": "{{ first_name }}, 15% off everything for our anniversary, until Sunday!",
}


def start_anniversary_sale(console: Console, *, now: datetime) -> int:
    """Mei and Jimmy on Telegram, and the anniversary sale started by its planner; Mei's id."""
    with console.running.store() as session, session.begin():
        mei = make_customer(session, name="陳美玲", telegram_chat_id=str(MEI))
        make_customer(session, name="Jimmy Lin", language=Language.EN, telegram_chat_id=str(JIMMY))
        author, approver = (
            session.get_one(StaffUser, console.staff_ids[email])
            for email in ("marketer@shop.test", "admin@shop.test")
        )
        scheduled_campaign(
            session,
            author=author,
            approver=approver,
            templates=ANNIVERSARY_SALE,
            send_at=now,
            now=now,
        )
        assert outreach.campaign.plan(session, now=now, settings=SETTINGS) == 2
        return mei.id


def staff_transcript(
    console: Console, customer_id: int
) -> tuple[list[tuple[str, str, str, str]], str]:
    """The transcript of the conversation the customer's answer opened, as the store gives
    it (kind, author, direction, text) and as an agent's console shows it."""
    with console.running.store() as session:
        conversation = session.scalars(
            select(Conversation).where(Conversation.customer_id == customer_id)
        ).one()
        entries = [
            (entry.kind, entry.author, entry.direction, entry.text)
            for entry in transcripts.transcript(session, conversation)
        ]
    with console.signed_in("agent@shop.test") as agent:
        fragment = agent.get(f"/console/conversations/{conversation.id}/transcript").text
    return entries, fragment


def assert_shown_before_the_answer(
    console: Console, customer_id: int, *, sent: str, answer: str, not_shown: str
) -> None:
    entries, fragment = staff_transcript(console, customer_id)
    assert entries[:2] == [
        ("outreach", "marketing", "out", sent),
        ("message", "customer", "in", answer),
    ]
    # As the page writes them: an apostrophe ("Here's a birthday coupon") is escaped.
    assert fragment.index(escape(sent)) < fragment.index(escape(answer))
    assert 'class="entry outreach marketing out"' in fragment
    assert escape(not_shown) not in fragment


def recorded(console: Console, customer_id: int, status: OutboxStatus) -> str:
    """The text of the customer's outreach once the dispatcher has tried it and recorded
    `status` (sent, or back in the queue); the customer answers only after that."""

    def tried_and_recorded() -> str:
        with console.running.store() as session:
            row = session.scalars(
                select(OutboxMessage).where(OutboxMessage.customer_id == customer_id)
            ).one()
            return row.body if row.status is status and row.attempts else ""

    return wait_until(tried_and_recorded, what=f"customer {customer_id}'s outreach {status}")


def test_a_campaign_shows_before_the_customers_answer(console: Console) -> None:
    mei = start_anniversary_sale(console, now=datetime.now(UTC))
    telegram = console.running.telegram
    sent = telegram.wait_for_sent(MEI)[0]["text"]
    to_jimmy = telegram.wait_for_sent(JIMMY)[0]["text"]
    assert sent.startswith("美玲，週年慶全館 85 折，只到週日！")
    assert recorded(console, mei, OutboxStatus.SENT) == sent
    console.running.say_on_telegram(MEI * 10, MEI, "ok 我要那個優惠")
    assert_shown_before_the_answer(
        console, mei, sent=sent, answer="ok 我要那個優惠", not_shown=to_jimmy
    )


def test_a_birthday_greeting_shows_before_the_customers_answer(console: Console) -> None:
    now = datetime.now(UTC)
    today = now.astimezone(TAIPEI).date()
    born = date(1992, today.month, today.day)  # a leap year: any day of the year is a birthday
    with console.running.store() as session, session.begin():
        amy = make_customer(
            session,
            name="Amy Chen",
            birthday=born,
            language=Language.EN,
            telegram_chat_id=str(MEI),
        )
        make_customer(session, name="林志明", birthday=born, telegram_chat_id=str(JIMMY))
        # Greeted at once, whatever the hour the test runs at.
        at_midnight = SETTINGS.model_copy(update={"birthday_hour": 0})
        assert outreach.birthday.plan(session, now=now, settings=at_midnight) == 2
    telegram = console.running.telegram
    sent = telegram.wait_for_sent(MEI)[0]["text"]
    to_jimmy = telegram.wait_for_sent(JIMMY)[0]["text"]
    assert sent.startswith("Happy birthday, Amy!") and "BDAY-" in sent
    assert recorded(console, amy.id, OutboxStatus.SENT) == sent
    console.running.say_on_telegram(MEI * 10, MEI, "thx!! whats the code again")
    assert_shown_before_the_answer(
        console, amy.id, sent=sent, answer="thx!! whats the code again", not_shown=to_jimmy
    )


def test_a_win_back_message_shows_before_the_customers_answer(console: Console) -> None:
    now = datetime.now(UTC)
    with console.running.store() as session, session.begin():
        gone, also_gone = lapsed_customers(session, 2, now=now)
        assert outreach.winback.plan(session, now=now, settings=SETTINGS) == 2
    phone, other_phone = (f"+8869{customer:08d}" for customer in (gone, also_gone))
    twilio = console.running.twilio
    sent = twilio.wait_for_sent(phone)[0]["body"]
    to_other = twilio.wait_for_sent(other_phone)[0]["body"]
    assert "好久不見" in sent and sent != to_other  # each has a coupon of their own
    assert recorded(console, gone, OutboxStatus.SENT) == sent
    console.running.text_in("SM" + "1" * 32, phone, "好久沒買了 折價卷還能用嗎")
    assert_shown_before_the_answer(
        console, gone, sent=sent, answer="好久沒買了 折價卷還能用嗎", not_shown=to_other
    )


def test_outreach_still_waiting_to_go_out_is_not_shown(console: Console) -> None:
    telegram = console.running.telegram
    # Telegram asks the shop to wait an hour before writing to Mei again.
    telegram.fail_next(status=429, retry_after=3600, chat_id=MEI)
    mei = start_anniversary_sale(console, now=datetime.now(UTC))
    to_jimmy = telegram.wait_for_sent(JIMMY)[0]["text"]
    for_mei = recorded(console, mei, OutboxStatus.PENDING)
    console.running.say_on_telegram(MEI * 10, MEI, "ㄟ 現在有什麼活動嗎")
    entries, fragment = staff_transcript(console, mei)
    assert [entry for entry in entries if entry[0] == "outreach"] == []
    assert entries[0] == ("message", "customer", "in", "ㄟ 現在有什麼活動嗎")
    assert escape(for_mei) not in fragment and escape(to_jimmy) not in fragment
