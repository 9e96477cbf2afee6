"""What becomes of a claimed outbox row: vetted by the sending rules just before it goes
(`vet_claimed`), then sent, retried, held, failed or cancelled, and the provider's later
delivery reports; each mirrored on the transcript's line. A row whose dispatcher died or
gave up on it is put back in the queue (`release_stale`, `release`); a claim is renewed
right before its row goes (`touch`).

What became of a claimed row is recorded only while its dispatcher still holds the
claim: after a lease ran out, the row is another dispatcher's, whose record stands.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from crm_store.models import (
    ChannelIdentity,
    Customer,
    DeliveryStatus,
    Message,
    MessagePurpose,
    OutboxMessage,
    OutboxStatus,
)
from crm_store.opt_out_notice import with_opt_out_notice
from crm_store.outbox import INTERRUPTED, Claimed
from crm_store.sending_rules import SendingPolicy, Verdict, verdict


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


def interrupted(row: OutboxMessage) -> bool:
    """Whether the row's last send was cut off: the provider must be asked first."""
    return (row.last_error or "").startswith(INTERRUPTED)


def _transcript_entry(session: Session, row: OutboxMessage) -> Message | None:
    return None if row.message_id is None else session.get(Message, row.message_id)


class ClaimLost(Exception):
    """The row is no longer this dispatcher's; nothing was recorded."""

    def __init__(self, outbox_id: int, worker: str) -> None:
        super().__init__(f"outbox row {outbox_id} is no longer claimed by {worker}")
        self.outbox_id, self.worker = outbox_id, worker


def vet_claimed(
    session: Session,
    row: Claimed,
    *,
    identity: ChannelIdentity,
    worker: str,
    now: datetime,
    policy: SendingPolicy,
) -> tuple[Verdict, str]:
    """Renew `worker`'s claim on `row` and apply the sending rules to it: the verdict, and
    the text to send (a customer's first marketing message gains the refusal notice).

    Raises:
        ClaimLost: when another dispatcher has taken the row over.
    """
    if not touch(session, row.outbox_id, worker=worker, now=now):
        raise ClaimLost(row.outbox_id, worker)
    customer = session.get_one(Customer, row.customer_id)
    decision = verdict(
        session,
        identity=identity,
        customer=customer,
        purpose=row.purpose,
        now=now,
        policy=policy,
        campaign=row.campaign_id is not None,
        text=row.body,
    )
    if decision.send and row.purpose is MessagePurpose.MARKETING:
        body = with_opt_out_notice(
            session,
            outbox_id=row.outbox_id,
            customer=customer,
            identity=identity,
            taiwan=policy.taiwan,
        )
        return decision, body
    return decision, row.body


def _owned(session: Session, outbox_id: int, *, worker: str, now: datetime) -> OutboxMessage:
    """The row while `worker` holds its claim, else `ClaimLost`. The conditional UPDATE
    that checks the claim locks the row, so it cannot change hands before the commit."""
    if not touch(session, outbox_id, worker=worker, now=now):
        raise ClaimLost(outbox_id, worker)
    return session.get_one(OutboxMessage, outbox_id, populate_existing=True)


def _note(row: OutboxMessage, error: str) -> None:
    """Record why the row waits, keeping the mark of an interrupted send: until the row
    is sent, the provider is asked first whether it went out."""
    row.last_error = f"{INTERRUPTED}: {error}" if interrupted(row) else error


# Built once and run on the session's connection: every reply is recorded as sent, and
# the ORM's bulk update machinery costs more than the two updates.
_SENT = (
    update(OutboxMessage)
    .where(
        OutboxMessage.id == bindparam("outbox_id"),
        OutboxMessage.status == OutboxStatus.SENDING,
        OutboxMessage.claimed_by == bindparam("worker"),
    )
    .values(
        status=OutboxStatus.SENT,
        sent_at=bindparam("now"),
        attempts=OutboxMessage.attempts + 1,
        provider_message_id=bindparam("provider_id"),
        last_error=None,
    )
    .returning(OutboxMessage.message_id)
)
_TRANSCRIPT_SENT = (
    update(Message)
    .where(Message.id == bindparam("message_id"))
    .values(
        delivery_status=DeliveryStatus.SENT,
        status_changed_at=bindparam("now"),
        channel_message_id=func.coalesce(Message.channel_message_id, bindparam("provider_id")),
    )
)


def mark_sent(
    session: Session, outbox_id: int, *, worker: str, provider_id: str | None, now: datetime
) -> None:
    """Record the row as sent, and its transcript line, in two statements (this is on
    every reply's path); `ClaimLost` when `worker` no longer holds the row."""
    connection = session.connection()
    sent = connection.execute(
        _SENT, {"outbox_id": outbox_id, "worker": worker, "now": now, "provider_id": provider_id}
    ).first()
    if sent is None:
        raise ClaimLost(outbox_id, worker)
    if sent.message_id is not None:
        connection.execute(
            _TRANSCRIPT_SENT,
            {"message_id": sent.message_id, "now": now, "provider_id": provider_id},
        )


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


def release_stale(session: Session, *, now: datetime, lease: timedelta) -> int:
    """Put rows back whose dispatcher died while sending; returns how many.

    They are marked, so that the next dispatcher asks the provider whether the message
    went out before sending it again.
    """
    return _put_back(session, OutboxMessage.claimed_at < now - lease)


def release(session: Session, outbox_ids: Sequence[int], *, worker: str) -> int:
    """Put back rows `worker` still holds but could not finish (an error it could not
    record), marked as `release_stale` marks them, so they need not wait for the lease."""
    return _put_back(session, OutboxMessage.id.in_(outbox_ids), OutboxMessage.claimed_by == worker)


def _put_back(session: Session, *which: ColumnElement[bool]) -> int:
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.SENDING, *which)
        .values(
            status=OutboxStatus.PENDING, claimed_by=None, claimed_at=None, last_error=INTERRUPTED
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
