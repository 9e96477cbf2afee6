"""Conversations with customers: who is writing, and whether the bot or a person answers."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from crm_store.db import as_loaded, inserted
from crm_store.models import (
    Channel,
    ChannelIdentity,
    Conversation,
    ConversationMode,
    Customer,
    Direction,
    Language,
    Message,
)

Model = TypeVar("Model", Customer, ChannelIdentity, Conversation, Message)


# Built once: the hot path runs these for every message, and building a statement costs
# more than running it.
_IDENTITY_AT = (
    select(*ChannelIdentity.__table__.c, *Customer.__table__.c)
    .join(Customer, Customer.id == ChannelIdentity.customer_id)
    .where(
        ChannelIdentity.channel == bindparam("channel"),
        ChannelIdentity.address == bindparam("address"),
    )
)
_OPEN_CONVERSATION = (
    select(Conversation)
    .where(Conversation.identity_id == bindparam("identity_id"), Conversation.closed_at.is_(None))
    .order_by(Conversation.id.desc())
    .limit(1)
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
    """The identity at `address` (its customer loaded), creating a new customer for an
    address never seen.

    A new customer gives no marketing consent by writing in; that is asked for apart.
    """
    identity = known_identity(session, channel=channel, address=address)
    if identity is None:
        return new_identity(
            session,
            channel=channel,
            address=address,
            language=language,
            timezone=timezone,
            display_name=display_name,
            now=now,
        )
    identity.last_seen_at = now
    return identity


def known_identity(session: Session, *, channel: Channel, address: str) -> ChannelIdentity | None:
    """The identity at `address` with its customer, in one query; None when never seen."""
    session.flush()  # as a query through the session would: an identity added may match
    found = session.connection().execute(_IDENTITY_AT, {"channel": channel, "address": address})
    row = found.first()
    if row is None:
        return None
    identity = as_loaded(session, ChannelIdentity, row._mapping)
    set_committed_value(identity, "customer", as_loaded(session, Customer, row._mapping))
    return identity


def new_identity(
    session: Session,
    *,
    channel: Channel,
    address: str,
    language: Language,
    timezone: str,
    display_name: str | None = None,
    now: datetime,
) -> ChannelIdentity:
    """A new customer and their identity at `address` (no marketing consent), inserted
    straight away rather than through a flush, which costs several times more."""
    customer = _inserted(
        session,
        Customer,
        name=display_name or address,
        language=language,
        timezone=timezone,
        created_at=now,
    )
    identity = _inserted(
        session,
        ChannelIdentity,
        customer_id=customer.id,
        channel=channel,
        address=address,
        display_name=display_name,
        last_seen_at=now,
        created_at=now,
    )
    set_committed_value(identity, "customer", customer)
    return identity


def open_conversation(
    session: Session, identity: ChannelIdentity, *, now: datetime
) -> Conversation:
    """The identity's open conversation, or a new one with the bot."""
    conversation = session.scalar(_OPEN_CONVERSATION, {"identity_id": identity.id})
    if conversation is None:
        return new_conversation(session, identity, now=now)
    set_committed_value(conversation, "identity", identity)
    return conversation


def new_conversation(session: Session, identity: ChannelIdentity, *, now: datetime) -> Conversation:
    """A new conversation with the bot (for an identity known to have none open)."""
    conversation = _inserted(
        session,
        Conversation,
        customer_id=identity.customer_id,
        identity_id=identity.id,
        mode=ConversationMode.BOT,
        started_at=now,
        last_message_at=now,
    )
    set_committed_value(conversation, "identity", identity)
    return conversation


def _inserted(session: Session, model: type[Model], **values: object) -> Model:
    """One row of `model` inserted now, as an object of the session."""
    return inserted(session, model, values)


_LAST_MESSAGE_AT = (
    update(Conversation)
    .where(Conversation.id == bindparam("conversation_id"))
    .values(last_message_at=bindparam("now"))
)


def add_message(
    session: Session, conversation: Conversation, *, now: datetime, **values: Any
) -> Message:
    """A message of `conversation` (`values` by column), inserted straight away; the
    conversation's last message time follows, by a statement of its own rather than a
    flush of the object."""
    message = _inserted(
        session, Message, **{"conversation_id": conversation.id, "created_at": now, **values}
    )
    if conversation.last_message_at != now:
        session.connection().execute(
            _LAST_MESSAGE_AT, {"conversation_id": conversation.id, "now": now}
        )
        set_committed_value(conversation, "last_message_at", now)
    return message


def customer_of(session: Session, identity: ChannelIdentity) -> Customer:
    customer = session.get(Customer, identity.customer_id)
    assert customer is not None  # the foreign key guarantees it
    return customer


# The turn's statements run on the session's connection: the ORM's bulk update
# machinery costs more than the update itself, and no object in the session holds a
# conversation's turn.
_TAKE_TURN = (
    update(Conversation)
    .where(
        Conversation.id == bindparam("conversation_id"),
        or_(
            Conversation.answered_by.is_(None),
            Conversation.answered_by == bindparam("answerer"),
            Conversation.answering_until < bindparam("now"),
        ),
    )
    .values(answered_by=bindparam("answerer"), answering_until=bindparam("until"))
)
_KEEP_TURN = (
    update(Conversation)
    .where(
        Conversation.id == bindparam("conversation_id"),
        Conversation.answered_by == bindparam("answerer"),
    )
    .values(answering_until=bindparam("until"))
)
_END_TURN = (
    update(Conversation)
    .where(
        Conversation.id == bindparam("conversation_id"),
        Conversation.answered_by == bindparam("answerer"),
    )
    .values(answered_by=None, answering_until=None)
)


def take_turn(
    session: Session, conversation_id: int, *, answerer: str, now: datetime, lease: timedelta
) -> bool:
    """Claim the conversation's turn for `answerer` until `now + lease`; False while
    another answerer holds it. A claim left by a stopped process runs out by itself."""
    turn = {"conversation_id": conversation_id, "answerer": answerer}
    result = session.connection().execute(_TAKE_TURN, {**turn, "now": now, "until": now + lease})
    return bool(result.rowcount)


def keep_turn(
    session: Session, conversation_id: int, *, answerer: str, now: datetime, lease: timedelta
) -> bool:
    """Renew `answerer`'s turn until `now + lease`; False when it holds the turn no more."""
    result = session.connection().execute(
        _KEEP_TURN, {"conversation_id": conversation_id, "answerer": answerer, "until": now + lease}
    )
    return bool(result.rowcount)


def end_turn(session: Session, conversation_id: int, *, answerer: str) -> None:
    """Give the turn back (nothing happens when `answerer` no longer holds it)."""
    session.connection().execute(
        _END_TURN, {"conversation_id": conversation_id, "answerer": answerer}
    )


def waiting_for_bot(session: Session, *, received_before: datetime | None = None) -> list[int]:
    """Conversations the bot has, with messages nobody answered yet (one of them received
    before `received_before`, when given)."""
    query = (
        select(Message.conversation_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Message.direction == Direction.INBOUND,
            Message.handled_at.is_(None),
            Conversation.mode == ConversationMode.BOT,
        )
    )
    if received_before is not None:
        query = query.where(Message.created_at < received_before)
    return list(session.scalars(query.distinct()))
