"""A conversation waiting for staff: handing it over when the bot cannot answer, and
telling the customer who answers and when (business hours, in the shop's zone)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from channels.texts import (
    BOT_FAILED,
    STAFF_REPLY_LATER,
    STAFF_REPLY_SOON,
    TICKET_REFERENCE,
    WITH_STAFF,
    say,
)
from channels.turns import TurnFailure
from crm_store.customers import open_tickets
from crm_store.models import (
    Author,
    Conversation,
    Direction,
    HandoffReason,
    Language,
    Message,
    MessagePurpose,
)
from crm_store.outbox import enqueue
from crm_store.settings import Settings
from crm_store.tickets import request_handoff
from crm_store.time_text import format_business_hours, format_datetime

# A customer waiting for staff who writes again hears from us at most this often.
STAFF_ACKNOWLEDGED_FOR = timedelta(minutes=30)


def hand_over_failed_turn(
    session: Session,
    conversation: Conversation,
    failure: TurnFailure,
    *,
    settings: Settings,
    now: datetime,
) -> str:
    """Put the conversation in the staff queue; the apology, who answers and when."""
    customer = conversation.identity.customer
    ticket = next(iter(open_tickets(session, customer.id)), None)
    request_handoff(
        session,
        conversation=conversation,
        customer=customer,
        reason=HandoffReason.BOT_FAILURE,
        ticket=ticket,
        now=now,
        note=failure.value,
    )
    language = customer.language
    text = say(BOT_FAILED, language, when=staff_answer_when(settings, language, now))
    if ticket is not None:
        text += say(TICKET_REFERENCE, language, reference=ticket.reference)
    return text


def acknowledge_for_staff(
    session: Session,
    conversation: Conversation,
    latest_id: int,
    *,
    settings: Settings,
    now: datetime,
) -> None:
    """A customer who writes while waiting for staff, and has heard nothing from us for
    a while, is told the message (the latest, `latest_id`) is with a colleague and when
    they answer."""
    heard_from_us = session.scalar(
        select(func.max(Message.created_at)).where(
            Message.conversation_id == conversation.id,
            Message.direction == Direction.OUTBOUND,
        )
    )
    if heard_from_us is not None and now - heard_from_us < STAFF_ACKNOWLEDGED_FOR:
        return
    language = conversation.identity.customer.language
    enqueue(
        session,
        key=f"with-staff:{latest_id}",
        identity=conversation.identity,
        conversation=conversation,
        text=say(WITH_STAFF, language, when=staff_answer_when(settings, language, now)),
        purpose=MessagePurpose.REPLY,
        author=Author.SYSTEM,
        now=now,
    )


def staff_answer_when(settings: Settings, language: Language, now: datetime) -> str:
    """Who answers the customer and when: soon in business hours, else at the next opening."""
    hours = settings.opening_hours
    if hours.is_open(now):
        return say(STAFF_REPLY_SOON, language, minutes=str(settings.handoff_wait_minutes))
    return say(
        STAFF_REPLY_LATER,
        language,
        opening=format_datetime(hours.next_opening(now), language),
        hours=format_business_hours(hours, language),
    )
