"""Refusing marketing and asking about one's personal data (個資法), over the real
gateway on Telegram, SMS and the web chat, the way customers write. Rasa is down: a
message the gateway leaves to the bot gets the holding reply instead."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select

from crm_store.models import (
    AuditLog,
    Channel,
    ChannelIdentity,
    Customer,
    DataRequest,
    DataRequestKind,
    DataRequestStatus,
    Language,
    MessagePurpose,
    OutboxMessage,
    OutboxStatus,
    Tier,
)
from tests.channels.conftest import RunningGateway, wait_until
from tests.channels.gateway_helpers import HOLDING_ZH, identity, queue
from tests.factories import make_customer, make_order, utc


def known_customer(
    gateway: RunningGateway,
    *,
    chat: str,
    phone: str,
    name: str = "王小明",
    language: Language = Language.ZH_TW,
) -> int:
    """A customer reachable on Telegram and SMS, both consenting to marketing."""
    with gateway.store() as session, session.begin():
        customer = make_customer(
            session, name=name, telegram_chat_id=chat, phone=phone, language=language
        )
        return customer.id


def consents(gateway: RunningGateway, customer_id: int) -> list[bool]:
    return gateway.query(
        lambda s: [
            i.marketing_consent
            for i in s.scalars(
                select(ChannelIdentity)
                .where(ChannelIdentity.customer_id == customer_id)
                .order_by(ChannelIdentity.id)
            )
        ]
    )


def audit_actions(gateway: RunningGateway) -> list[str]:
    return gateway.query(lambda s: list(s.scalars(select(AuditLog.action).order_by(AuditLog.id))))


def requests(gateway: RunningGateway) -> list[tuple[DataRequestKind, DataRequestStatus]]:
    return gateway.query(
        lambda s: [
            (r.kind, r.status) for r in s.scalars(select(DataRequest).order_by(DataRequest.id))
        ]
    )


def test_a_casual_refusal_on_telegram_stops_marketing_on_every_channel_at_once(
    gateway: RunningGateway,
) -> None:
    customer_id = known_customer(gateway, chat="6101", phone="+886912346101")
    gateway.say_on_telegram(61010, 6101, "別再發廣告了啦")
    [ack] = gateway.telegram.wait_for_sent(6101)
    assert "停止" in ack["text"] and HOLDING_ZH not in ack["text"]
    assert consents(gateway, customer_id) == [False, False]
    assert audit_actions(gateway).count("consent.opt_out.marketing") == 2
    # Marketing only: SMS is not opted out altogether, and answers still go out.
    sms = gateway.query(lambda s: identity(s, Channel.SMS, "+886912346101"))
    assert not sms.opted_out

    queue(gateway, Channel.SMS, "+886912346101", "雙11 全館免運", purpose=MessagePurpose.MARKETING)
    wait_until(
        lambda: (
            gateway.query(
                lambda s: s.scalars(
                    select(OutboxMessage.status).where(
                        OutboxMessage.purpose == MessagePurpose.MARKETING
                    )
                ).one()
            )
            is OutboxStatus.CANCELLED
        ),
        what="the campaign message cancelled",
    )
    assert gateway.twilio.sent_to("+886912346101") == []


def test_an_english_refusal_over_sms_is_confirmed_in_english(gateway: RunningGateway) -> None:
    customer_id = known_customer(gateway, chat="6102", phone="+886912346102", language=Language.EN)
    gateway.text_in("SM" + "61" * 16, "+886912346102", "pls stop sending me this")
    [ack] = gateway.twilio.wait_for_sent("+886912346102")
    assert "won't get any more marketing" in ack["body"]
    assert consents(gateway, customer_id) == [False, False]


def test_cancelling_an_order_is_not_an_opt_out_and_goes_to_the_bot(
    gateway: RunningGateway,
) -> None:
    customer_id = known_customer(gateway, chat="6103", phone="+886912346103")
    gateway.say_on_telegram(61030, 6103, "我想取消訂單")
    [holding] = gateway.telegram.wait_for_sent(6103)
    assert HOLDING_ZH in holding["text"]  # waiting for the bot
    gateway.text_in("SM" + "62" * 16, "+886912346103", "stop my order pls")
    [holding] = gateway.twilio.wait_for_sent("+886912346103")
    assert "Got your message" in holding["body"]
    assert consents(gateway, customer_id) == [True, True]
    assert requests(gateway) == []


def test_the_web_chat_takes_a_refusal_too(gateway: RunningGateway) -> None:
    gateway.http.get("/chat")
    posted = gateway.http.post(
        "/chat/messages", json={"text": "不要再傳了", "client_id": str(uuid.uuid4())}
    )
    assert posted.status_code == 202

    def answers() -> list[str]:
        rows = gateway.http.get("/chat/messages").json()["messages"]
        return [row["text"] for row in rows if row["direction"] == "out"]

    [ack] = wait_until(answers, what="the web chat's answer")
    assert "停止" in ack
    assert "consent.opt_out.marketing" in audit_actions(gateway)


def test_asking_what_we_hold_over_sms_sends_a_masked_summary(gateway: RunningGateway) -> None:
    phone = "+886912346104"
    with gateway.store() as session, session.begin():
        customer = make_customer(
            session,
            name="Amy Chen",
            phone=phone,
            telegram_chat_id="61041234",
            language=Language.EN,
            tier=Tier.GOLD,
            birthday=date(1990, 5, 17),
        )
        customer.email = "amy.chen@example.com"
        make_order(session, customer, placed_at=utc(2026, 3, 2))
        make_order(session, customer, placed_at=utc(2026, 10, 8))
    gateway.text_in("SM" + "63" * 16, phone, "what info do u have on me??")
    [summary] = gateway.twilio.wait_for_sent(phone)
    body = summary["body"]
    assert "Amy Chen" in body and "1990-05-17" in body and "gold" in body
    assert "a•••@example.com" in body and "amy.chen" not in body
    assert "+886•••••104" in body and phone not in body
    assert "Telegram: •••234" in body
    assert "Orders: 2" in body and "2026-10-08" in body
    assert requests(gateway) == [(DataRequestKind.ACCESS, DataRequestStatus.PENDING)]
    assert "data_request.access" in audit_actions(gateway)


def test_chinese_access_correction_and_deletion_requests_on_telegram(
    gateway: RunningGateway,
) -> None:
    known_customer(gateway, chat="6105", phone="+886912346105", name="林美華")
    gateway.say_on_telegram(61050, 6105, "你們有我什麼資料")
    [summary] = gateway.telegram.wait_for_sent(6105)
    assert "林美華" in summary["text"] and "訂單：共 0 筆" in summary["text"]
    gateway.say_on_telegram(61051, 6105, "我的生日登記錯了 要改")
    assert "更正" in gateway.telegram.wait_for_sent(6105, count=2)[1]["text"]
    gateway.say_on_telegram(61052, 6105, "幫我刪掉我的資料")
    assert "刪除" in gateway.telegram.wait_for_sent(6105, count=3)[2]["text"]
    assert requests(gateway) == [
        (DataRequestKind.ACCESS, DataRequestStatus.PENDING),
        (DataRequestKind.CORRECTION, DataRequestStatus.PENDING),
        (DataRequestKind.DELETION, DataRequestStatus.PENDING),
    ]
    actions = audit_actions(gateway)
    for kind in ("access", "correction", "deletion"):
        assert f"data_request.{kind}" in actions
    # Nothing is erased before staff confirm.
    assert gateway.query(lambda s: s.scalars(select(Customer.erased_at)).all()) == [None]


def test_an_english_deletion_request_over_sms_is_acknowledged(gateway: RunningGateway) -> None:
    known_customer(gateway, chat="6106", phone="+886912346106", language=Language.EN)
    gateway.text_in("SM" + "64" * 16, "+886912346106", "delete my data pls")
    [ack] = gateway.twilio.wait_for_sent("+886912346106")
    assert "delete your personal data" in ack["body"]
    assert requests(gateway) == [(DataRequestKind.DELETION, DataRequestStatus.PENDING)]
