"""The gateway's webhooks, routing and senders, with Rasa down (the bot is not needed here).

The real python-telegram-bot and twilio clients talk to fake servers on loopback;
webhooks arrive over HTTP as Telegram and Twilio send them.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.models import (
    AuditLog,
    Author,
    Channel,
    ChannelIdentity,
    Conversation,
    ConversationMode,
    Customer,
    DeliveryStatus,
    Direction,
    Language,
    Message,
    MessagePurpose,
    OutboxMessage,
    OutboxStatus,
)
from crm_store.outbox import enqueue
from tests.channels.conftest import SHOP_NUMBER, RunningGateway, running_gateway, wait_until
from tests.factories import make_customer
from tests.fakes import (
    FakeTelegram,
    FakeTwilio,
    TelegramCall,
    telegram_blocked_update,
    telegram_contact_update,
    telegram_text_update,
    twilio_signature,
    twilio_sms_form,
    twilio_status_form,
)

HOLDING_ZH = "收到您的訊息了"


def identity(session: Session, channel: Channel, address: str) -> ChannelIdentity:
    return session.scalars(
        select(ChannelIdentity).where(
            ChannelIdentity.channel == channel, ChannelIdentity.address == address
        )
    ).one()


def messages(session: Session, channel: Channel, address: str) -> list[Message]:
    return list(
        session.scalars(
            select(Message)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .join(ChannelIdentity, ChannelIdentity.id == Conversation.identity_id)
            .where(ChannelIdentity.channel == channel, ChannelIdentity.address == address)
            .order_by(Message.id)
        )
    )


def queue(
    gw: RunningGateway,
    channel: Channel,
    address: str,
    text: str,
    *,
    purpose: MessagePurpose = MessagePurpose.REPLY,
    key: str | None = None,
    buttons: list[dict[str, str]] | None = None,
) -> None:
    """Put a message in the outbox as the console or the scheduler would, and wake sending."""
    with gw.store() as session, session.begin():
        who = identity(session, channel, address)
        conversation = session.scalars(
            select(Conversation).where(Conversation.identity_id == who.id)
        ).first()
        enqueue(
            session,
            key=key or f"test:{uuid.uuid4()}",
            identity=who,
            conversation=conversation,
            text=text,
            purpose=purpose,
            author=Author.SYSTEM,
            now=datetime.now(UTC),
            buttons=buttons or [],
        )
    gw.app.state.gateway.dispatcher.wake()


def sends_to(gw: RunningGateway, chat_id: int) -> list[TelegramCall]:
    """Every sendMessage call to `chat_id`, failed ones included."""
    return [c for c in gw.telegram.calls_to("sendMessage") if c["params"]["chat_id"] == chat_id]


def outbox_statuses(gw: RunningGateway) -> list[OutboxStatus]:
    return gw.query(
        lambda s: [
            row.status for row in s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        ]
    )


def nothing_stored(gw: RunningGateway) -> bool:
    return gw.count(Message) == 0 and gw.count(Customer) == 0


# --- Telegram ---------------------------------------------------------------------------


def test_telegram_webhook_with_a_wrong_or_missing_secret_is_refused_and_stores_nothing(
    gateway: RunningGateway,
) -> None:
    update = telegram_text_update(1, 5001, "你好")
    assert gateway.post_telegram(update, secret="guess").status_code == 403
    assert gateway.post_telegram(update, secret=None).status_code == 403
    assert nothing_stored(gateway)
    assert gateway.telegram.sent == []


def test_malformed_telegram_updates_get_400_and_store_nothing(gateway: RunningGateway) -> None:
    headers = {"X-Telegram-Bot-Api-Secret-Token": "telegram-webhook-secret"}
    bad_json = gateway.http.post("/telegram/webhook", content=b"{not json", headers=headers)
    assert bad_json.status_code == 400
    assert gateway.post_telegram({"message": {"text": "hi"}}).status_code == 400
    assert gateway.post_telegram([1, 2]).status_code == 400
    assert gateway.post_telegram({"update_id": 7, "message": {"text": 3}}).status_code == 400
    assert nothing_stored(gateway)


def test_nul_and_lone_surrogates_are_stored_without_them_on_every_database(
    gateway: RunningGateway,
) -> None:
    update = telegram_text_update(120, 5020, "我的訂單\x00呢？\ud83d", first_name="A\x00my")
    # As Telegram's JSON writes them: escaped (\\u0000, \\ud83d), valid JSON.
    body = json.dumps(update).encode("ascii")
    headers = {"X-Telegram-Bot-Api-Secret-Token": "telegram-webhook-secret"}
    posted = gateway.http.post(
        "/telegram/webhook", content=body, headers={**headers, "Content-Type": "application/json"}
    )
    assert posted.status_code == 200
    [stored] = gateway.query(lambda s: messages(s, Channel.TELEGRAM, "5020"))
    assert stored.text == "我的訂單呢？\ufffd"
    customer = gateway.query(lambda s: identity(s, Channel.TELEGRAM, "5020").customer)
    assert customer.name == "Amy"


def test_a_telegram_message_without_its_chat_gets_400(gateway: RunningGateway) -> None:
    update = telegram_text_update(121, 5021, "hi")
    del update["message"]["chat"]
    assert gateway.post_telegram(update).status_code == 400
    assert nothing_stored(gateway)


def test_a_telegram_message_is_stored_with_a_new_customer_and_duplicates_are_dropped(
    gateway: RunningGateway,
) -> None:
    update = telegram_text_update(100, 5002, "我的訂單呢？", first_name="美玲", last_name="陳")
    for _ in range(3):  # Telegram redelivers when it thinks we missed it
        assert gateway.post_telegram(update).status_code == 200
    stored = gateway.query(lambda s: messages(s, Channel.TELEGRAM, "5002"))
    inbound = [m for m in stored if m.direction is Direction.INBOUND]
    assert [m.text for m in inbound] == ["我的訂單呢？"]
    assert inbound[0].channel_message_id == "100"
    customer = gateway.query(lambda s: identity(s, Channel.TELEGRAM, "5002").customer)
    assert customer.name == "美玲 陳"  # Telegram's full name: first, then last
    assert gateway.count(Customer) == 1


def test_rasa_down_gives_one_holding_reply_and_keeps_the_messages_waiting(
    gateway: RunningGateway,
) -> None:
    gateway.say_on_telegram(200, 5003, "東西壞了")
    first = gateway.telegram.wait_for_sent(5003)
    assert first[0]["text"].startswith(HOLDING_ZH)
    gateway.say_on_telegram(201, 5003, "真的很生氣")
    # The second message was tried at Rasa too (and failed) before we look.
    wait_until(lambda: gateway.gateway.workers.busy == 0, what="routing done")
    # One holding reply for the outage, not one per message.
    assert gateway.count(OutboxMessage) == 1
    assert len(gateway.telegram.sent_to(5003)) == 1
    waiting = [
        m.text
        for m in gateway.query(lambda s: messages(s, Channel.TELEGRAM, "5003"))
        if m.direction is Direction.INBOUND and m.handled_at is None
    ]
    assert waiting == ["東西壞了", "真的很生氣"]


def test_429_from_telegram_is_retried_after_retry_after(gateway: RunningGateway) -> None:
    with gateway.store() as session, session.begin():
        make_customer(session, telegram_chat_id="5004")
    gateway.telegram.fail_next("sendMessage", status=429, retry_after=2, chat_id=5004)
    queue(gateway, Channel.TELEGRAM, "5004", "您的退款已經處理好了")
    sent = gateway.telegram.wait_for_sent(5004, timeout=15)
    attempts = [
        c for c in gateway.telegram.calls_to("sendMessage") if c["params"]["chat_id"] == 5004
    ]
    assert len(attempts) == 2
    assert attempts[1]["at"] - attempts[0]["at"] >= 2.0
    assert sent[0]["text"] == "您的退款已經處理好了"
    wait_until(lambda: outbox_statuses(gateway) == [OutboxStatus.SENT], what="recorded as sent")
    assert gateway.query(lambda s: s.scalars(select(OutboxMessage.attempts)).one()) == 2


def test_a_user_who_blocked_the_bot_is_marked_unreachable_and_not_retried(
    gateway: RunningGateway,
) -> None:
    with gateway.store() as session, session.begin():
        make_customer(session, telegram_chat_id="5005")
    gateway.telegram.block(5005)
    queue(gateway, Channel.TELEGRAM, "5005", "第一則")
    wait_until(
        lambda: not gateway.query(lambda s: identity(s, Channel.TELEGRAM, "5005").reachable),
        what="identity marked unreachable",
    )
    who = gateway.query(lambda s: identity(s, Channel.TELEGRAM, "5005"))
    assert who.unreachable_reason and "blocked" in who.unreachable_reason
    queue(gateway, Channel.TELEGRAM, "5005", "第二則")
    wait_until(
        lambda: (
            gateway.query(
                lambda s: s.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
            ).status
            is OutboxStatus.CANCELLED
        )
    )
    statuses = gateway.query(
        lambda s: [
            row.status for row in s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        ]
    )
    assert statuses == [OutboxStatus.FAILED, OutboxStatus.CANCELLED]
    attempts = [
        c for c in gateway.telegram.calls_to("sendMessage") if c["params"]["chat_id"] == 5005
    ]
    assert len(attempts) == 1


def test_blocking_and_unblocking_the_bot_updates_reachability(gateway: RunningGateway) -> None:
    gateway.say_on_telegram(300, 5006, "hello")
    assert gateway.post_telegram(telegram_blocked_update(301, 5006)).status_code == 200
    assert not gateway.query(lambda s: identity(s, Channel.TELEGRAM, "5006").reachable)
    gateway.say_on_telegram(302, 5006, "I'm back")
    assert gateway.query(lambda s: identity(s, Channel.TELEGRAM, "5006").reachable)


def test_long_text_is_split_at_sentences_and_buttons_become_a_reply_keyboard(
    gateway: RunningGateway,
) -> None:
    with gateway.store() as session, session.begin():
        make_customer(session, telegram_chat_id="5007")
    sentence = "您的包裹已經從倉庫出發，預計明天送達。"
    text = sentence * 300  # 6,000 characters
    buttons = [{"title": "是", "payload": "/affirm"}, {"title": "不是", "payload": "/deny"}]
    queue(gateway, Channel.TELEGRAM, "5007", text, buttons=buttons)
    sent = gateway.telegram.wait_for_sent(5007, count=2)
    assert all(len(part["text"]) <= 4096 for part in sent)
    assert all(part["text"].endswith("。") for part in sent)
    assert "".join(part["text"] for part in sent) == text
    assert sent[0]["reply_markup"] is None
    keyboard = sent[1]["reply_markup"]["keyboard"]
    assert [row[0]["text"] for row in keyboard] == ["是", "不是"]


def test_sharing_a_phone_contact_links_the_chat_to_the_known_customer(
    gateway: RunningGateway,
) -> None:
    with gateway.store() as session, session.begin():
        known = make_customer(session, name="林雅婷", phone="+886912000111")
        known_id = known.id
    gateway.say_on_telegram(400, 5008, "請問我的訂單")
    gateway.telegram.wait_for_sent(5008)  # the holding reply: Rasa is down
    contact = telegram_contact_update(401, 5008, "0912-000-111")
    assert gateway.post_telegram(contact).status_code == 200
    chat = gateway.query(lambda s: identity(s, Channel.TELEGRAM, "5008"))
    assert chat.customer_id == known_id
    assert gateway.count(Customer) == 1  # the chat-only record was merged away
    conversations = gateway.query(lambda s: list(s.scalars(select(Conversation.customer_id))))
    assert conversations == [known_id]
    replies = gateway.telegram.wait_for_sent(5008, count=2)
    assert any("會員資料" in reply["text"] for reply in replies)


def test_long_polling_takes_updates_when_there_is_no_webhook(
    database_url: str, fake_telegram: FakeTelegram, fake_twilio: FakeTwilio
) -> None:
    with running_gateway(
        database_url, telegram=fake_telegram, twilio=fake_twilio, telegram_mode="polling"
    ) as gw:
        fake_telegram.queue_update(telegram_text_update(500, 5009, "有人在嗎"))
        fake_telegram.queue_update(telegram_text_update(501, 5009, "有人在嗎？？"))

        def inbound() -> list[str]:
            stored = gw.query(lambda s: messages(s, Channel.TELEGRAM, "5009"))
            return [m.text for m in stored if m.direction is Direction.INBOUND]

        # Rasa is down here, so a holding reply may be stored between the two.
        wait_until(lambda: len(inbound()) >= 2, what="polled messages stored")
        assert fake_telegram.calls_to("deleteWebhook")
        assert inbound() == ["有人在嗎", "有人在嗎？？"]


def test_webhook_mode_registers_the_webhook_with_its_secret(gateway: RunningGateway) -> None:
    assert gateway.telegram.webhook["url"] == gateway.url + "/telegram/webhook"
    assert gateway.telegram.webhook["secret_token"] == "telegram-webhook-secret"


# --- SMS --------------------------------------------------------------------------------


def test_forged_or_unsigned_sms_webhooks_are_refused_and_store_nothing(
    gateway: RunningGateway,
) -> None:
    form = twilio_sms_form(
        "SM" + "1" * 32, "+886912345001", SHOP_NUMBER, "hi", account_sid=gateway.twilio.account_sid
    )
    assert gateway.post_sms(form, sign=False).status_code == 403
    forged = gateway.http.post("/sms/twilio", data=form, headers={"X-Twilio-Signature": "AAAA"})
    assert forged.status_code == 403
    # Signed for other content: the signature covers every parameter.
    tampered = dict(form, Body="refund me everything")
    headers = {
        "X-Twilio-Signature": twilio_signature(
            gateway.url + "/sms/twilio", form, gateway.twilio.auth_token
        )
    }
    assert gateway.http.post("/sms/twilio", data=tampered, headers=headers).status_code == 403
    status = twilio_status_form(
        "SM" + "2" * 32,
        "delivered",
        to="+886912345001",
        from_=SHOP_NUMBER,
        account_sid=gateway.twilio.account_sid,
    )
    assert gateway.post_sms(status, path="/sms/twilio/status", sign=False).status_code == 403
    assert nothing_stored(gateway)


def test_malformed_sms_webhooks_get_400(gateway: RunningGateway) -> None:
    good = twilio_sms_form(
        "SM" + "3" * 32, "+886912345002", SHOP_NUMBER, "hi", account_sid=gateway.twilio.account_sid
    )
    no_sid = {k: v for k, v in good.items() if k not in ("MessageSid", "SmsSid", "SmsMessageSid")}
    assert gateway.post_sms(no_sid).status_code == 400
    assert gateway.post_sms(dict(good, From="not a phone")).status_code == 400
    status = {"MessageSid": "SM" + "4" * 32, "MessageStatus": "exploded"}
    assert gateway.post_sms(status, path="/sms/twilio/status").status_code == 400
    assert nothing_stored(gateway)


def test_an_sms_is_stored_once_however_often_twilio_retries(gateway: RunningGateway) -> None:
    for _ in range(2):
        gateway.text_in("SM" + "5" * 32, "+886912345003", "請問營業時間")
    wait_until(lambda: gateway.twilio.sent_to("+886912345003"), what="holding reply")
    stored = gateway.query(lambda s: messages(s, Channel.SMS, "+886912345003"))
    assert [m.text for m in stored if m.direction is Direction.INBOUND] == ["請問營業時間"]


def test_a_national_number_is_matched_to_the_customer_known_by_it(
    gateway: RunningGateway,
) -> None:
    with gateway.store() as session, session.begin():
        known_id = make_customer(session, name="王大明", phone="+886912345004").id
    gateway.text_in("SM" + "6" * 32, "0912345004", "hello")
    assert gateway.count(Customer) == 1
    owner = gateway.query(
        lambda s: messages(s, Channel.SMS, "+886912345004")[0].conversation.customer_id
    )
    assert owner == known_id


def test_stop_opts_out_confirms_and_then_nothing_more_is_sent(gateway: RunningGateway) -> None:
    phone = "+886912345005"
    with gateway.store() as session, session.begin():
        make_customer(session, phone=phone, language=Language.EN)
    gateway.text_in("SM" + "7" * 32, phone, "STOP")
    confirmation = gateway.twilio.wait_for_sent(phone)
    assert "unsubscribed" in confirmation[0]["body"]
    who = gateway.query(lambda s: identity(s, Channel.SMS, phone))
    assert who.opted_out and not who.marketing_consent
    audit = gateway.query(lambda s: s.scalars(select(AuditLog.action)).all())
    assert "consent.opt_out" in audit

    queue(gateway, Channel.SMS, phone, "50% off this weekend!", purpose=MessagePurpose.MARKETING)
    gateway.text_in("SM" + "8" * 32, phone, "where is my order?")
    wait_until(
        lambda: (
            gateway.query(
                lambda s: s.scalars(
                    select(OutboxMessage).where(OutboxMessage.purpose == MessagePurpose.MARKETING)
                ).one()
            ).status
            is OutboxStatus.CANCELLED
        ),
        what="campaign message cancelled",
    )
    wait_until(
        lambda: all(
            m.handled_at is not None
            for m in gateway.query(lambda s: messages(s, Channel.SMS, phone))
            if m.direction is Direction.INBOUND
        ),
        what="the question dealt with (silenced)",
    )
    assert len(gateway.twilio.sent_to(phone)) == 1  # only the STOP confirmation

    gateway.text_in("SM" + "9" * 32, phone, "start")
    sent = gateway.twilio.wait_for_sent(phone, count=2)
    assert "subscribed again" in sent[1]["body"]
    assert not gateway.query(lambda s: identity(s, Channel.SMS, phone)).opted_out


def test_chinese_stop_keyword_and_help(gateway: RunningGateway) -> None:
    phone = "+886912345006"
    gateway.text_in("SM" + "a" * 32, phone, "HELP")
    assert "STOP" in gateway.twilio.wait_for_sent(phone)[0]["body"]
    gateway.text_in("SM" + "b" * 32, phone, " 退订 ")  # Simplified, with spaces
    sent = gateway.twilio.wait_for_sent(phone, count=2)
    assert "退訂" in sent[1]["body"]
    assert gateway.query(lambda s: identity(s, Channel.SMS, phone)).opted_out


def test_delivery_callbacks_update_the_message_and_unreachable_numbers(
    gateway: RunningGateway,
) -> None:
    phone = "+886912345007"
    with gateway.store() as session, session.begin():
        make_customer(session, phone=phone)
    gateway.text_in("SM" + "c" * 32, phone, "哈囉")  # opens the conversation
    sent = gateway.twilio.wait_for_sent(phone)
    sid = sent[0]["sid"]
    wait_until(lambda: outbox_statuses(gateway) == [OutboxStatus.SENT], what="recorded as sent")
    assert sent[0]["status_callback"] == gateway.url + "/sms/twilio/status"
    account = gateway.twilio.account_sid
    delivered = twilio_status_form(
        sid, "delivered", to=phone, from_=SHOP_NUMBER, account_sid=account
    )
    assert gateway.post_sms(delivered, path="/sms/twilio/status").status_code == 204
    reply = [
        m
        for m in gateway.query(lambda s: messages(s, Channel.SMS, phone))
        if m.direction is Direction.OUTBOUND
    ]
    assert reply[0].delivery_status is DeliveryStatus.DELIVERED
    assert reply[0].channel_message_id == sid

    failed = twilio_status_form(
        sid, "undelivered", to=phone, from_=SHOP_NUMBER, account_sid=account, error_code="30006"
    )
    assert gateway.post_sms(failed, path="/sms/twilio/status").status_code == 204
    who = gateway.query(lambda s: identity(s, Channel.SMS, phone))
    assert not who.reachable and "landline" in (who.unreachable_reason or "")


def test_error_21610_marks_the_number_unreachable_without_retrying(
    gateway: RunningGateway,
) -> None:
    phone = "+886912345008"
    with gateway.store() as session, session.begin():
        make_customer(session, phone=phone)
    gateway.twilio.fail_next(status=400, code=21610, to=phone)
    queue(gateway, Channel.SMS, phone, "您的訂單已出貨", purpose=MessagePurpose.TRANSACTIONAL)
    wait_until(
        lambda: not gateway.query(lambda s: identity(s, Channel.SMS, phone)).reachable,
        what="unreachable",
    )
    row = gateway.query(lambda s: s.scalars(select(OutboxMessage)).one())
    assert row.status is OutboxStatus.FAILED and "21610" in (row.last_error or "")
    assert len([c for c in gateway.twilio.calls if c.get("to") == phone]) == 1


def test_twilio_server_errors_are_retried(gateway: RunningGateway) -> None:
    phone = "+886912345009"
    with gateway.store() as session, session.begin():
        make_customer(session, phone=phone)
    gateway.twilio.fail_next(status=503, code=20503, to=phone)
    queue(gateway, Channel.SMS, phone, "hello again")
    assert gateway.twilio.wait_for_sent(phone, timeout=15)[0]["body"] == "hello again"
    wait_until(lambda: outbox_statuses(gateway) == [OutboxStatus.SENT], what="recorded as sent")
    assert gateway.query(lambda s: s.scalars(select(OutboxMessage.attempts)).one()) == 2


def test_long_chinese_sms_is_cut_below_1600_characters(gateway: RunningGateway) -> None:
    phone = "+886912345010"
    with gateway.store() as session, session.begin():
        make_customer(session, phone=phone)
    text = "我們已經為您安排退款，款項會在七個工作天內退回原付款方式。" * 80
    queue(gateway, Channel.SMS, phone, text)
    sent = gateway.twilio.wait_for_sent(phone, count=2)
    assert all(len(part["body"]) <= 1600 for part in sent)
    assert "".join(part["body"] for part in sent) == text


# --- routing, health, web chat ----------------------------------------------------------


def test_messages_to_a_conversation_with_staff_wait_for_the_inbox(gateway: RunningGateway) -> None:
    gateway.say_on_telegram(600, 5010, "first")
    gateway.telegram.wait_for_sent(5010)  # the holding reply: Rasa is down
    with gateway.store() as session, session.begin():
        conversation = session.scalars(select(Conversation)).one()
        conversation.mode = ConversationMode.HUMAN
        for message in session.scalars(select(Message)):
            message.handled_at = message.created_at
    gateway.say_on_telegram(601, 5010, "are you there?")
    wait_until(
        lambda: all(
            m.handled_at for m in gateway.query(lambda s: messages(s, Channel.TELEGRAM, "5010"))
        ),
        what="delivered to the inbox",
    )
    assert len(gateway.telegram.sent_to(5010)) == 1  # no holding reply: staff have it


def test_healthz_reports_rasa_down_and_metrics_count_messages(gateway: RunningGateway) -> None:
    health = gateway.http.get("/healthz")
    assert health.status_code == 503
    assert health.json()["database"] == "ok" and health.json()["rasa"].startswith("error")
    gateway.post_telegram({"update_id": "x"})
    gateway.say_on_telegram(700, 5011, "hi")
    metrics = gateway.http.get("/metrics").text
    assert 'crmbot_inbound_messages_total{channel="telegram",outcome="stored"} 1.0' in metrics
    assert 'crmbot_webhook_rejections_total{endpoint="telegram",status="400"} 1.0' in metrics


def test_web_chat_page_takes_messages_through_the_same_routing(gateway: RunningGateway) -> None:
    page = gateway.http.get("/chat")
    assert page.status_code == 200 and "<form" in page.text
    assert gateway.http.cookies.get("crmbot_chat")
    client_id = str(uuid.uuid4())
    posted = gateway.http.post("/chat/messages", json={"text": "你好", "client_id": client_id})
    assert posted.status_code == 202
    again = gateway.http.post("/chat/messages", json={"text": "你好", "client_id": client_id})
    assert again.json()["duplicate"] is True

    def transcript() -> list[dict[str, str]]:
        rows: list[dict[str, str]] = gateway.http.get("/chat/messages").json()["messages"]
        return rows if len(rows) >= 2 else []

    rows = wait_until(transcript, what="holding reply in the transcript")
    assert rows[0]["text"] == "你好" and rows[0]["direction"] == "in"
    assert rows[1]["direction"] == "out" and rows[1]["text"].startswith(HOLDING_ZH)
    assert gateway.http.post("/chat/messages", json={"text": ""}).status_code == 400
    assert gateway.http.post("/chat/messages", content=b"nope").status_code == 400
