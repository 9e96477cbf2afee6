"""Staff taking a conversation over from the bot, and handing it back.

Claiming is one conditional UPDATE, so of two agents claiming at once exactly one
wins. Finishing records the outcome on the ticket (steps 5, 6 and 8 by the agent),
schedules the satisfaction survey (step 7) and gives the conversation back to the bot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm_store.audit import record_audit
from crm_store.models import (
    ChannelIdentity,
    Conversation,
    ConversationMode,
    ConversationNote,
    Customer,
    DesiredOutcome,
    Handoff,
    HandoffStatus,
    RecoveryStep,
    StaffUser,
    Ticket,
    TicketStatus,
)
from crm_store.tickets import record_step, resolve_ticket, schedule_survey

OPEN = (HandoffStatus.WAITING, HandoffStatus.CLAIMED)


class HandoffNotFound(LookupError):
    def __init__(self, handoff_id: int) -> None:
        super().__init__(f"no handoff {handoff_id}")


class AlreadyClaimed(RuntimeError):
    """Someone else has this handoff (or it is finished)."""

    def __init__(self, handoff: Handoff) -> None:
        super().__init__(f"handoff {handoff.id} is {handoff.status.value}")
        self.handoff = handoff


@dataclass(frozen=True, slots=True)
class QueueEntry:
    handoff: Handoff
    conversation: Conversation
    identity: ChannelIdentity
    customer: Customer
    agent: StaffUser | None


def queue(session: Session) -> list[QueueEntry]:
    """Open handoffs, most urgent first: priority (tier and reason), then longest waiting."""
    rows = session.execute(
        select(Handoff, Conversation, ChannelIdentity, Customer, StaffUser)
        .join(Conversation, Conversation.id == Handoff.conversation_id)
        .join(ChannelIdentity, ChannelIdentity.id == Conversation.identity_id)
        .join(Customer, Customer.id == Conversation.customer_id)
        .outerjoin(StaffUser, StaffUser.id == Handoff.claimed_by)
        .where(Handoff.status.in_(OPEN))
        .order_by(Handoff.priority.desc(), Handoff.requested_at, Handoff.id)
    )
    return [
        QueueEntry(handoff=h, conversation=c, identity=i, customer=cu, agent=a)
        for h, c, i, cu, a in rows.all()
    ]


def get_handoff(session: Session, handoff_id: int) -> Handoff:
    handoff = session.get(Handoff, handoff_id)
    if handoff is None:
        raise HandoffNotFound(handoff_id)
    return handoff


def open_handoff_of(session: Session, conversation_id: int) -> Handoff | None:
    return session.scalar(
        select(Handoff)
        .where(Handoff.conversation_id == conversation_id, Handoff.status.in_(OPEN))
        .order_by(Handoff.id.desc())
        .limit(1)
    )


def claim(session: Session, handoff_id: int, *, agent: StaffUser, now: datetime) -> Handoff:
    """Give the handoff to `agent`; the conversation is theirs from now on.

    Raises:
        AlreadyClaimed: when another agent was first, or it is finished.
    """
    claimed = session.execute(
        update(Handoff)
        .where(Handoff.id == handoff_id, Handoff.status == HandoffStatus.WAITING)
        .values(status=HandoffStatus.CLAIMED, claimed_by=agent.id, claimed_at=now)
    )
    handoff = get_handoff(session, handoff_id)
    session.refresh(handoff)
    if not claimed.rowcount:  # type: ignore[attr-defined]
        raise AlreadyClaimed(handoff)
    # The customer may have been given back to the bot while nobody was free.
    conversation = session.get_one(Conversation, handoff.conversation_id)
    conversation.mode = ConversationMode.HUMAN
    record_audit(
        session, actor=agent.email, action="handoff.claim", entity="handoff", entity_id=handoff.id
    )
    return handoff


def transfer(
    session: Session, handoff: Handoff, *, to: StaffUser, by: StaffUser, now: datetime
) -> None:
    if handoff.status not in OPEN:
        raise AlreadyClaimed(handoff)
    previous = handoff.claimed_by
    handoff.status = HandoffStatus.CLAIMED
    handoff.claimed_by = to.id
    handoff.claimed_at = handoff.claimed_at or now
    record_audit(
        session,
        actor=by.email,
        action="handoff.transfer",
        entity="handoff",
        entity_id=handoff.id,
        details={"from": previous, "to": to.id},
    )


@dataclass(frozen=True, slots=True)
class Resolution:
    """What the agent records when they finish."""

    outcome: DesiredOutcome | None
    agreed_action: str
    compensation_kind: str | None
    compensation_value: Decimal | None
    root_cause: str


def finish(
    session: Session,
    handoff: Handoff,
    *,
    agent: StaffUser,
    resolution: Resolution | None,
    survey_after: timedelta,
    now: datetime,
) -> Ticket | None:
    """Close the handoff, record the resolution on its ticket, give the customer back to
    the bot, and schedule the satisfaction survey. Returns the ticket, if there is one."""
    handoff.status = HandoffStatus.RETURNED_TO_BOT
    handoff.finished_at = now
    conversation = session.get_one(Conversation, handoff.conversation_id)
    conversation.mode = ConversationMode.BOT
    ticket = None if handoff.ticket_id is None else session.get(Ticket, handoff.ticket_id)
    if ticket is not None and resolution is not None:
        actor = f"staff:{agent.id}"
        if resolution.outcome is not None:
            ticket.desired_outcome = resolution.outcome
        ticket.agreed_action = resolution.agreed_action or ticket.agreed_action
        record_step(session, ticket, RecoveryStep.SOLVE, now=now, actor=actor)
        if resolution.compensation_kind:
            ticket.compensation_kind = resolution.compensation_kind
            ticket.compensation_value = resolution.compensation_value
            record_step(session, ticket, RecoveryStep.COMPENSATE, now=now, actor=actor)
        survey = schedule_survey(session, ticket, due_at=now + survey_after)
        record_step(
            session,
            ticket,
            RecoveryStep.FOLLOW_UP,
            now=now,
            actor=actor,
            note=f"survey due {survey.due_at.isoformat(timespec='minutes')}",
        )
        resolve_ticket(ticket, root_cause=resolution.root_cause, now=now)
        record_step(
            session, ticket, RecoveryStep.PREVENT, now=now, actor=actor, note=resolution.root_cause
        )
    elif ticket is not None and ticket.status is TicketStatus.HANDED_OFF:
        ticket.status = TicketStatus.OPEN
    record_audit(
        session,
        actor=agent.email,
        action="handoff.finish",
        entity="handoff",
        entity_id=handoff.id,
        details={"ticket": None if ticket is None else ticket.id, "resolved": bool(resolution)},
    )
    return ticket


def park(session: Session, handoff: Handoff, *, due_at: datetime) -> None:
    """Nobody is free: the customer goes back to the bot, the handoff waits with a due time.

    Its ticket stays open and is due then; the next agent to claim takes the
    conversation back from the bot.
    """
    handoff.due_at = due_at
    conversation = session.get_one(Conversation, handoff.conversation_id)
    conversation.mode = ConversationMode.BOT
    if handoff.ticket_id is not None:
        ticket = session.get_one(Ticket, handoff.ticket_id)
        ticket.due_at = due_at


def unattended(session: Session, *, requested_before: datetime) -> Sequence[Handoff]:
    """Handoffs nobody claimed since `requested_before` and not yet parked."""
    return session.scalars(
        select(Handoff).where(
            Handoff.status == HandoffStatus.WAITING,
            Handoff.due_at.is_(None),
            Handoff.requested_at < requested_before,
        )
    ).all()


def add_note(
    session: Session, conversation_id: int, *, agent: StaffUser, text: str, now: datetime
) -> ConversationNote:
    note = ConversationNote(
        conversation_id=conversation_id, staff_user_id=agent.id, text=text, created_at=now
    )
    session.add(note)
    session.flush()
    return note
