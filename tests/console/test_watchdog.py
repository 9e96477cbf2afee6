"""Nobody there: unclaimed handoffs go back to the bot with a due time."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from console.watchdog import park_unattended
from crm_store import handoffs
from crm_store.conversations import identity_for, open_conversation
from crm_store.models import (
    Channel,
    ComplaintCategory,
    Conversation,
    ConversationMode,
    Handoff,
    HandoffReason,
    Language,
    OutboxMessage,
    StaffRole,
    Ticket,
)
from crm_store.settings import Settings
from crm_store.tickets import open_ticket, request_handoff
from tests.factories import make_staff

TAIPEI = ZoneInfo("Asia/Taipei")
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=TAIPEI)
SATURDAY_10 = datetime(2026, 11, 28, 10, 0, tzinfo=TAIPEI)
SETTINGS = Settings(_env_file=None, business_hours="mon-fri 09:00-18:00")  # type: ignore[call-arg]


def handed_off(factory: sessionmaker[Session], *, at: datetime, chat: str = "8001") -> int:
    with factory() as session, session.begin():
        identity = identity_for(
            session,
            channel=Channel.TELEGRAM,
            address=chat,
            language=Language.ZH_TW,
            timezone="Asia/Taipei",
            now=at,
        )
        conversation = open_conversation(session, identity, now=at)
        ticket = open_ticket(
            session,
            customer=identity.customer,
            conversation=conversation,
            category=ComplaintCategory.DELIVERY,
            language=Language.ZH_TW,
            text="還沒到",
            now=at,
        )
        return request_handoff(
            session,
            conversation=conversation,
            customer=identity.customer,
            reason=HandoffReason.ASKED_FOR_PERSON,
            ticket=ticket,
            now=at,
        ).id


def test_a_handoff_nobody_claims_goes_back_to_the_bot_and_the_customer_is_told(
    session_factory: sessionmaker[Session],
) -> None:
    handoff_id = handed_off(session_factory, at=MONDAY_10)
    assert park_unattended(session_factory, SETTINGS, now=MONDAY_10 + timedelta(minutes=5)) == 0
    later = MONDAY_10 + timedelta(minutes=11)
    assert park_unattended(session_factory, SETTINGS, now=later) == 1
    assert park_unattended(session_factory, SETTINGS, now=later + timedelta(minutes=1)) == 0
    with session_factory() as session:
        handoff = session.get_one(Handoff, handoff_id)
        assert handoff.due_at == later + timedelta(hours=1)
        assert session.scalars(select(Ticket.due_at)).one() == handoff.due_at
        conversation = session.get_one(Conversation, handoff.conversation_id)
        assert conversation.mode is ConversationMode.BOT
        told = session.scalars(select(OutboxMessage)).one()
        assert told.idempotency_key == f"parked:{handoff_id}"
        assert "11:11" in told.body and "C-0000" in told.body
        agent = make_staff(session, "a@shop.test", StaffRole.AGENT)
        handoffs.claim(session, handoff_id, agent=agent, now=later + timedelta(minutes=30))
        assert session.get_one(Conversation, conversation.id).mode is ConversationMode.HUMAN


def test_outside_business_hours_the_handoff_waits_for_opening_without_a_second_message(
    session_factory: sessionmaker[Session],
) -> None:
    handoff_id = handed_off(session_factory, at=SATURDAY_10)
    assert park_unattended(session_factory, SETTINGS, now=SATURDAY_10 + timedelta(seconds=30)) == 0
    with session_factory() as session:
        handoff = session.get_one(Handoff, handoff_id)
        monday_opening = datetime(2026, 11, 30, 9, 15, tzinfo=TAIPEI)
        assert handoff.due_at == monday_opening
        conversation = session.get_one(Conversation, handoff.conversation_id)
        assert conversation.mode is ConversationMode.BOT
        assert session.scalars(select(OutboxMessage)).all() == []
