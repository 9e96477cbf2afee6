"""Satisfaction surveys: the one awaiting a customer's answer, and recording it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.models import SatisfactionSurvey, SurveyStatus, Ticket, TicketStatus

LOW_SCORE = 2


def pending_survey(session: Session, customer_id: int) -> SatisfactionSurvey | None:
    """The survey most recently sent to the customer and not yet answered."""
    return session.scalar(
        select(SatisfactionSurvey)
        .where(
            SatisfactionSurvey.customer_id == customer_id,
            SatisfactionSurvey.status.in_((SurveyStatus.SENT, SurveyStatus.REMINDED)),
        )
        .order_by(SatisfactionSurvey.sent_at.desc(), SatisfactionSurvey.id.desc())
        .limit(1)
    )


def record_score(
    session: Session, survey: SatisfactionSurvey, *, score: int, reply: str, now: datetime
) -> Ticket | None:
    """Store the answer on the survey and its ticket; a low score reopens the ticket."""
    if not 1 <= score <= 5:
        raise ValueError(f"a satisfaction score is 1 to 5, not {score}")
    survey.score = score
    survey.reply_text = reply
    survey.answered_at = now
    survey.status = SurveyStatus.ANSWERED
    ticket = session.get(Ticket, survey.ticket_id) if survey.ticket_id else None
    if ticket is not None:
        ticket.satisfaction_score = score
        if score <= LOW_SCORE:
            ticket.status = TicketStatus.REOPENED
            ticket.closed_at = None
    return ticket
