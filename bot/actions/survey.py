"""A satisfaction score (step 7): stored on the ticket; 1-2 reopens it and hands off.

A reply to a pending survey that the gateway understood arrives already read, as the
score payload of the Rasa contract (`contract.rasa`): the score is taken from it, not
read from the words again.
"""

from __future__ import annotations

from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import Action, Tracker
from rasa_sdk.types import DomainDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.actions.context import talk
from bot.actions.fallback import ActionHandleFallback
from bot.actions.handoff import HANDED_OFF, hand_off
from contract.rasa import SCORE_ENTITY, is_payload, payload_score
from crm_store.models import Direction, HandoffReason, Message
from crm_store.surveys import parse_score, pending_survey, record_score

LOW_SCORES = (1, 2)


def score_of(entity_value: str | None, text: str) -> int | None:
    """The score the gateway read (its payload), else the one in the NLU's `score`
    entity, else in the message's own words."""
    read = payload_score(text)
    if read is not None:
        return read
    for candidate in (entity_value, text):
        score = parse_score(candidate or "")
        if score is not None:
            return score
    return None


def _customer_words(session: Session, conversation_id: int, text: str) -> str:
    """What the customer wrote: the gateway sends a reply it read as a score as the
    score payload, so take the latest inbound message."""
    if not is_payload(text):
        return text
    written = session.scalar(
        select(Message.text)
        .where(Message.conversation_id == conversation_id, Message.direction == Direction.INBOUND)
        .order_by(Message.id.desc())
        .limit(1)
    )
    return written or text


class ActionRecordScore(Action):
    def name(self) -> str:
        return "action_record_score"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = str(tracker.latest_message.get("text") or "")
        score = score_of(next(tracker.get_latest_entity_values(SCORE_ENTITY), None), text)
        if score is None:
            dispatcher.utter_message(response="utter_ask_score")
            return []
        with talk(tracker) as current:
            survey = pending_survey(current.session, current.customer.id)
        if survey is None:
            # A bare number with no question asked: not a rating to thank for, and not
            # understood (twice in a row goes to a person).
            return await ActionHandleFallback().run(dispatcher, tracker, domain)
        with talk(tracker) as current:
            survey = current.session.merge(survey)
            reply = _customer_words(current.session, current.conversation.id, text)
            ticket = record_score(
                current.session, survey, score=score, reply=reply, now=current.now
            )
            if score in LOW_SCORES and ticket is not None:
                dispatcher.utter_message(response="utter_sorry_for_score")
                hand_off(dispatcher, current, reason=HandoffReason.LOW_SATISFACTION, ticket=ticket)
                return [HANDED_OFF]
        dispatcher.utter_message(response="utter_thanks_for_score")
        return []
