"""Complaint tickets, their eight-step progress log, follow-up surveys and handoffs."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from crm_store.models import (
    ComplaintCategory,
    Conversation,
    ConversationMode,
    Customer,
    DesiredOutcome,
    Handoff,
    HandoffReason,
    HandoffStatus,
    Language,
    Order,
    RecoveryStep,
    SatisfactionSurvey,
    SurveyStatus,
    Ticket,
    TicketStatus,
    TicketStep,
    Tier,
)

REPEAT_COMPLAINT_WINDOW = timedelta(days=30)

# Higher goes first in the staff queue.
_TIER_PRIORITY = {Tier.STANDARD: 0, Tier.SILVER: 10, Tier.GOLD: 20, Tier.VIP: 40}
_REASON_PRIORITY = {
    HandoffReason.ANGER_OR_THREAT: 30,
    HandoffReason.LOW_SATISFACTION: 25,
    HandoffReason.REPEAT_COMPLAINT: 20,
    HandoffReason.VIP_COMPLAINT: 20,
    HandoffReason.COMPENSATION_BEYOND_AUTHORITY: 15,
    HandoffReason.BOT_FAILURE: 15,
    HandoffReason.ASKED_FOR_PERSON: 10,
    HandoffReason.REPEATED_FALLBACK: 5,
    HandoffReason.OTHER: 0,
}


class TicketNotFound(LookupError):
    def __init__(self, ticket_id: int) -> None:
        super().__init__(f"no ticket {ticket_id}")
        self.ticket_id = ticket_id


def get_ticket(session: Session, ticket_id: int) -> Ticket:
    ticket = session.get(Ticket, ticket_id, options=[selectinload(Ticket.steps)])
    if ticket is None:
        raise TicketNotFound(ticket_id)
    return ticket


def open_ticket(
    session: Session,
    *,
    customer: Customer,
    conversation: Conversation | None,
    category: ComplaintCategory,
    language: Language,
    text: str,
    now: datetime,
) -> Ticket:
    """A new complaint whose first words are `text`; step 1 (listen) starts now."""
    ticket = Ticket(
        customer_id=customer.id,
        conversation_id=conversation.id if conversation else None,
        category=category,
        language=language,
        description=text.strip(),
        created_at=now,
    )
    session.add(ticket)
    session.flush()
    record_step(session, ticket, RecoveryStep.EMPATHISE, now=now, note="complaint opened")
    return ticket


def record_step(
    session: Session,
    ticket: Ticket,
    step: RecoveryStep,
    *,
    now: datetime,
    actor: str = "bot",
    note: str | None = None,
) -> TicketStep:
    entry = TicketStep(ticket_id=ticket.id, step=int(step), done_at=now, actor=actor, note=note)
    session.add(entry)
    ticket.steps.append(entry)
    return entry


def steps_done(ticket: Ticket) -> dict[RecoveryStep, datetime]:
    """When each step was first done."""
    done: dict[RecoveryStep, datetime] = {}
    for entry in ticket.steps:
        done.setdefault(RecoveryStep(entry.step), entry.done_at)
    return done


def add_to_description(ticket: Ticket, text: str) -> None:
    text = text.strip()
    if text:
        ticket.description = f"{ticket.description}\n{text}" if ticket.description else text


ENDED = (TicketStatus.RESOLVED, TicketStatus.CLOSED)


def complaints_since(
    session: Session, customer_id: int, *, since: datetime, excluding: int | None = None
) -> int:
    """Earlier complaints that were dealt with: one still open is the same complaint."""
    query = select(func.count(Ticket.id)).where(
        Ticket.customer_id == customer_id,
        Ticket.created_at >= since,
        Ticket.status.in_(ENDED),
    )
    if excluding is not None:
        query = query.where(Ticket.id != excluding)
    return session.scalar(query) or 0


def is_repeat_complaint(session: Session, ticket: Ticket, *, now: datetime) -> bool:
    """Whether the customer complained before within the last 30 days."""
    return (
        complaints_since(
            session, ticket.customer_id, since=now - REPEAT_COMPLAINT_WINDOW, excluding=ticket.id
        )
        > 0
    )


def agree_outcome(
    ticket: Ticket,
    *,
    order: Order | None,
    problem_summary: str,
    desired_outcome: DesiredOutcome,
) -> None:
    ticket.order_id = order.id if order else None
    ticket.problem_summary = problem_summary
    ticket.desired_outcome = desired_outcome


def grant_compensation(
    ticket: Ticket, *, kind: str, value: Decimal, coupon_code: str | None
) -> None:
    ticket.compensation_kind = kind
    ticket.compensation_value = value
    ticket.coupon_code = coupon_code


def schedule_survey(session: Session, ticket: Ticket, *, due_at: datetime) -> SatisfactionSurvey:
    """The follow-up question (step 7), picked up by the scheduler at `due_at`.

    A ticket has one survey; scheduling again moves it.
    """
    survey = session.scalar(
        select(SatisfactionSurvey).where(SatisfactionSurvey.ticket_id == ticket.id)
    )
    if survey is None:
        survey = SatisfactionSurvey(ticket_id=ticket.id, customer_id=ticket.customer_id)
        session.add(survey)
    survey.due_at = due_at
    survey.status = SurveyStatus.SCHEDULED
    session.flush()
    return survey


def resolve_ticket(ticket: Ticket, *, root_cause: str, now: datetime) -> None:
    ticket.root_cause = root_cause
    ticket.status = TicketStatus.RESOLVED
    ticket.resolved_at = now


def handoff_priority(tier: Tier, reason: HandoffReason) -> int:
    return _TIER_PRIORITY[tier] + _REASON_PRIORITY[reason]


def request_handoff(
    session: Session,
    *,
    conversation: Conversation,
    customer: Customer,
    reason: HandoffReason,
    ticket: Ticket | None,
    now: datetime,
    note: str | None = None,
) -> Handoff:
    """Put the conversation in the staff queue; a waiting handoff is reused, not doubled."""
    handoff = session.scalar(
        select(Handoff).where(
            Handoff.conversation_id == conversation.id,
            Handoff.status.in_((HandoffStatus.WAITING, HandoffStatus.CLAIMED)),
        )
    )
    if handoff is None:
        handoff = Handoff(
            conversation_id=conversation.id,
            reason=reason,
            priority=handoff_priority(customer.tier, reason),
            requested_at=now,
            status=HandoffStatus.WAITING,
        )
        session.add(handoff)
    if ticket is not None:
        handoff.ticket_id = ticket.id
        if ticket.status in (TicketStatus.OPEN, TicketStatus.REOPENED):
            ticket.status = TicketStatus.HANDED_OFF
    if note:
        handoff.note = note
    conversation.mode = ConversationMode.HUMAN
    session.flush()
    return handoff
