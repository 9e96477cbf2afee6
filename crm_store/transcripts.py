"""What was said: a conversation's transcript as staff read it, and the messages the web
chat shows its visitor.

Both read the same `messages` query, one scoped to a conversation, the other to every
conversation at one address. A staff transcript also shows the conversation's notes and
what the shop sent outside the chat (campaigns, greetings, win-back) to the same
address, since the customer's reply often answers one of these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from crm_store.models import (
    Channel,
    ChannelIdentity,
    Conversation,
    ConversationNote,
    Message,
    OutboxMessage,
    OutboxStatus,
    StaffUser,
)

# How many of the latest messages sent outside the chat a transcript shows.
OUTREACH_SHOWN = 20


@dataclass(frozen=True)
class Entry:
    """One line of a staff transcript: a message, a note or a message sent outside it."""

    kind: str  # "message", "note" or "outreach"
    id: int
    at: datetime
    author: str
    direction: str
    text: str
    status: str
    staff: str | None


def messages(
    session: Session,
    *,
    conversation_id: int | None = None,
    address: tuple[Channel, str] | None = None,
    after: int = 0,
    limit: int | None = None,
) -> list[Message]:
    """Messages in the order they were stored, after message id `after`: those of one
    conversation, or those of every conversation at one (channel, address)."""
    if (conversation_id is None) == (address is None):
        raise ValueError("give exactly one of conversation_id and address")
    query = select(Message).where(Message.id > after).order_by(Message.id).limit(limit)
    if conversation_id is not None:
        query = query.where(Message.conversation_id == conversation_id)
    else:
        assert address is not None
        channel, at = address
        query = (
            query.join(Conversation, Conversation.id == Message.conversation_id)
            .join(ChannelIdentity, ChannelIdentity.id == Conversation.identity_id)
            .where(ChannelIdentity.channel == channel, ChannelIdentity.address == at)
        )
    return list(session.scalars(query))


def _outreach_sent(conversation: Conversation) -> tuple[ColumnElement[bool], ...]:
    """What the shop sent outside the chat to the conversation's address."""
    return (
        OutboxMessage.customer_id == conversation.customer_id,
        OutboxMessage.identity_id == conversation.identity_id,
        OutboxMessage.message_id.is_(None),
        OutboxMessage.status == OutboxStatus.SENT,
        OutboxMessage.sent_at.is_not(None),
    )


def transcript(session: Session, conversation: Conversation) -> list[Entry]:
    """The conversation's messages, notes and the latest outreach, oldest first."""
    said = messages(session, conversation_id=conversation.id)
    notes = session.scalars(
        select(ConversationNote).where(ConversationNote.conversation_id == conversation.id)
    ).all()
    outreach = session.scalars(
        select(OutboxMessage)
        .where(*_outreach_sent(conversation))
        .order_by(OutboxMessage.sent_at.desc())
        .limit(OUTREACH_SHOWN)
    ).all()
    staff = {u.id: u.display_name for u in session.scalars(select(StaffUser))}
    entries = (
        [
            Entry(
                kind="message",
                id=m.id,
                at=m.created_at,
                author=m.author.value,
                direction=m.direction.value,
                text=m.text,
                status=m.delivery_status.value,
                staff=staff.get(m.staff_user_id or 0),
            )
            for m in said
        ]
        + [
            Entry(
                kind="note",
                id=n.id,
                at=n.created_at,
                author="note",
                direction="note",
                text=n.text,
                status="",
                staff=staff.get(n.staff_user_id),
            )
            for n in notes
        ]
        + [
            Entry(
                kind="outreach",
                id=o.id,
                at=o.sent_at,
                author=o.purpose.value,
                direction="out",
                text=o.body,
                status="delivered" if o.delivered_at else "sent",
                staff=None,
            )
            for o in outreach
            if o.sent_at is not None
        ]
    )
    return sorted(entries, key=lambda entry: entry.at)


def newest(session: Session, conversation: Conversation) -> str:
    """A mark that changes whenever the conversation's transcript gains an entry."""
    last_message = session.scalar(
        select(func.max(Message.id)).where(Message.conversation_id == conversation.id)
    )
    last_note = session.scalar(
        select(func.max(ConversationNote.id)).where(
            ConversationNote.conversation_id == conversation.id
        )
    )
    last_outreach = session.scalar(
        select(func.max(OutboxMessage.sent_at)).where(*_outreach_sent(conversation))
    )
    return f"{last_message}:{last_note}:{last_outreach}"
