"""Several gateways, one customer: each message reaches the bot once, in order.

A load balancer spreads one customer's messages over the gateways. Each gateway's
router takes the conversation's turn in the store before it calls Rasa, so a second
gateway leaves the conversation to the first (and its recovery loop picks up what the
first did not take); a turn left by a gateway that stopped runs out by itself.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import cast

from sqlalchemy.orm import Session, sessionmaker

from channels.metrics import Metrics
from channels.rasa_client import BotMessage, RasaClient
from channels.routing import Routed, Router
from crm_store.conversations import take_turn
from crm_store.models import Channel, Conversation, Language
from tests.channels.test_turn_failures import SETTINGS, Customer, now


class SlowRasa:
    """Answers "you said: …"; the first call waits until the test lets it go."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.in_first_call = threading.Event()
        self.release_first_call = threading.Event()

    def send(
        self, sender_id: str, text: str, *, language: Language | None = None, detect: bool = True
    ) -> list[BotMessage]:
        self.received.append(text)
        if len(self.received) == 1:
            self.in_first_call.set()
            assert self.release_first_call.wait(10)
        return [BotMessage(text=f"you said: {text}")]


def gateway(factory: sessionmaker[Session], rasa: SlowRasa, name: str) -> Router:
    return Router(
        factory, cast(RasaClient, rasa), settings=SETTINGS, metrics=Metrics(), clock=now, name=name
    )


def test_a_second_gateway_leaves_a_conversation_being_answered_to_the_first(
    session_factory: sessionmaker[Session],
) -> None:
    rasa = SlowRasa()
    first, second = (gateway(session_factory, rasa, name) for name in ("gw-1", "gw-2"))
    customer = Customer(session_factory, Channel.TELEGRAM, open_ticket=False)
    conversation_id = customer.writes("where is my parcel")
    outcomes: list[Routed] = []
    answering = threading.Thread(target=lambda: outcomes.append(first.process(conversation_id)))
    answering.start()
    assert rasa.in_first_call.wait(10)

    customer.writes("order A1234567")  # reaches the other gateway meanwhile
    assert second.process(conversation_id) is Routed.BUSY

    rasa.release_first_call.set()
    answering.join(10)
    assert outcomes == [Routed.ANSWERED]
    assert second.process(conversation_id) is Routed.ANSWERED  # the recovery loop's replay
    assert first.process(conversation_id) is Routed.NOTHING
    assert rasa.received == ["where is my parcel", "order A1234567"]
    assert [reply.text for reply in customer.replies(conversation_id)] == [
        "you said: where is my parcel",
        "you said: order A1234567",
    ]


def test_a_turn_left_by_a_stopped_gateway_runs_out(
    session_factory: sessionmaker[Session],
) -> None:
    rasa = SlowRasa()
    rasa.release_first_call.set()
    customer = Customer(session_factory, Channel.SMS, open_ticket=False)
    conversation_id = customer.writes("hello?")
    lease = timedelta(seconds=SETTINGS.rasa_timeout_seconds + 10)
    with session_factory() as session, session.begin():  # a gateway killed mid-turn
        assert take_turn(session, conversation_id, answerer="gw-dead", now=now(), lease=lease)

    survivor = gateway(session_factory, rasa, "gw-alive")
    assert survivor.process(conversation_id) is Routed.BUSY
    with session_factory() as session, session.begin():
        earlier = now() - lease - timedelta(seconds=1)
        session.execute(  # time passes: the dead gateway's lease runs out
            Conversation.__table__.update()
            .where(Conversation.id == conversation_id)
            .values(answering_until=earlier)
        )
    assert survivor.process(conversation_id) is Routed.ANSWERED
    assert [reply.text for reply in customer.replies(conversation_id)] == ["you said: hello?"]


def test_no_holding_reply_once_the_answer_is_in(session_factory: sessionmaker[Session]) -> None:
    """The holding reply is queued while the turn is still out at Rasa; a late one (the
    answer's transaction came first) would reach the customer after the answer."""
    rasa = SlowRasa()
    router = gateway(session_factory, rasa, "gw-1")
    customer = Customer(session_factory, Channel.TELEGRAM, open_ticket=False)
    conversation_id = customer.writes("is the shop open on sunday")
    answering = threading.Thread(target=router.process, args=(conversation_id,))
    answering.start()
    assert rasa.in_first_call.wait(10)
    assert router.hold(conversation_id)  # still at Rasa: the customer hears we are on it
    rasa.release_first_call.set()
    answering.join(10)

    customer.writes("and on monday?")
    assert not router.hold(conversation_id)  # not this router's turn now
    assert [reply.text for reply in customer.replies(conversation_id)][1:] == [
        "you said: is the shop open on sunday"
    ]
