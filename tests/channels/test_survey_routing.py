"""A reply to a pending satisfaction survey reaches Rasa as the give_score intent.

`Router` is run directly with a fake in place of `RasaClient` that records what it
is sent. Mocking Rasa is acceptable here because the unit under test is the routing
decision, what the gateway hands Rasa, not Rasa's answer (the `gateway` fixture runs
with Rasa down and could not show it); the store underneath is real, on each backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

import pytest
from sqlalchemy.orm import Session, sessionmaker

from channels.inbound import Inbound, store_inbound
from channels.metrics import Metrics
from channels.rasa_client import BotMessage, RasaClient
from channels.routing import Routed, Router
from crm_store.conversations import open_conversation
from crm_store.models import Channel, Language, SatisfactionSurvey, SurveyStatus
from crm_store.settings import Settings
from tests.factories import make_customer, make_ticket

CHAT_ID = "5550123"
SETTINGS = Settings(_env_file=None)  # type: ignore[call-arg]


@dataclass
class RecordingRasa:
    """Stands in for `RasaClient`: records each `send` and answers it."""

    sent: list[tuple[str, str]] = field(default_factory=list)

    def send(
        self, sender_id: str, text: str, *, language: Language | None = None, detect: bool = True
    ) -> list[BotMessage]:
        self.sent.append((sender_id, text))
        return [BotMessage(text=f"answer {len(self.sent)}")]


def now() -> datetime:
    return datetime.now(UTC)


def customer_writes(
    factory: sessionmaker[Session], text: str, *, survey_sent: bool, message_id: str = "1"
) -> int:
    """A Telegram customer with a resolved ticket (and its survey sent, or not) writes
    `text`; returns the conversation's id."""
    with factory() as session:
        customer = make_customer(session, telegram_chat_id=CHAT_ID, language=Language.ZH_TW)
        conversation = open_conversation(session, customer.identities[0], now=now())
        ticket = make_ticket(session, customer, conversation=conversation)
        if survey_sent:
            session.add(
                SatisfactionSurvey(
                    ticket_id=ticket.id,
                    customer_id=customer.id,
                    due_at=now(),
                    status=SurveyStatus.SENT,
                    sent_at=now(),
                )
            )
        stored = store_inbound(
            session,
            Inbound(
                channel=Channel.TELEGRAM, address=CHAT_ID, text=text, channel_message_id=message_id
            ),
            settings=SETTINGS,
            now=now(),
        )
        assert stored is not None
        assert stored.conversation.id == conversation.id
        session.commit()
        return conversation.id


def routed(factory: sessionmaker[Session], conversation_id: int) -> list[tuple[str, str]]:
    rasa = RecordingRasa()
    router = Router(
        factory, cast(RasaClient, rasa), settings=SETTINGS, metrics=Metrics(), clock=now
    )
    assert router.process(conversation_id) is Routed.ANSWERED
    return rasa.sent


@pytest.mark.parametrize(
    ("text", "payload"),
    [("😍", '/give_score{"score": "5"}'), ("非常不滿意", '/give_score{"score": "1"}')],
)
def test_a_score_for_a_pending_survey_is_sent_as_the_give_score_intent(
    session_factory: sessionmaker[Session], text: str, payload: str
) -> None:
    conversation_id = customer_writes(session_factory, text, survey_sent=True)
    assert routed(session_factory, conversation_id) == [(f"telegram:{CHAT_ID}", payload)]


def test_other_words_with_a_survey_pending_go_to_rasa_as_written(
    session_factory: sessionmaker[Session],
) -> None:
    conversation_id = customer_writes(session_factory, "我要退貨", survey_sent=True)
    assert routed(session_factory, conversation_id) == [(f"telegram:{CHAT_ID}", "我要退貨")]


def test_a_number_without_a_pending_survey_goes_to_rasa_as_written(
    session_factory: sessionmaker[Session],
) -> None:
    conversation_id = customer_writes(session_factory, "5", survey_sent=False)
    assert routed(session_factory, conversation_id) == [(f"telegram:{CHAT_ID}", "5")]
