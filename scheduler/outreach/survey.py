"""Satisfaction surveys after a complaint (step 7): asked when due, reminded once, then
given up; keyed ``survey:<id>`` and ``survey:<id>:reminder``."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.models import (
    Author,
    ChannelIdentity,
    Conversation,
    Customer,
    Language,
    MessagePurpose,
    SatisfactionSurvey,
    SurveyStatus,
    Ticket,
)
from crm_store.outbox import enqueue
from crm_store.reach import PushBudget, preferred_identity
from crm_store.settings import Settings

SURVEY = {
    Language.ZH_TW: "您好，關於客訴單 {ticket}，問題解決了嗎？"
    "請回覆 1–5 分（5 分最滿意），謝謝您！",
    Language.EN: "Hello! About your ticket {ticket}: did we solve it? "
    "Please reply with a score from 1 to 5 (5 = very satisfied). Thank you!",
}
SURVEY_REMINDER = {
    Language.ZH_TW: "再打擾一下：客訴單 {ticket} 處理得還滿意嗎？回覆 1–5 分就好 🙏",
    Language.EN: "A quick reminder: how satisfied are you with how we handled {ticket}? "
    "Just reply 1 to 5 🙏",
}


def plan(session: Session, *, now: datetime, settings: Settings) -> int:
    """Ask due surveys, remind once after `survey_reminder_after_hours`, then give up."""
    wait = timedelta(hours=settings.survey_reminder_after_hours)
    queued = 0
    budget = PushBudget.of(session, settings, now=now)
    due = session.scalars(
        select(SatisfactionSurvey).where(
            SatisfactionSurvey.status == SurveyStatus.SCHEDULED,
            SatisfactionSurvey.due_at <= now,
        )
    ).all()
    for survey in due:
        asked = _ask(
            session, survey, key=f"survey:{survey.id}", texts=SURVEY, budget=budget, now=now
        )
        if asked is None:
            survey.status = SurveyStatus.CANCELLED
            continue
        survey.status = SurveyStatus.SENT
        survey.sent_at = now
        queued += asked
    unanswered = session.scalars(
        select(SatisfactionSurvey).where(
            SatisfactionSurvey.status == SurveyStatus.SENT,
            SatisfactionSurvey.sent_at <= now - wait,
        )
    ).all()
    for survey in unanswered:
        reminder = f"survey:{survey.id}:reminder"
        queued += (
            _ask(session, survey, key=reminder, texts=SURVEY_REMINDER, budget=budget, now=now) or 0
        )
        survey.status = SurveyStatus.REMINDED
        survey.reminded_at = now
    expired = session.scalars(
        select(SatisfactionSurvey).where(
            SatisfactionSurvey.status == SurveyStatus.REMINDED,
            SatisfactionSurvey.reminded_at <= now - wait,
        )
    ).all()
    for survey in expired:
        survey.status = SurveyStatus.EXPIRED
    return queued


def _survey_identity(
    session: Session, survey: SatisfactionSurvey, budget: PushBudget
) -> ChannelIdentity | None:
    """The channel the complaint came in on, else the customer's preferred one."""
    ticket = session.get(Ticket, survey.ticket_id) if survey.ticket_id else None
    if ticket is not None and ticket.conversation_id is not None:
        identity = session.get_one(Conversation, ticket.conversation_id).identity
        if identity.reachable and not identity.opted_out and identity.channel in budget.channels:
            return identity
    return preferred_identity(
        session, survey.customer_id, marketing=False, channels=budget.channels
    )


def _ask(
    session: Session,
    survey: SatisfactionSurvey,
    *,
    key: str,
    texts: dict[Language, str],
    budget: PushBudget,
    now: datetime,
) -> int | None:
    """Queue the question; how many messages were new (0 or 1), None with no identity."""
    identity = _survey_identity(session, survey, budget)
    if identity is None:
        return None
    customer = session.get_one(Customer, survey.customer_id)
    ticket = session.get(Ticket, survey.ticket_id) if survey.ticket_id else None
    conversation = None
    if ticket is not None and ticket.conversation_id is not None:
        conversation = session.get(Conversation, ticket.conversation_id)
    reference = ticket.reference if ticket else ""
    question = enqueue(
        session,
        key=key,
        identity=identity,
        conversation=conversation
        if conversation is not None and conversation.identity_id == identity.id
        else None,
        text=texts[customer.language].format(ticket=reference),
        purpose=MessagePurpose.SURVEY,
        author=Author.BOT,
        now=now,
    )
    budget.spend(identity, new=question.new)
    return int(question.new)
