"""Inbound messages, committed to the store before anything else happens to them.

Each channel adapter turns its payload into an `Inbound`; `store_inbound` matches or
creates the customer, opens the conversation and records the message, dropping a
duplicate (Telegram's update_id, Twilio's MessageSid) by the store's unique key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from channels.rasa_client import detect_language
from crm_store.conversations import (
    add_message,
    known_identity,
    new_conversation,
    new_identity,
    open_conversation,
)
from crm_store.models import (
    Author,
    Channel,
    ChannelIdentity,
    Conversation,
    Customer,
    DeliveryStatus,
    Direction,
    Language,
    Message,
    MessagePurpose,
)
from crm_store.outbox import enqueue
from crm_store.settings import Settings

LANGUAGE_SWITCH = "language_switch"


class MalformedPayload(ValueError):
    """A webhook body that is not what the channel sends; answered with 400."""


# NUL, which PostgreSQL refuses in text, and UTF-16 halves with no partner, which no
# database can store: a customer's message is kept without them rather than lost.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    return _UNSTORABLE.sub(lambda match: "" if match.group() == "\x00" else "\ufffd", text)


# What the store keeps of a name (Telegram's first and last names make at most 129).
NAME_CHARS = 200


@dataclass(frozen=True, slots=True)
class Inbound:
    channel: Channel
    address: str
    text: str
    # The channel's own id of this delivery, the key duplicates are dropped by.
    channel_message_id: str
    display_name: str | None = None
    language_hint: Language | None = None
    payload: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", storable(self.text))
        if self.display_name is not None:
            object.__setattr__(self, "display_name", storable(self.display_name)[:NAME_CHARS])


@dataclass
class Stored:
    """A newly stored message with the records it belongs to (live in the session)."""

    message: Message
    identity: ChannelIdentity
    customer: Customer
    conversation: Conversation

    @property
    def language(self) -> Language:
        return self.customer.language

    def answer(
        self, session: Session, *, kind: str, text: str, purpose: MessagePurpose, now: datetime
    ) -> None:
        """Answer the message here instead of through the bot: `text` is queued once (keyed
        by `kind` and the message) and the message counts as handled."""
        enqueue(
            session,
            key=f"{kind}:{self.message.id}",
            identity=self.identity,
            conversation=self.conversation,
            text=text,
            purpose=purpose,
            author=Author.SYSTEM,
            now=now,
        )
        self.message.handled_at = now


_STORED_BEFORE = select(Message.id).where(
    Message.channel == bindparam("channel"),
    Message.direction == Direction.INBOUND,
    Message.channel_message_id == bindparam("channel_message_id"),
)


def is_duplicate(session: Session, inbound: Inbound) -> bool:
    found = session.connection().execute(
        _STORED_BEFORE,
        {"channel": inbound.channel, "channel_message_id": inbound.channel_message_id},
    )
    return found.first() is not None


def store_inbound(
    session: Session, inbound: Inbound, *, settings: Settings, now: datetime
) -> Stored | None:
    """Record `inbound`; None when it was stored before (a redelivery).

    Every message goes through here before it is acknowledged, so its rows are inserted
    straight away rather than through the session's flush, and a first contact looks for
    no conversation it cannot have."""
    if is_duplicate(session, inbound):
        return None
    written_in = detect_language(inbound.text)
    identity = known_identity(session, channel=inbound.channel, address=inbound.address)
    if identity is None:
        identity = new_identity(
            session,
            channel=inbound.channel,
            address=inbound.address,
            language=written_in or inbound.language_hint or Language.ZH_TW,
            timezone=settings.default_timezone,
            display_name=inbound.display_name,
            now=now,
        )
        conversation = new_conversation(session, identity, now=now)
    else:
        identity.last_seen_at = now
        # Whoever writes to us can be written back to, whatever a past failure said.
        if not identity.reachable or identity.unreachable_reason is not None:
            identity.reachable, identity.unreachable_reason = True, None
        conversation = open_conversation(session, identity, now=now)
    customer = identity.customer
    payload = dict(inbound.payload or {})
    if written_in is not None and customer.language is not written_in:
        customer.language = written_in
        # The conversation at Rasa is still in the old language: routing tells it.
        payload[LANGUAGE_SWITCH] = written_in.value
    message = add_message(
        session,
        conversation,
        now=now,
        direction=Direction.INBOUND,
        author=Author.CUSTOMER,
        channel=inbound.channel,
        channel_message_id=inbound.channel_message_id,
        text=inbound.text,
        payload=payload or None,
        delivery_status=DeliveryStatus.RECEIVED,
    )
    return Stored(message=message, identity=identity, customer=customer, conversation=conversation)
