"""Satisfaction surveys over LINE, end to end (#15): asked by the scheduler's tick in the
LINE chat the complaint was made in, pushed through the real line-bot-sdk to the fake
LINE API and counted; answered in LINE, the answer reaching the survey and its ticket
through the real Rasa and action server.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from crm_store.models import (
    Conversation,
    ConversationMode,
    Language,
    MessagePurpose,
    SatisfactionSurvey,
    SurveyStatus,
    Ticket,
    TicketStatus,
)
from crm_store.policy import load_policy
from scheduler.outreach import survey
from scheduler.service import run_planners
from tests.bot.test_complaint_conversations import said
from tests.channels.conftest import RunningGateway, wait_until
from tests.channels.line_helpers import LineUser, pushes_counted
from tests.channels.test_conversations import replies_of
from tests.channels.test_line_outreach import (
    MEI,
    follows,
    outreach_rows,
    resolved_complaint_in_line,
)
from tests.channels.test_real_conversations import says_any
from tests.fakes.line import FakeLine


def test_the_survey_is_pushed_to_the_line_chat_the_complaint_was_made_in_when_due(
    line_shop: RunningGateway, fake_line: FakeLine
) -> None:
    now = datetime.now(UTC)
    customer_id = follows(line_shop, fake_line, MEI, name="林美華")
    survey_id = resolved_complaint_in_line(
        line_shop, MEI, resolved=now - load_policy().survey_after - timedelta(minutes=1)
    )
    assert (
        run_planners(line_shop.store, line_shop.settings, now=now - timedelta(days=1))["surveys"]
        == 0
    )
    assert run_planners(line_shop.store, line_shop.settings, now=now)["surveys"] == 1
    line_shop.gateway.dispatcher.wake()
    [asked] = fake_line.wait_for_sent(MEI)
    reference = line_shop.query(
        lambda s: s.get_one(Ticket, s.get_one(SatisfactionSurvey, survey_id).ticket_id).reference
    )
    assert asked["kind"] == "push"
    assert asked["text"] == survey.SURVEY[Language.ZH_TW].format(ticket=reference)
    # Not marketing: no refusal notice; it is in the complaint's conversation.
    [row] = outreach_rows(line_shop, customer_id)
    assert row.purpose is MessagePurpose.SURVEY and row.message_id is not None
    wait_until(lambda: pushes_counted(line_shop) == 1, what="the push counted")
    status = line_shop.query(lambda s: s.get_one(SatisfactionSurvey, survey_id).status)
    assert status is SurveyStatus.SENT


@pytest.mark.rasa
@pytest.mark.parametrize(
    ("user_id", "language", "answer", "score"),
    [
        ("U1b2c3d4e5f60718293a4b5c6d7e8f901", Language.ZH_TW, "非常滿意", 5),
        ("U2b2c3d4e5f60718293a4b5c6d7e8f902", Language.EN, "terrible", 1),
    ],
    ids=["zh-TW-5", "en-1"],
)
def test_a_survey_answered_in_line_is_the_tickets_score(
    line_assistant: RunningGateway,
    fake_line: FakeLine,
    user_id: str,
    language: Language,
    answer: str,
    score: int,
) -> None:
    shop = line_assistant
    now = datetime.now(UTC)
    follows(shop, fake_line, user_id, name="Amy Wu", language=language)
    survey_id = resolved_complaint_in_line(shop, user_id, resolved=now - load_policy().survey_after)
    # Only the survey planner: the assistant's store is shared by other tests.
    with shop.store() as session, session.begin():
        assert survey.plan(session, now=now, settings=shop.settings) == 1
    shop.gateway.dispatcher.wake()
    assert fake_line.wait_for_sent(user_id)[0]["kind"] == "push"
    pushed = fake_line.pushes

    customer = LineUser(shop, fake_line, user_id)
    thanks = customer.says(answer)
    answered = shop.query(lambda s: s.get_one(SatisfactionSurvey, survey_id))
    assert (answered.status, answered.score, answered.reply_text) == (
        SurveyStatus.ANSWERED,
        score,
        answer,
    )
    ticket = shop.query(lambda s: s.get_one(Ticket, answered.ticket_id))
    assert ticket.satisfaction_score == score
    # The bot's answer used the reply token: it cost nothing.
    assert fake_line.sent_to(user_id)[-1]["kind"] == "reply" and fake_line.pushes == pushed
    if score >= 3:
        assert said(replies_of(thanks), "utter_thanks_for_score", language), thanks
        assert ticket.status is TicketStatus.RESOLVED
    else:  # a low score reopens the ticket and hands the customer to staff
        assert said(replies_of(thanks), "utter_sorry_for_score", language), thanks
        assert ticket.status is TicketStatus.HANDED_OFF
        mode = shop.query(
            lambda s: s.scalars(
                select(Conversation.mode).where(Conversation.id == ticket.conversation_id)
            ).one()
        )
        assert mode is ConversationMode.HUMAN
        assert says_any(thanks, "utter_handoff_now") or says_any(thanks, "utter_handoff_later")
