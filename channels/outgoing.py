"""Queueing a text for a customer, cut to the channel's limits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from channels.senders import split_for_channel
from crm_store import outbox
from crm_store.models import Author, ChannelIdentity, Conversation, MessagePurpose


def send_text(
    session: Session,
    *,
    key: str,
    identity: ChannelIdentity,
    conversation: Conversation | None,
    text: str,
    purpose: MessagePurpose,
    author: Author,
    now: datetime,
    buttons: Sequence[dict[str, Any]] = (),
    staff_user_id: int | None = None,
    claim_for: str | None = None,
) -> outbox.Queued:
    """Queue `text` for `identity`, cut to the channel's limits (once per `key`)."""
    return outbox.enqueue(
        session,
        key=key,
        identity=identity,
        purpose=purpose,
        parts=split_for_channel(identity.channel, text),
        author=author,
        conversation=conversation,
        payload={"buttons": list(buttons)} if buttons else None,
        now=now,
        staff_user_id=staff_user_id,
        claim_for=claim_for,
    )
