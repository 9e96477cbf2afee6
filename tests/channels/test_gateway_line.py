"""The gateway's LINE webhook and sender, with Rasa down.

The real line-bot-sdk talks to the fake Messaging API on loopback; events arrive over
HTTP signed as LINE signs them. Rasa is down, so every first message gets the holding
reply: the answer a customer waits for, sent with their reply token.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from channels.line_sender import read_quota
from crm_store.models import (
    Channel,
    Customer,
    Direction,
    Language,
    LineReplyToken,
    MessagePurpose,
    OutboxMessage,
    OutboxStatus,
)
from tests.channels.conftest import RunningGateway, wait_until
from tests.channels.gateway_helpers import HOLDING_ZH, identity, messages, nothing_stored, queue
from tests.channels.line_helpers import LineUser, post_line, pushes_counted
from tests.factories import make_customer_with_late_order
from tests.fakes.line import FakeLine, line_signature

AMY = "U4af4980629aaaaaaaaaaaaaaaaaaaaaa"
BEN = "U4af4980629bbbbbbbbbbbbbbbbbbbbbb"


@pytest.fixture
def gateway(line_shop: RunningGateway) -> RunningGateway:
    """The gateway these tests drive: with LINE set up."""
    return line_shop


def test_a_forged_or_unsigned_line_webhook_is_refused_and_stores_nothing(
    gateway: RunningGateway, fake_line: FakeLine
) -> None:
    event = fake_line.text_event(AMY, "你好～請問有營業嗎")
    assert post_line(gateway, event, signature="bm90IExJTkUncyBzaWduYXR1cmU=").status_code == 403
    assert post_line(gateway, event, signature=None).status_code == 403
    forged = gateway.http.post(
        "/line/webhook", content=b"\xff\xfe not utf-8", headers={"X-Line-Signature": "x"}
    )
    assert forged.status_code == 403
    assert nothing_stored(gateway)
    assert fake_line.sent == []


def test_malformed_line_webhooks_get_400_and_store_nothing(
    gateway: RunningGateway, fake_line: FakeLine
) -> None:
    missing_text = fake_line.text_event(AMY, "hi")
    del missing_text["message"]["text"]
    no_user = fake_line.text_event(AMY, "hi")
    del no_user["source"]["userId"]
    for event in (missing_text, no_user, {"type": "message", "source": {"type": "user"}}):
        assert post_line(gateway, event).status_code == 400, event
    signed = {"X-Line-Signature": "", "Content-Type": "application/json"}
    for body in (b"{not json", b"[1, 2]", b'{"events": {}}', b'{"events": [3]}'):
        signed["X-Line-Signature"] = line_signature(body)
        response = gateway.http.post("/line/webhook", content=body, headers=signed)
        assert response.status_code == 400, body
    assert nothing_stored(gateway)


def test_lines_own_check_of_the_webhook_url_and_events_we_do_not_handle_get_200(
    gateway: RunningGateway, fake_line: FakeLine
) -> None:
    sticker = fake_line.text_event(AMY, "")
    sticker["message"] = {"type": "sticker", "id": "1", "packageId": "1", "stickerId": "2"}
    in_a_group = fake_line.text_event(AMY, "大家好")
    in_a_group["source"] = {"type": "group", "groupId": "C1", "userId": AMY}
    assert post_line(gateway).status_code == 200  # "Verify" in the LINE console: no events
    assert post_line(gateway, sticker, in_a_group).status_code == 200
    assert nothing_stored(gateway)


def test_a_redelivered_event_is_dropped_and_its_stale_token_never_kept(
    gateway: RunningGateway, fake_line: FakeLine
) -> None:
    amy = LineUser(gateway, fake_line, AMY)
    amy.writes("我的訂單什麼時候到？？", event_id="01JDELIVERY0000000000000001")
    assert fake_line.wait_for_sent(AMY)[0]["text"].startswith(HOLDING_ZH)
    amy.writes("我的訂單什麼時候到？？", event_id="01JDELIVERY0000000000000001", redelivery=True)
    amy.writes("哈囉？", event_id="01JDELIVERY0000000000000002", redelivery=True)
    inbound = gateway.query(lambda s: messages(s, Channel.LINE, AMY))
    assert [m.text for m in inbound if m.direction is Direction.INBOUND] == [
        "我的訂單什麼時候到？？",
        "哈囉？",  # redelivered but never stored before: kept, so nothing is lost
    ]
    assert gateway.count(LineReplyToken) == 0  # the first was used; the redelivered one not kept


def test_the_answer_goes_with_the_fresh_reply_token_and_a_second_one_is_pushed_and_counted(
    gateway: RunningGateway, fake_line: FakeLine
) -> None:
    amy = LineUser(gateway, fake_line, AMY)
    amy.writes("請問退貨要怎麼辦理")
    [holding] = fake_line.wait_for_sent(AMY)
    assert holding["kind"] == "reply" and holding["text"].startswith(HOLDING_ZH)
    assert pushes_counted(gateway) == 0

    # The token was used: the next answer is pushed, with the bot's options as quick replies.
    buttons = [
        {"title": "退款", "payload": "/refund"},
        {"title": "換一個新的給我", "payload": "/x"},
    ]
    queue(gateway, Channel.LINE, AMY, "想要怎麼處理呢？", buttons=buttons)
    pushed = fake_line.wait_for_sent(AMY, 2)[-1]
    assert pushed["kind"] == "push"
    assert pushed["quick_replies"] == [("退款", "退款"), ("換一個新的給我", "換一個新的給我")]
    wait_until(lambda: pushes_counted(gateway) == 1, what="the push counted")


def test_a_stale_token_is_not_used_the_reply_is_pushed_and_counted(
    gateway: RunningGateway, fake_line: FakeLine
) -> None:
    ben = LineUser(gateway, fake_line, BEN)
    ben.writes("hey, where's my parcel")
    fake_line.wait_for_sent(BEN)  # the holding reply, with that message's token
    ben.writes("hello??")  # no second holding reply in one outage: this token is kept
    wait_until(lambda: gateway.count(LineReplyToken) == 1, what="the new token kept")
    a_minute_ago = datetime.now(UTC) - timedelta(minutes=1)
    with gateway.store() as session, session.begin():
        session.execute(update(LineReplyToken).values(received_at=a_minute_ago))
    queue(gateway, Channel.LINE, BEN, "Sorry for the wait! Your parcel is on its way.")
    assert fake_line.wait_for_sent(BEN, 2)[-1]["kind"] == "push"
    wait_until(lambda: pushes_counted(gateway) == 1, what="the push counted")
    assert fake_line.pushes == 1


def test_outreach_is_pushed_leaving_the_fresh_token_and_the_meter_agrees_with_line(
    gateway: RunningGateway, fake_line: FakeLine
) -> None:
    amy = LineUser(gateway, fake_line, AMY)
    amy.writes("hi")
    fake_line.wait_for_sent(AMY)  # the holding reply took that token
    amy.writes("anyone there?")
    wait_until(lambda: gateway.count(LineReplyToken) == 1, what="the new token kept")
    for number in range(3):
        queue(
            gateway,
            Channel.LINE,
            AMY,
            f"訂單 {number} 已出貨",
            purpose=MessagePurpose.TRANSACTIONAL,
        )
    fake_line.wait_for_sent(AMY, 4)
    assert [sent["kind"] for sent in fake_line.sent_to(AMY)] == ["reply", "push", "push", "push"]
    assert gateway.count(LineReplyToken) == 1  # still there for the answer Amy waits for
    wait_until(lambda: pushes_counted(gateway) == 3, what="three pushes counted")
    assert read_quota(gateway.settings) == (200, 3)


def test_a_push_line_took_but_whose_answer_was_lost_goes_out_once(
    gateway: RunningGateway, fake_line: FakeLine
) -> None:
    amy = LineUser(gateway, fake_line, AMY)
    amy.writes("我上禮拜訂的杯子寄出了嗎")
    fake_line.wait_for_sent(AMY)  # the holding reply took the token
    fake_line.lose_next_push_answer()
    queue(gateway, Channel.LINE, AMY, "您的杯子今天寄出囉，明天會到 📦")
    by_id = select(OutboxMessage.status).order_by(OutboxMessage.id)
    wait_until(
        lambda: gateway.query(lambda s: list(s.scalars(by_id)))[-1] is OutboxStatus.SENT,
        what="the push recorded as sent after its retry",
    )
    texts = [sent["text"] for sent in fake_line.sent_to(AMY)]
    assert texts.count("您的杯子今天寄出囉，明天會到 📦") == 1
    assert pushes_counted(gateway) == fake_line.pushes == 1


def test_follow_gives_consent_and_unfollow_takes_it_and_reachability_away(
    gateway: RunningGateway, fake_line: FakeLine
) -> None:
    assert post_line(gateway, fake_line.follow_event(AMY)).status_code == 200
    added = gateway.query(lambda s: identity(s, Channel.LINE, AMY))
    assert added.reachable and added.marketing_consent and added.consent_changed_at is not None
    assert post_line(gateway, fake_line.follow_event(AMY, following=False)).status_code == 200
    blocked = gateway.query(lambda s: identity(s, Channel.LINE, AMY))
    assert not blocked.reachable and not blocked.marketing_consent
    queue(gateway, Channel.LINE, AMY, "週年慶全館八折！", purpose=MessagePurpose.MARKETING)
    wait_until(
        lambda: (
            gateway.query(lambda s: list(s.scalars(select(OutboxMessage.status))))
            == [OutboxStatus.CANCELLED]
        ),
        what="the promotion cancelled",
    )
    assert fake_line.sent == []
    assert gateway.count(Customer) == 1


def line_customer(gateway: RunningGateway, user_id: str) -> tuple[str | None, str, Language]:
    """The chat's name, its customer's name and language."""
    chat = gateway.query(lambda s: identity(s, Channel.LINE, user_id))
    customer = gateway.query(lambda s: s.get(Customer, chat.customer_id))
    return chat.display_name, customer.name, customer.language


def test_a_new_friend_is_named_from_their_line_profile_and_written_to_in_its_language(
    gateway: RunningGateway, fake_line: FakeLine
) -> None:
    fake_line.profiles[AMY] = {"displayName": "Amy 林 🌸", "language": "en"}
    assert post_line(gateway, fake_line.follow_event(AMY)).status_code == 200
    wait_until(lambda: line_customer(gateway, AMY)[0] is not None, what="the profile read")
    assert line_customer(gateway, AMY) == ("Amy 林 🌸", "Amy 林 🌸", Language.EN)


def test_a_profile_names_a_writing_customer_but_their_own_words_keep_their_language(
    gateway: RunningGateway, fake_line: FakeLine
) -> None:
    fake_line.profiles[BEN] = {"displayName": "阿斌", "language": "en"}
    ben = LineUser(gateway, fake_line, BEN)
    ben.writes("請問今天有營業嗎")
    wait_until(lambda: line_customer(gateway, BEN)[0] is not None, what="the profile read")
    assert line_customer(gateway, BEN) == ("阿斌", "阿斌", Language.ZH_TW)
    ben.writes("謝謝")
    fake_line.wait_for_sent(BEN)
    assert fake_line.profile_requests == [BEN]  # asked once


def test_a_user_line_has_no_profile_for_keeps_their_id_and_is_not_asked_again(
    gateway: RunningGateway, fake_line: FakeLine
) -> None:
    amy = LineUser(gateway, fake_line, AMY)
    amy.writes("hello?")
    wait_until(lambda: fake_line.profile_requests == [AMY], what="the profile asked for")
    amy.writes("anyone there")
    fake_line.wait_for_sent(AMY)
    assert fake_line.profile_requests == [AMY]
    assert line_customer(gateway, AMY) == (None, AMY, Language.EN)


def test_a_phone_and_order_number_of_a_known_customer_join_the_line_chat_to_them(
    gateway: RunningGateway, fake_line: FakeLine
) -> None:
    with gateway.store() as session:
        customer_id, order = make_customer_with_late_order(
            session, phone="+886912345001", language=Language.ZH_TW, name="林美華"
        )
    amy, ben = LineUser(gateway, fake_line, AMY), LineUser(gateway, fake_line, BEN)
    ben.writes("請問 0912345001 這支手機的訂單寄出了嗎？")  # a question: the bot reads it
    fake_line.wait_for_sent(BEN)
    assert ben.customer_id != customer_id
    assert gateway.twilio.sent == []  # and no code went to the phone
    amy.writes(f"你好 我是林美華 手機 0912-345-001 訂單{order.lower()}")
    [linked] = fake_line.wait_for_sent(AMY)
    assert linked["kind"] == "reply" and "找到會員資料" in linked["text"]
    assert amy.customer_id == customer_id


def code_in(sms: str) -> str:
    [code] = re.findall(r"(?<!\d)\d{6}(?!\d)", sms)
    return code


def test_a_known_phone_alone_is_proved_by_the_code_texted_to_it(
    gateway: RunningGateway, fake_line: FakeLine
) -> None:
    with gateway.store() as session:
        customer_id, _ = make_customer_with_late_order(
            session, phone="+886912345002", language=Language.ZH_TW, name="陳怡君"
        )
    amy = LineUser(gateway, fake_line, AMY)
    assert "尾號 5002" in amy.says("我的手機 0912 345 002")
    [sms] = gateway.twilio.wait_for_sent("+886912345002")
    code = code_in(sms["body"])
    assert amy.customer_id != customer_id  # not until the code comes back
    wrong = "000000" if code != "000000" else "111111"
    assert "還可以再試 4 次" in amy.says(wrong)
    full_width_with_spaces = (
        " ".join(code[:3])
        + "　"
        + code[3:].translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    )
    assert "驗證成功" in amy.says(full_width_with_spaces)
    assert amy.customer_id == customer_id
    assert gateway.count(Customer) == 1


def test_someone_elses_phone_gets_a_code_but_guessing_joins_nothing_and_codes_run_out(
    gateway: RunningGateway, fake_line: FakeLine
) -> None:
    with gateway.store() as session:
        customer_id, _ = make_customer_with_late_order(
            session, phone="+886912345003", language=Language.EN, name="Grace Lin"
        )
    ben = LineUser(gateway, fake_line, BEN)
    assert "ending in 5003" in ben.says("my number is +886 912 345 003")
    [sms] = gateway.twilio.wait_for_sent("+886912345003")
    assert "If you didn't ask for it" in sms["body"]  # in the phone's owner's language
    code = code_in(sms["body"])
    guesses = [f"{n:06d}" for n in range(1, 7) if f"{n:06d}" != code][:5]
    answers = [ben.says(guess) for guess in guesses]
    assert "4 more tries" in answers[0] and "too many wrong codes" in answers[-1]
    assert ben.customer_id != customer_id
    for _ in range(2):  # the phone's codes for the hour: three in all
        assert "ending in 5003" in ben.says("0912345003")
    assert "4 more tries" in ben.says(code)  # a spent code is no good against the new one
    assert "can't text a code" in ben.says("0912345003")
    assert len(gateway.twilio.wait_for_sent("+886912345003", 3)) == 3
