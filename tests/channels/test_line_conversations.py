"""Whole conversations over LINE: the fake Messaging API, the real gateway, Rasa and actions.

The customer's lines arrive as signed LINE webhooks; the answers are what the real
line-bot-sdk delivered to the fake, by reply token while it was fresh, else by push.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from crm_store import handoffs
from crm_store.models import (
    Author,
    Channel,
    Conversation,
    ConversationMode,
    DesiredOutcome,
    Language,
    MessagePurpose,
    StaffRole,
    TicketStatus,
)
from crm_store.outbox import enqueue
from tests.bot.test_complaint_conversations import said
from tests.channels.conftest import RunningGateway, wait_until
from tests.channels.gateway_helpers import identity
from tests.channels.line_helpers import LineUser, pushes_counted
from tests.channels.test_conversations import latest_ticket, replies_of
from tests.channels.test_real_conversations import says_any
from tests.factories import make_customer_with_late_order, make_staff
from tests.fakes.line import FakeLine

pytestmark = pytest.mark.rasa


@pytest.fixture
def shop(line_assistant: RunningGateway) -> RunningGateway:
    """The gateway these tests drive: with LINE, the real Rasa and action server."""
    return line_assistant


def test_a_complaint_over_line_in_chinese_after_saying_who_i_am(
    shop: RunningGateway, fake_line: FakeLine
) -> None:
    zh = Language.ZH_TW
    with shop.store() as session:
        customer_id, order = make_customer_with_late_order(
            session, phone="+886912760001", language=zh, name="陳怡君"
        )
    amy = LineUser(shop, fake_line, "U9d1c0f7e1a2b3c4d5e6f708192a3b4c5")
    pushed_before = pushes_counted(shop)  # the assistant's store is shared by the tests

    answer = amy.says(f"哈囉 我是陳怡君 手機0912-760-001 訂單{order}")
    assert "找到會員資料" in answer
    assert amy.customer_id == customer_id
    answer = amy.says(f"我的包裹 {order} 已經超過三天了還沒到！！")
    assert said(replies_of(answer), "utter_complaint_empathise", zh), answer
    answer = amy.says("沒有了")
    assert said(replies_of(answer), "utter_ask_desired_outcome", zh), answer
    assert "退款" in amy.quick_replies()
    answer = amy.says("退款")  # tapping the quick reply sends its text
    assert said(replies_of(answer), "utter_confirm_refund", zh), answer
    answer = amy.says("對")
    assert said(replies_of(answer), "utter_resolution_refund", zh), answer
    answer = amy.says("1")
    assert said(replies_of(answer), "utter_compensation_granted", zh), answer

    ticket = latest_ticket(shop, customer_id)
    assert ticket.desired_outcome is DesiredOutcome.REFUND
    assert ticket.status is TicketStatus.RESOLVED
    sent = fake_line.sent_to(amy.user_id)
    assert len(sent) == 6 and sent[0]["kind"] == "reply"
    # Each answer took its message's token unless the bot was slower than the token.
    pushed = [s["kind"] for s in sent].count("push")
    assert fake_line.pushes == pushed
    wait_until(lambda: pushes_counted(shop) - pushed_before == pushed, what="every push counted")


def test_handed_to_a_person_over_line_the_agents_reply_arrives_there_and_is_counted(
    shop: RunningGateway, fake_line: FakeLine
) -> None:
    ben = LineUser(shop, fake_line, "U0aa1bb2cc3dd4ee5ff60718293a4b5c6")
    pushed_before = pushes_counted(shop)
    answer = ben.says("hey can i talk to a real person pls, the bot doesnt get me")
    assert says_any(answer, "utter_handoff_now") or says_any(answer, "utter_handoff_later")
    identity_id = shop.query(lambda s: identity(s, Channel.LINE, ben.user_id).id)
    conversation = shop.query(
        lambda s: s.scalars(
            select(Conversation).where(Conversation.identity_id == identity_id)
        ).one()
    )
    assert conversation.mode is ConversationMode.HUMAN
    assert fake_line.sent_to(ben.user_id)[-1]["kind"] == "reply"

    with shop.store() as session, session.begin():
        agent = make_staff(session, "amy.agent@shop.test", StaffRole.AGENT)
        handoff = handoffs.open_handoff_of(session, conversation.id)
        assert handoff is not None
        handoffs.claim(session, handoff.id, agent=agent, now=datetime.now(UTC))
        talk = session.get_one(Conversation, conversation.id)
        enqueue(  # as the console's reply form does
            session,
            key=f"agent:{conversation.id}:hello",
            identity=talk.identity,
            conversation=talk,
            text="Hi Ben, I'm Amy from the shop 🙂 What can I do for you?",
            purpose=MessagePurpose.REPLY,
            author=Author.AGENT,
            now=datetime.now(UTC),
            staff_user_id=agent.id,
        )
    shop.gateway.dispatcher.wake()
    from_agent = fake_line.wait_for_sent(ben.user_id, 2)[-1]
    assert from_agent["text"].startswith("Hi Ben, I'm Amy")
    assert from_agent["kind"] == "push"  # the token went with the bot's answer
    wait_until(lambda: pushes_counted(shop) == pushed_before + 1, what="the push counted")
