"""Routing reuses the conversation the store has just written; a customer merged into
another meanwhile (they shared their phone number in Telegram while the bot was
answering) still gets the reply, queued for the customer they now are."""

from __future__ import annotations

from typing import cast

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from channels.inbound import Inbound, store_inbound
from channels.metrics import Metrics
from channels.rasa_client import BotMessage, RasaClient
from channels.routing import Routed, Router
from contract.rasa import score_payload
from crm_store.customers import merge_customer
from crm_store.models import (
    Channel,
    Conversation,
    Customer,
    Language,
    OutboxMessage,
    SatisfactionSurvey,
    SurveyStatus,
)
from tests.channels.test_turn_failures import SETTINGS, now
from tests.factories import make_customer, make_ticket


class MergingRasa:
    """Answers once, merging the chat's customer into the shop's known one meanwhile."""

    def __init__(self, factory: sessionmaker[Session], *, source: int, into: int) -> None:
        self.factory, self.source, self.into = factory, source, into

    def send(
        self, sender_id: str, text: str, *, language: Language | None = None, detect: bool = True
    ) -> list[BotMessage]:
        with self.factory() as session, session.begin():
            merge_customer(
                session,
                source=session.get_one(Customer, self.source),
                into=session.get_one(Customer, self.into),
                actor="test",
            )
        return [BotMessage(text="我們 10 點開門")]


def written(factory: sessionmaker[Session], text: str) -> Conversation:
    """A new chat's first message, stored as the gateway stores it; the conversation as
    the store hands it to routing."""
    with factory() as session, session.begin():
        stored = store_inbound(
            session,
            Inbound(channel=Channel.TELEGRAM, address="9001", text=text, channel_message_id="u1"),
            settings=SETTINGS,
            now=now(),
        )
        assert stored is not None
        return stored.conversation


def test_a_customer_merged_while_the_bot_answers_gets_the_reply(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session, session.begin():
        known = make_customer(session, name="林小姐", phone="+886912000777").id
    conversation = written(session_factory, "請問幾點開門")
    rasa = MergingRasa(session_factory, source=conversation.identity.customer_id, into=known)
    router = Router(
        session_factory, cast(RasaClient, rasa), settings=SETTINGS, metrics=Metrics(), clock=now
    )

    assert router.process(conversation.id, conversation=conversation) is Routed.ANSWERED
    with session_factory() as session:
        row = session.scalars(select(OutboxMessage)).one()
        assert (row.customer_id, row.body) == (known, "我們 10 點開門")
        assert session.get(Customer, conversation.identity.customer_id) is None  # merged away


def test_a_survey_of_the_customer_merged_into_is_answered_after_the_merge(
    session_factory: sessionmaker[Session],
) -> None:
    """The chat's customer is merged into one with a pending survey after "😍" was stored
    and before routing reads it: the score reaches Rasa as the survey's answer."""
    with session_factory() as session, session.begin():
        known = make_customer(session, name="林小姐", phone="+886912000777")
        session.add(
            SatisfactionSurvey(
                ticket_id=make_ticket(session, known).id,
                customer_id=known.id,
                due_at=now(),
                status=SurveyStatus.SENT,
                sent_at=now(),
            )
        )
        known_id = known.id
    conversation = written(session_factory, "😍")
    with session_factory() as session, session.begin():
        merge_customer(
            session,
            source=session.get_one(Customer, conversation.identity.customer_id),
            into=session.get_one(Customer, known_id),
            actor="test",
        )

    class RecordingRasa:
        def __init__(self) -> None:
            self.received: list[str] = []

        def send(self, sender_id: str, text: str, **_: object) -> list[BotMessage]:
            self.received.append(text)
            return [BotMessage(text="謝謝您的評分")]

    rasa = RecordingRasa()
    router = Router(
        session_factory, cast(RasaClient, rasa), settings=SETTINGS, metrics=Metrics(), clock=now
    )
    assert router.process(conversation.id, conversation=conversation) is Routed.ANSWERED
    assert rasa.received == [score_payload(5)]
    with session_factory() as session:
        assert session.scalars(select(OutboxMessage.customer_id)).one() == known_id
