"""Conversations with customers: who is writing, and whether the bot or a person answers."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from crm_store.models import (
    Channel,
    ChannelIdentity,
    Conversation,
    ConversationMode,
    Customer,
    Language,
)


def identity_for(
    session: Session,
    *,
    channel: Channel,
    address: str,
    language: Language,
    timezone: str,
    display_name: str | None = None,
    now: datetime,
) -> ChannelIdentity:
    """The identity at `address`, creating a new customer for an address never seen.

    A new customer gives no marketing consent by writing in; that is asked for apart.
    """
    identity = session.scalar(
        select(ChannelIdentity).where(
            ChannelIdentity.channel == channel, ChannelIdentity.address == address
        )
    )
    if identity is None:
        customer = Customer(
            name=display_name or address, language=language, timezone=timezone, created_at=now
        )
        identity = ChannelIdentity(
            customer=customer,
            channel=channel,
            address=address,
            display_name=display_name,
            created_at=now,
        )
        session.add_all([customer, identity])
        session.flush()
    identity.last_seen_at = now
    return identity


def open_conversation(
    session: Session, identity: ChannelIdentity, *, now: datetime
) -> Conversation:
    """The identity's open conversation, or a new one with the bot."""
    conversation = session.scalar(
        select(Conversation)
        .where(Conversation.identity_id == identity.id, Conversation.closed_at.is_(None))
        .order_by(Conversation.id.desc())
        .limit(1)
    )
    if conversation is None:
        conversation = Conversation(
            customer_id=identity.customer_id,
            identity_id=identity.id,
            mode=ConversationMode.BOT,
            started_at=now,
            last_message_at=now,
        )
        session.add(conversation)
        session.flush()
    return conversation


def customer_of(session: Session, identity: ChannelIdentity) -> Customer:
    customer = session.get(Customer, identity.customer_id)
    assert customer is not None  # the foreign key guarantees it
    return customer


def take_turn(
    session: Session, conversation_id: int, *, answerer: str, now: datetime, lease: timedelta
) -> bool:
    """Claim the conversation's turn for `answerer` until `now + lease`; False while
    another answerer holds it. A claim left by a stopped process runs out by itself."""
    result = session.execute(
        update(Conversation)
        .where(
            Conversation.id == conversation_id,
            or_(
                Conversation.answered_by.is_(None),
                Conversation.answered_by == answerer,
                Conversation.answering_until < now,
            ),
        )
        .values(answered_by=answerer, answering_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def keep_turn(
    session: Session, conversation_id: int, *, answerer: str, now: datetime, lease: timedelta
) -> bool:
    """Renew `answerer`'s turn until `now + lease`; False when it holds the turn no more."""
    result = session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.answered_by == answerer)
        .values(answering_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def end_turn(session: Session, conversation_id: int, *, answerer: str) -> None:
    """Give the turn back (nothing happens when `answerer` no longer holds it)."""
    session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.answered_by == answerer)
        .values(answered_by=None, answering_until=None)
        .execution_options(synchronize_session=False)
    )
