"""Whatever Rasa answers, the customer gets one sensible message.

`Router` is run directly with a scripted stand-in for `RasaClient`: the unit under test
is what the gateway does with an answer that is empty, stacked (Rasa's circuit breaker)
or a repeat, which the real Rasa produces only when its policies are broken. The store
underneath is real, on each backend. The whole-stack conversations are in
test_real_conversations.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from channels.inbound import Inbound, store_inbound
from channels.metrics import Metrics
from channels.rasa_client import BotMessage, RasaClient
from channels.routing import Routed, Router
from channels.turns import turn_failure
from crm_store.models import (
    Author,
    Channel,
    Conversation,
    ConversationMode,
    Direction,
    Handoff,
    HandoffReason,
    Language,
    Message,
)
from crm_store.settings import Settings
from tests.factories import make_customer, make_ticket

SETTINGS = Settings(_env_file=None)  # type: ignore[call-arg]
OUTCOMES = [
    {"title": "退款", "payload": '/choose_outcome{"outcome": "refund"}'},
    {"title": "換貨", "payload": '/choose_outcome{"outcome": "replacement"}'},
    {"title": "維修", "payload": '/choose_outcome{"outcome": "repair"}'},
]


@dataclass
class ScriptedRasa:
    """Stands in for `RasaClient`: answers each `send` with the next scripted replies."""

    answers: list[list[BotMessage]]
    sent: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)

    def send(
        self, sender_id: str, text: str, *, language: Language | None = None, detect: bool = True
    ) -> list[BotMessage]:
        self.sent.append(text)
        return self.answers.pop(0)

    def resume(self, sender_id: str) -> None:
        self.resumed.append(sender_id)


def now() -> datetime:
    return datetime.now(UTC)


class Customer:
    """A customer writing over one channel, straight into the store."""

    def __init__(self, factory: sessionmaker[Session], channel: Channel, *, open_ticket: bool):
        self.factory, self.channel = factory, channel
        self.address = "+886912345678" if channel is Channel.SMS else "7001"
        self.sequence = 0
        with factory() as session:
            customer = make_customer(
                session,
                phone=self.address if channel is Channel.SMS else None,
                telegram_chat_id=self.address if channel is Channel.TELEGRAM else None,
            )
            if open_ticket:
                self.ticket_reference = make_ticket(session, customer).reference
            session.commit()

    def writes(self, text: str) -> int:
        self.sequence += 1
        with self.factory() as session, session.begin():
            stored = store_inbound(
                session,
                Inbound(
                    channel=self.channel,
                    address=self.address,
                    text=text,
                    channel_message_id=f"m{self.sequence}",
                ),
                settings=SETTINGS,
                now=now(),
            )
            assert stored is not None
            return stored.conversation.id

    def replies(self, conversation_id: int) -> list[Message]:
        with self.factory() as session:
            return list(
                session.scalars(
                    select(Message)
                    .where(
                        Message.conversation_id == conversation_id,
                        Message.direction == Direction.OUTBOUND,
                    )
                    .order_by(Message.id)
                )
            )


def router(factory: sessionmaker[Session], rasa: ScriptedRasa) -> Router:
    return Router(factory, cast(RasaClient, rasa), settings=SETTINGS, metrics=Metrics(), clock=now)


def said(*texts: str, buttons: Sequence[dict[str, Any]] = ()) -> list[BotMessage]:
    return [BotMessage(text=text, buttons=list(buttons)) for text in texts]


FALLBACK = "Sorry, I didn't quite get that. Could you say it another way?"


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (said(*[FALLBACK] * 10), "repeated one reply"),  # a policy loop: circuit breaker
        ([], "no reply"),
        (said("   "), "no reply"),
    ],
)
def test_a_broken_turn_becomes_one_apology_and_a_hand_off(
    session_factory: sessionmaker[Session], answer: list[BotMessage], why: str
) -> None:
    customer = Customer(session_factory, Channel.TELEGRAM, open_ticket=True)
    conversation_id = customer.writes("沒有了 謝謝")
    rasa = ScriptedRasa([answer])

    assert router(session_factory, rasa).process(conversation_id) is Routed.FAILED

    [reply] = customer.replies(conversation_id)
    assert reply.author is Author.SYSTEM
    assert reply.text.startswith("很抱歉，這則訊息我沒能好好回覆您")
    assert customer.ticket_reference in reply.text
    assert FALLBACK not in reply.text
    with session_factory() as session:
        handoff = session.scalars(select(Handoff)).one()
        assert handoff.reason is HandoffReason.BOT_FAILURE and why in (handoff.note or "")
        assert session.get_one(Conversation, conversation_id).mode is ConversationMode.HUMAN
    assert rasa.resumed == ["telegram:7001"]  # Rasa's tracker no longer loops


def test_the_same_reply_twice_in_a_row_is_a_failed_turn(
    session_factory: sessionmaker[Session],
) -> None:
    customer = Customer(session_factory, Channel.SMS, open_ticket=False)
    go_on = "Please go on, I'm listening."
    rasa = ScriptedRasa([said(go_on), said(go_on)])

    assert router(session_factory, rasa).process(customer.writes("yes")) is Routed.ANSWERED
    conversation_id = customer.writes("ok")
    assert router(session_factory, rasa).process(conversation_id) is Routed.FAILED

    first, second = customer.replies(conversation_id)
    assert first.text == go_on
    assert second.text.startswith("I'm sorry, I couldn't answer") and go_on not in second.text


def test_one_burst_gets_each_reply_once(session_factory: sessionmaker[Session]) -> None:
    customer = Customer(session_factory, Channel.TELEGRAM, open_ticket=False)
    conversation_id = customer.writes("hi")
    rasa = ScriptedRasa([said("Hello!", "Hello!", "How can I help?")])

    assert router(session_factory, rasa).process(conversation_id) is Routed.ANSWERED
    [reply] = customer.replies(conversation_id)
    assert reply.text == "Hello!\n\nHow can I help?"


def test_options_over_sms_are_numbered_and_answered_by_number_or_words(
    session_factory: sessionmaker[Session],
) -> None:
    customer = Customer(session_factory, Channel.SMS, open_ticket=False)
    rasa = ScriptedRasa(
        [said("您希望我們怎麼處理呢？", buttons=OUTCOMES), said("好的"), said("收到")]
    )
    conversation_id = customer.writes("我的杯子破了")
    router(session_factory, rasa).process(conversation_id)
    [question] = customer.replies(conversation_id)
    assert question.text.splitlines()[1:4] == ["1. 退款", "2. 換貨", "3. 維修"]
    assert "號碼" in question.text.splitlines()[-1]

    router(session_factory, rasa).process(customer.writes(" 2 "))
    assert rasa.sent[-1] == OUTCOMES[1]["payload"]


def test_a_typed_option_title_is_its_payload_on_telegram_too(
    session_factory: sessionmaker[Session],
) -> None:
    customer = Customer(session_factory, Channel.TELEGRAM, open_ticket=False)
    rasa = ScriptedRasa([said("What would you like?", buttons=OUTCOMES), said("ok")])
    conversation_id = customer.writes("it broke")
    router(session_factory, rasa).process(conversation_id)
    [question] = customer.replies(conversation_id)
    assert "1. 退款" not in question.text  # Telegram shows a keyboard instead

    router(session_factory, rasa).process(customer.writes("第3個"))
    assert rasa.sent[-1] == OUTCOMES[2]["payload"]


def test_a_message_the_bot_never_answers_goes_to_staff_after_the_deadline(
    session_factory: sessionmaker[Session],
) -> None:
    customer = Customer(session_factory, Channel.SMS, open_ticket=True)
    conversation_id = customer.writes("hello?? anyone")
    routing = router(session_factory, ScriptedRasa([]))
    assert routing.hand_over_overdue() == 0  # not overdue yet
    with session_factory() as session, session.begin():
        for message in session.scalars(select(Message)):
            message.created_at = now() - timedelta(seconds=SETTINGS.bot_answer_deadline_seconds + 1)
    assert routing.hand_over_overdue() == 1
    assert routing.hand_over_overdue() == 0  # handled once
    [reply] = customer.replies(conversation_id)
    assert reply.author is Author.SYSTEM and customer.ticket_reference in reply.text
    with session_factory() as session:
        assert session.scalars(select(Handoff.note)).one() == "the assistant did not answer in time"
        assert session.get_one(Conversation, conversation_id).mode is ConversationMode.HUMAN


def test_writing_while_waiting_for_staff_is_acknowledged_once_in_a_while(
    session_factory: sessionmaker[Session],
) -> None:
    customer = Customer(session_factory, Channel.TELEGRAM, open_ticket=True)
    conversation_id = customer.writes("哈囉 有人在嗎")
    with session_factory() as session, session.begin():
        session.get_one(Conversation, conversation_id).mode = ConversationMode.HUMAN
    routing = router(session_factory, ScriptedRasa([]))

    assert routing.process(conversation_id) is Routed.TO_STAFF
    customer.writes("還在嗎")
    assert routing.process(conversation_id) is Routed.TO_STAFF
    [acknowledged] = customer.replies(conversation_id)  # once, not per message
    assert acknowledged.text.startswith("收到，您的訊息已經轉給負責的同事")
    assert acknowledged.author is Author.SYSTEM


@pytest.mark.parametrize(
    ("replies", "previous", "failed"),
    [
        (said("a", "b"), "a", False),
        (said("a", "a", "a"), None, True),
        (said("a"), " a ", True),
        (said("a"), None, False),
    ],
)
def test_turn_failure_rules(replies: list[BotMessage], previous: str | None, failed: bool) -> None:
    answer = "\n\n".join(dict.fromkeys(reply.text for reply in replies))
    assert (turn_failure(replies, answer, previous) is not None) is failed
