"""Actions run directly from tracker fixtures, with a CollectingDispatcher, on a real store:
handing off, fallbacks, consent, order status and survey scores."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.actions.consent import ActionOptIn, ActionOptOut
from bot.actions.fallback import ActionHandleFallback
from bot.actions.handoff import ActionHandOff
from bot.actions.orders import ActionOrderStatus
from bot.actions.survey import ActionRecordScore
from crm_store.models import (
    ChannelIdentity,
    ComplaintCategory,
    Handoff,
    HandoffReason,
    Language,
    OrderStatus,
    SatisfactionSurvey,
    SurveyStatus,
    Ticket,
    TicketStatus,
)
from tests.bot.action_helpers import DOMAIN, HANDOFF_RESPONSES, customer, run, slot, tracker
from tests.factories import make_customer, make_order, make_ticket

pytestmark = pytest.mark.usefixtures("store")


def test_asking_for_a_person_hands_off_without_a_ticket(store: sessionmaker[Session]) -> None:
    responses, events = run(ActionHandOff(), tracker("真人客服", "request_human"))
    assert slot(events, "complaint_stage") == "handed_off"
    assert HANDOFF_RESPONSES & set(responses)
    assert "utter_ticket_reference" not in responses
    with store() as session:
        assert session.scalars(select(Handoff.reason)).one() is HandoffReason.ASKED_FOR_PERSON


def test_second_fallback_in_a_row_hands_off(store: sessionmaker[Session]) -> None:
    first = {"event": "user", "text": "asdf", "parse_data": {"intent": {"name": "nlu_fallback"}}}
    asked = {"event": "bot", "text": DOMAIN["responses"]["utter_ask_rephrase"][0]["text"]}
    second = {"event": "user", "text": "qwer", "parse_data": {"intent": {"name": "nlu_fallback"}}}
    responses, _ = run(ActionHandleFallback(), tracker("asdf", "nlu_fallback", events=[first]))
    assert responses == ["utter_ask_rephrase"]
    responses, _ = run(
        ActionHandleFallback(), tracker("qwer", "nlu_fallback", events=[first, asked, second])
    )
    assert HANDOFF_RESPONSES & set(responses)
    with store() as session:
        assert session.scalars(select(Handoff.reason)).one() is HandoffReason.REPEATED_FALLBACK


def test_an_unhappy_message_the_model_missed_is_listened_to(store: sessionmaker[Session]) -> None:
    responses, events = run(
        ActionHandleFallback(), tracker("seriously?? 3rd time this happens 🙄", "nlu_fallback")
    )
    assert responses == ["utter_complaint_empathise"]
    assert slot(events, "complaint_stage") == "listening"


def test_opting_out_in_a_chat_stops_marketing_only(store: sessionmaker[Session]) -> None:
    with store() as session:
        customer(session)
    assert run(ActionOptOut(), tracker("stop texting me promos", "opt_out"))[0] == [
        "utter_opted_out"
    ]
    with store() as session:
        identity = session.scalars(select(ChannelIdentity)).one()
        assert not identity.marketing_consent
        assert not identity.opted_out  # service answers keep flowing
    assert run(ActionOptIn(), tracker("我要訂閱", "opt_in"))[0] == ["utter_opted_in"]
    with store() as session:
        identity = session.scalars(select(ChannelIdentity)).one()
        assert not identity.opted_out and identity.marketing_consent


def test_a_question_about_a_cancelled_order_is_not_an_opt_out(
    store: sessionmaker[Session],
) -> None:
    with store() as session:
        mine = customer(session)
        make_order(session, mine, placed_at=datetime.now(UTC), status=OrderStatus.CANCELLED)
        session.commit()
    responses, _ = run(ActionOptOut(), tracker("所以訂單是取消了對吧？不會再寄來吧", "opt_out"))
    assert responses == ["utter_already_cancelled"]
    with store() as session:
        identity = session.scalars(select(ChannelIdentity)).one()
        assert identity.marketing_consent and not identity.opted_out


def test_order_status_of_the_named_order_only_if_it_is_theirs(
    store: sessionmaker[Session],
) -> None:
    with store() as session:
        mine = customer(session)
        make_order(session, mine, placed_at=datetime.now(UTC), status=OrderStatus.SHIPPED)
        other = make_customer(session, name="other", telegram_chat_id="999")
        make_order(session, other, placed_at=datetime.now(UTC))
        session.commit()
        my_number = mine.orders[0].number
        their_number = other.orders[0].number
    entity = [{"entity": "order_number", "value": my_number}]
    assert run(
        ActionOrderStatus(), tracker(f"{my_number} 到哪了", "order_status", entities=entity)
    )[0] == ["utter_order_status_shipped_undated"]
    assert run(ActionOrderStatus(), tracker(f"where is {their_number}", "order_status"))[0] == [
        "utter_order_not_yours"
    ]
    assert run(ActionOrderStatus(), tracker("where is my order", "order_status"))[0] == [
        "utter_order_status_shipped_undated"
    ]


def sent_survey(store: sessionmaker[Session]) -> None:
    with store() as session:
        found = customer(session)
        ticket = make_ticket(
            session,
            found,
            category=ComplaintCategory.DELIVERY,
            language=Language.ZH_TW,
            text="late",
            now=datetime.now(UTC),
        )
        ticket.status = TicketStatus.RESOLVED
        session.add(
            SatisfactionSurvey(
                ticket_id=ticket.id,
                customer_id=found.id,
                due_at=datetime.now(UTC),
                status=SurveyStatus.SENT,
                sent_at=datetime.now(UTC),
            )
        )
        session.commit()


def test_low_score_reopens_the_ticket_and_hands_off(store: sessionmaker[Session]) -> None:
    sent_survey(store)
    responses, _ = run(
        ActionRecordScore(),
        tracker("2分", "give_score", entities=[{"entity": "score", "value": "2"}]),
    )
    assert responses[0] == "utter_sorry_for_score"
    assert HANDOFF_RESPONSES & set(responses)
    with store() as session:
        reopened = session.scalars(select(Ticket)).one()
        assert (reopened.status, reopened.satisfaction_score) == (TicketStatus.HANDED_OFF, 2)
        assert session.scalars(select(Handoff.reason)).one() is HandoffReason.LOW_SATISFACTION


def test_high_score_is_thanked_and_stored(store: sessionmaker[Session]) -> None:
    sent_survey(store)
    responses, _ = run(ActionRecordScore(), tracker("⭐⭐⭐⭐⭐ 5", "give_score"))
    assert responses == ["utter_thanks_for_score"]
    with store() as session:
        survey = session.scalars(select(SatisfactionSurvey)).one()
        assert (survey.score, survey.status) == (5, SurveyStatus.ANSWERED)


def test_a_number_without_a_survey_is_not_taken_as_a_rating(
    store: sessionmaker[Session],
) -> None:
    responses, _ = run(ActionRecordScore(), tracker("1", "give_score"))
    assert responses == ["utter_ask_rephrase"]
