"""The gateway's Twilio webhooks (signatures, SMS, keywords, delivery callbacks) and SMS sender.

The real twilio client talks to the fake Messages API on loopback; webhooks arrive over
HTTP, signed as Twilio signs them. Rasa is down.
"""

from __future__ import annotations

from sqlalchemy import select

from crm_store.models import (
    AuditLog,
    Channel,
    Customer,
    DeliveryStatus,
    Direction,
    Language,
    MessagePurpose,
    OutboxMessage,
    OutboxStatus,
)
from tests.channels.conftest import SHOP_NUMBER, RunningGateway, wait_until
from tests.channels.gateway_helpers import (
    identity,
    messages,
    nothing_stored,
    outbox_statuses,
    queue,
)
from tests.factories import make_customer
from tests.fakes import (
    twilio_signature,
    twilio_sms_form,
    twilio_status_form,
)


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
