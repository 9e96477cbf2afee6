"""What the gateway tests read from the store and the fakes, and how they queue a message."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.models import (
    Author,
    Channel,
    ChannelIdentity,
    Conversation,
    Customer,
    Message,
    MessagePurpose,
    OutboxMessage,
    OutboxStatus,
)
from crm_store.outbox import enqueue
from tests.channels.conftest import RunningGateway
from tests.fakes import TelegramCall

HOLDING_ZH = "收到您的訊息了"


def identity(session: Session, channel: Channel, address: str) -> ChannelIdentity:
    return session.scalars(
        select(ChannelIdentity).where(
            ChannelIdentity.channel == channel, ChannelIdentity.address == address
        )
    ).one()


def messages(session: Session, channel: Channel, address: str) -> list[Message]:
    return list(
        session.scalars(
            select(Message)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .join(ChannelIdentity, ChannelIdentity.id == Conversation.identity_id)
            .where(ChannelIdentity.channel == channel, ChannelIdentity.address == address)
            .order_by(Message.id)
        )
    )


def queue(
    gw: RunningGateway,
    channel: Channel,
    address: str,
    text: str,
    *,
    purpose: MessagePurpose = MessagePurpose.REPLY,
    key: str | None = None,
    buttons: list[dict[str, str]] | None = None,
) -> None:
    """Put a message in the outbox as the console or the scheduler would, and wake sending."""
    with gw.store() as session, session.begin():
        who = identity(session, channel, address)
        conversation = session.scalars(
            select(Conversation).where(Conversation.identity_id == who.id)
        ).first()
        enqueue(
            session,
            key=key or f"test:{uuid.uuid4()}",
            identity=who,
            conversation=conversation,
            text=text,
            purpose=purpose,
            author=Author.SYSTEM,
            now=datetime.now(UTC),
            buttons=buttons or [],
        )
    gw.app.state.gateway.dispatcher.wake()


def sends_to(gw: RunningGateway, chat_id: int) -> list[TelegramCall]:
    """Every sendMessage call to `chat_id`, failed ones included."""
    return [c for c in gw.telegram.calls_to("sendMessage") if c["params"]["chat_id"] == chat_id]


def outbox_statuses(gw: RunningGateway) -> list[OutboxStatus]:
    return gw.query(
        lambda s: [
            row.status for row in s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        ]
    )


def nothing_stored(gw: RunningGateway) -> bool:
    return gw.count(Message) == 0 and gw.count(Customer) == 0
