"""The refusal notice (個資法 Art. 20) on a customer's first marketing message, decided
when the message is sent: through the running gateway's dispatcher to the fake
Telegram and Twilio, whichever planner queued the message."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from crm_store.customers import zone
from crm_store.models import Channel, Language, MessagePurpose, OutboxMessage, OutboxStatus
from crm_store.opt_out_notice import OPT_OUT_NOTICE
from crm_store.outbox import Draft, enqueue_many
from scheduler.outreach import birthday
from tests.channels.conftest import RunningGateway, wait_until
from tests.channels.gateway_helpers import identity, queue
from tests.factories import make_customer

ZH_NOTICE, EN_NOTICE = OPT_OUT_NOTICE[Language.ZH_TW], OPT_OUT_NOTICE[Language.EN]


def test_only_the_first_marketing_message_carries_the_notice(gateway: RunningGateway) -> None:
    chat = "5101"
    with gateway.store() as session, session.begin():
        make_customer(session, telegram_chat_id=chat)
    queue(gateway, Channel.TELEGRAM, chat, "您的訂單已出貨", purpose=MessagePurpose.TRANSACTIONAL)
    queue(gateway, Channel.TELEGRAM, chat, "週末全館85折！", purpose=MessagePurpose.MARKETING)
    queue(gateway, Channel.TELEGRAM, chat, "新品上市，會員先享", purpose=MessagePurpose.MARKETING)
    sent = [m["text"] for m in gateway.telegram.wait_for_sent(int(chat), count=3)]
    assert sent == ["您的訂單已出貨", f"週末全館85折！\n{ZH_NOTICE}", "新品上市，會員先享"]
    # The outbox (and so the transcript) holds what went out.
    bodies = gateway.query(
        lambda s: s.scalars(select(OutboxMessage.body).order_by(OutboxMessage.id)).all()
    )
    assert bodies == sent


def test_the_notice_is_in_english_for_an_english_speaker_over_sms(gateway: RunningGateway) -> None:
    phone = "+886912340101"
    with gateway.store() as session, session.begin():
        make_customer(session, phone=phone, language=Language.EN)
    queue(gateway, Channel.SMS, phone, "20% off this weekend!", purpose=MessagePurpose.MARKETING)
    [sms] = gateway.twilio.wait_for_sent(phone)
    assert sms["body"] == f"20% off this weekend!\n{EN_NOTICE}"


def test_a_birthday_greeting_first_then_a_campaign_each_customer_told_once(
    gateway: RunningGateway,
) -> None:
    now = datetime.now(UTC)
    today = now.astimezone(zone("Asia/Taipei")).date()
    with gateway.store() as session, session.begin():
        # 1992: a leap year, so the test runs on 29 February too.
        born = date(1992, today.month, today.day)
        make_customer(session, name="林美華", telegram_chat_id="5102", birthday=born)
        other = make_customer(session, name="Amy Chen", phone="+886912340102")
        other.language = Language.EN
    greeting_hour = gateway.settings.model_copy(update={"birthday_hour": 0})
    with gateway.store() as session, session.begin():
        assert birthday.plan(session, now=now, settings=greeting_hour) == 1
    gateway.gateway.dispatcher.wake()
    [greeting] = gateway.telegram.wait_for_sent(5102)
    assert "生日快樂" in greeting["text"] and greeting["text"].endswith(ZH_NOTICE)

    # The campaign is the Telegram customer's second marketing message, the SMS one's first.
    with gateway.store() as session, session.begin():
        drafts = [
            Draft(
                key=f"campaign-test:{who.channel}",
                customer_id=who.customer_id,
                identity_id=who.id,
                channel=who.channel,
                text=text,
            )
            for who, text in (
                (identity(session, Channel.TELEGRAM, "5102"), "雙11 全館免運"),
                (identity(session, Channel.SMS, "+886912340102"), "Free shipping on 11.11"),
            )
        ]
        enqueue_many(session, drafts, purpose=MessagePurpose.MARKETING, now=now)
    gateway.gateway.dispatcher.wake()
    assert gateway.telegram.wait_for_sent(5102, count=2)[1]["text"] == "雙11 全館免運"
    [sms] = gateway.twilio.wait_for_sent("+886912340102")
    assert sms["body"] == f"Free shipping on 11.11\n{EN_NOTICE}"


def test_a_first_message_that_was_never_sent_leaves_the_notice_for_the_next(
    gateway: RunningGateway,
) -> None:
    chat = "5103"
    with gateway.store() as session, session.begin():
        make_customer(session, telegram_chat_id=chat, marketing_consent=False)
    queue(gateway, Channel.TELEGRAM, chat, "限時特賣", purpose=MessagePurpose.MARKETING)
    wait_until(
        lambda: (
            gateway.query(lambda s: s.scalars(select(OutboxMessage.status)).all())
            == [OutboxStatus.CANCELLED]
        ),
        what="the message without consent cancelled",
    )
    with gateway.store() as session, session.begin():
        identity(session, Channel.TELEGRAM, chat).marketing_consent = True
    queue(gateway, Channel.TELEGRAM, chat, "會員日加碼", purpose=MessagePurpose.MARKETING)
    [sent] = gateway.telegram.wait_for_sent(int(chat))
    assert sent["text"] == f"會員日加碼\n{ZH_NOTICE}"
