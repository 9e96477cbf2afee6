"""The outbox: every message that goes out is a row here first, with an idempotency key.

Whoever wants to send (the gateway's bot replies, staff in the console, the scheduler)
enqueues in the same transaction as the change that caused it; a dispatcher claims
due rows and hands them to the channel's sender. The unique key makes a second
enqueue of the same message a no-op, so a restart never sends a greeting twice; a
claimed row whose sender died goes back to the queue after a lease, so none is skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from crm_store.models import (
    Author,
    ChannelIdentity,
    Conversation,
    DeliveryStatus,
    Direction,
    Message,
    MessagePurpose,
    OutboxMessage,
    OutboxStatus,
)

# Lower goes first. Replies to a customer who is waiting beat everything else.
PRIORITY = {
    MessagePurpose.REPLY: 10,
    MessagePurpose.COMPLIANCE: 10,
    MessagePurpose.TRANSACTIONAL: 50,
    MessagePurpose.SURVEY: 80,
    MessagePurpose.MARKETING: 100,
}


@dataclass(frozen=True, slots=True)
class Queued:
    """What `enqueue` did: `new` is False when the key had been queued before (and
    nothing changed); `message` is the transcript's line, when there is a conversation."""

    new: bool
    message: Message | None = None


def enqueue(
    session: Session,
    *,
    key: str,
    identity: ChannelIdentity,
    purpose: MessagePurpose,
    parts: Sequence[str],
    author: Author,
    conversation: Conversation | None = None,
    payload: dict[str, Any] | None = None,
    now: datetime,
    not_before: datetime | None = None,
    campaign_id: int | None = None,
    staff_user_id: int | None = None,
) -> Queued:
    """Queue one message, sent as `parts` (already split to the channel's limits).

    The whole text goes into the conversation's transcript as one message; each part
    is an outbox row keyed ``key`` (``key:2``, ``key:3`` for the rest). When `key` was
    queued before, nothing changes and the result says so.
    """
    if session.scalar(select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key)):
        return Queued(new=False)
    not_before = not_before or now
    message = None
    if conversation is not None:
        message = Message(
            conversation_id=conversation.id,
            direction=Direction.OUTBOUND,
            author=author,
            staff_user_id=staff_user_id,
            channel=identity.channel,
            text="\n".join(parts),
            payload=payload,
            delivery_status=DeliveryStatus.QUEUED,
            status_changed_at=now,
            created_at=now,
        )
        session.add(message)
        conversation.last_message_at = now
        session.flush()
    for number, part in enumerate(parts, start=1):
        session.add(
            OutboxMessage(
                idempotency_key=key if number == 1 else f"{key}:{number}",
                customer_id=identity.customer_id,
                identity_id=identity.id,
                channel=identity.channel,
                purpose=purpose,
                priority=PRIORITY[purpose],
                body=part,
                # Buttons go with the last part, under the text they answer.
                payload=payload if number == len(parts) else None,
                campaign_id=campaign_id,
                message_id=None if message is None else message.id,
                status=OutboxStatus.PENDING,
                not_before=not_before,
                created_at=now,
            )
        )
    session.flush()
    return Queued(new=True, message=message)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A row a dispatcher now owns, with what it needs to send it."""

    outbox_id: int
    identity_id: int
    customer_id: int
    purpose: MessagePurpose
    body: str
    payload: dict[str, Any] | None
    attempts: int
    campaign_id: int | None = None
    # Claimed before by a dispatcher that died mid-send: it may have reached the provider.
    interrupted: bool = False
    created_at: datetime | None = None


def claim_due(
    session: Session,
    *,
    worker: str,
    now: datetime,
    limit: int,
    purposes: frozenset[MessagePurpose] | None = None,
) -> list[Claimed]:
    """Claim up to `limit` due rows (of `purposes`, or any), most urgent first, for `worker`.

    On PostgreSQL the rows are locked with SKIP LOCKED, so dispatchers never wait on
    each other; SQLite has one writer at a time, which gives the same guarantee.
    """
    due = select(OutboxMessage.id).where(
        OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.not_before <= now
    )
    if purposes is not None:
        due = due.where(OutboxMessage.purpose.in_(purposes))
    due = (
        due.order_by(OutboxMessage.priority, OutboxMessage.not_before, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(session.scalars(due))
    if not ids:
        return []
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.SENDING, claimed_by=worker, claimed_at=now)
    )
    rows = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.claimed_by == worker)
        .order_by(OutboxMessage.priority, OutboxMessage.not_before, OutboxMessage.id)
    )
    return [
        Claimed(
            outbox_id=row.id,
            identity_id=row.identity_id or 0,
            customer_id=row.customer_id,
            purpose=row.purpose,
            body=row.body,
            payload=row.payload,
            attempts=row.attempts,
            campaign_id=row.campaign_id,
            interrupted=_interrupted(row),
            created_at=row.created_at,
        )
        for row in rows
        if row.status == OutboxStatus.SENDING
    ]


INTERRUPTED = "interrupted while sending"


def touch(session: Session, outbox_id: int, *, worker: str, now: datetime) -> bool:
    """Renew `worker`'s claim on a row right before sending it; False when the claim
    was lost (another dispatcher took the row over after the lease ran out)."""
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == outbox_id,
            OutboxMessage.status == OutboxStatus.SENDING,
            OutboxMessage.claimed_by == worker,
        )
        .values(claimed_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def renew_claims(session: Session, *, worker: str, now: datetime) -> int:
    """Renew every claim `worker` holds (its batch is still going out); returns how many."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.claimed_by == worker)
        .values(claimed_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def release_stale(session: Session, *, now: datetime, lease: timedelta) -> int:
    """Put rows back whose dispatcher died while sending; returns how many.

    They are marked, so that the next dispatcher asks the provider whether the message
    went out before sending it again.
    """
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.status == OutboxStatus.SENDING,
            OutboxMessage.claimed_at < now - lease,
        )
        .values(
            status=OutboxStatus.PENDING, claimed_by=None, claimed_at=None, last_error=INTERRUPTED
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def next_due(
    session: Session, *, purposes: frozenset[MessagePurpose] | None = None
) -> datetime | None:
    """When the earliest pending row is due, for a dispatcher deciding how long to sleep."""
    query = select(func.min(OutboxMessage.not_before)).where(
        OutboxMessage.status == OutboxStatus.PENDING
    )
    if purposes is not None:
        query = query.where(OutboxMessage.purpose.in_(purposes))
    return session.scalar(query)


def _transcript_entry(session: Session, row: OutboxMessage) -> Message | None:
    return None if row.message_id is None else session.get(Message, row.message_id)


# What became of a claimed row is recorded only while its dispatcher still holds the
# claim: after a lease ran out, the row is another dispatcher's, whose record stands.


class ClaimLost(Exception):
    """The row is no longer this dispatcher's; nothing was recorded."""

    def __init__(self, outbox_id: int, worker: str) -> None:
        super().__init__(f"outbox row {outbox_id} is no longer claimed by {worker}")
        self.outbox_id, self.worker = outbox_id, worker


def _owned(session: Session, outbox_id: int, *, worker: str, now: datetime) -> OutboxMessage:
    """The row while `worker` holds its claim, else `ClaimLost`. The conditional UPDATE
    that checks the claim locks the row, so it cannot change hands before the commit."""
    if not touch(session, outbox_id, worker=worker, now=now):
        raise ClaimLost(outbox_id, worker)
    return session.get_one(OutboxMessage, outbox_id, populate_existing=True)


def _note(row: OutboxMessage, error: str) -> None:
    """Record why the row waits, keeping the mark of an interrupted send: until the row
    is sent, the provider is asked first whether it went out."""
    row.last_error = f"{INTERRUPTED}: {error}" if _interrupted(row) else error


def _interrupted(row: OutboxMessage) -> bool:
    return (row.last_error or "").startswith(INTERRUPTED)


def mark_sent(
    session: Session, outbox_id: int, *, worker: str, provider_id: str | None, now: datetime
) -> None:
    row = _owned(session, outbox_id, worker=worker, now=now)
    row.status = OutboxStatus.SENT
    row.sent_at = now
    row.attempts += 1
    row.provider_message_id = provider_id
    row.last_error = None
    message = _transcript_entry(session, row)
    if message is not None:
        message.delivery_status = DeliveryStatus.SENT
        message.status_changed_at = now
        if message.channel_message_id is None:
            message.channel_message_id = provider_id


def mark_retry(
    session: Session,
    outbox_id: int,
    *,
    worker: str,
    error: str,
    now: datetime,
    retry_at: datetime,
    max_attempts: int,
) -> bool:
    """Try again at `retry_at`, and hold the customer's other messages until then too.

    The provider asked us to wait for this customer (or cannot take messages now), so
    nothing else to them goes first; they keep their order by priority and age.
    Returns False, and fails the row, once `max_attempts` are used up.
    """
    row = _owned(session, outbox_id, worker=worker, now=now)
    row.attempts += 1
    _note(row, error)
    if row.attempts >= max_attempts:
        _fail(session, row, error=error, now=now)
        return False
    row.status = OutboxStatus.PENDING
    row.claimed_by = None
    row.claimed_at = None
    row.not_before = retry_at
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.identity_id == row.identity_id,
            OutboxMessage.id != row.id,
            OutboxMessage.not_before < retry_at,
            # Rows another dispatcher is sending right now are its business.
            or_(
                OutboxMessage.status == OutboxStatus.PENDING,
                and_(
                    OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.claimed_by == worker
                ),
            ),
        )
        .values(status=OutboxStatus.PENDING, not_before=retry_at, claimed_by=None, claimed_at=None)
    )
    return True


def hold(
    session: Session, outbox_id: int, *, worker: str, until: datetime, reason: str, now: datetime
) -> None:
    """Not now (the customer's quiet hours): back in the queue until `until`, no attempt used."""
    row = _owned(session, outbox_id, worker=worker, now=now)
    row.status = OutboxStatus.PENDING
    row.not_before = until
    row.claimed_by = None
    row.claimed_at = None
    _note(row, reason)


def mark_failed(
    session: Session, outbox_id: int, *, worker: str, error: str, now: datetime
) -> None:
    _fail(session, _owned(session, outbox_id, worker=worker, now=now), error=error, now=now)


def mark_cancelled(
    session: Session, outbox_id: int, *, worker: str, reason: str, now: datetime
) -> None:
    """Not sent because a sending rule said no (opted out, unreachable, no consent)."""
    row = _owned(session, outbox_id, worker=worker, now=now)
    _fail(session, row, error=reason, now=now)
    row.status = OutboxStatus.CANCELLED


def _fail(session: Session, row: OutboxMessage, *, error: str, now: datetime) -> None:
    row.status = OutboxStatus.FAILED
    row.last_error = error
    message = _transcript_entry(session, row)
    if message is not None:
        message.delivery_status = DeliveryStatus.FAILED
        message.error_code = error[:32]
        message.status_changed_at = now


def record_delivery_status(
    session: Session,
    *,
    provider_id: str,
    status: DeliveryStatus,
    error_code: str | None,
    now: datetime,
) -> OutboxMessage | None:
    """A provider's delivery report for a message it accepted; None when it is not ours."""
    row = session.scalar(
        select(OutboxMessage).where(OutboxMessage.provider_message_id == provider_id).limit(1)
    )
    if row is None:
        return None
    message = _transcript_entry(session, row)
    if message is not None:
        message.delivery_status = status
        message.error_code = error_code
        message.status_changed_at = now
    if status in (DeliveryStatus.DELIVERED, DeliveryStatus.READ):
        row.delivered_at = row.delivered_at or now
    if status is DeliveryStatus.FAILED:
        row.status = OutboxStatus.FAILED
        row.last_error = f"provider reported failure {error_code or ''}".strip()
    return row
