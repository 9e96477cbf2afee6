"""The gateway's Telegram webhook, long polling and sender, with Rasa down.

The real python-telegram-bot client talks to the fake Bot API on loopback; updates arrive
over HTTP as Telegram sends them.
"""

from __future__ import annotations

import json

from sqlalchemy import select

from crm_store.models import (
    Channel,
    Conversation,
    Customer,
    Direction,
    OutboxMessage,
    OutboxStatus,
)
from tests.channels.conftest import RunningGateway, running_gateway, wait_until
from tests.channels.gateway_helpers import (
    HOLDING_ZH,
    identity,
    messages,
    nothing_stored,
    outbox_statuses,
    queue,
)
from tests.factories import make_customer
from tests.fakes import (
    FakeTelegram,
    FakeTwilio,
    telegram_blocked_update,
    telegram_contact_update,
    telegram_text_update,
)


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


def test_sharing_a_phone_the_shop_does_not_know_keeps_it_and_says_so(
    gateway: RunningGateway,
) -> None:
    contact = telegram_contact_update(410, 5018, "+1 415 555 0100")
    assert gateway.post_telegram(contact).status_code == 200
    [reply] = gateway.telegram.wait_for_sent(5018)
    assert "已記下您的電話號碼" in reply["text"]  # the chat is zh-hant
    chat = gateway.query(lambda s: identity(s, Channel.TELEGRAM, "5018"))
    kept = gateway.query(lambda s: identity(s, Channel.SMS, "+14155550100"))
    assert kept.customer_id == chat.customer_id
    assert kept.marketing_consent is False  # sharing a number is not agreeing to offers


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
