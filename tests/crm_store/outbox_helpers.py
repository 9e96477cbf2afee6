"""How the outbox tests queue a message and read its rows back."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store.conversations import identity_for, open_conversation
from crm_store.models import (
    Author,
    Channel,
    ChannelIdentity,
    Conversation,
    Language,
    Message,
    MessagePurpose,
    OutboxMessage,
)
from crm_store.outbox import Queued, enqueue
from tests.factories import utc

NOW = utc(2026, 3, 2, 1, 30)
MINUTE = timedelta(minutes=1)


def new_identity(session: Session, address: str = "+886912000001") -> ChannelIdentity:
    return identity_for(
        session,
        channel=Channel.SMS,
        address=address,
        language=Language.ZH_TW,
        timezone="Asia/Taipei",
        now=NOW,
    )


def talk(session: Session, address: str = "+886912000001") -> tuple[ChannelIdentity, Conversation]:
    identity = new_identity(session, address)
    return identity, open_conversation(session, identity, now=NOW)


def queue(
    session: Session,
    identity: ChannelIdentity,
    key: str,
    *,
    parts: tuple[str, ...] = ("hello",),
    purpose: MessagePurpose = MessagePurpose.REPLY,
    conversation: Conversation | None = None,
    not_before: datetime | None = None,
) -> Queued:
    return enqueue(
        session,
        key=key,
        identity=identity,
        purpose=purpose,
        parts=parts,
        author=Author.BOT,
        conversation=conversation,
        now=NOW,
        not_before=not_before,
    )


def row(session: Session, key: str) -> OutboxMessage:
    found = session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))
    assert found is not None, f"no outbox row {key!r}"
    return found


def count(session: Session, model: type[Message] | type[OutboxMessage]) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def reloaded(session: Session) -> None:
    """Forget what the session holds, so the next reads come from the database."""
    session.commit()
    session.expire_all()
