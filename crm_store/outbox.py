"""The outbox: every message that goes out is a row here first, with an idempotency key.

Whoever wants to send (the gateway's bot replies, staff in the console, the scheduler)
enqueues in the same transaction as the change that caused it; a dispatcher claims
due rows and hands them to the channel's sender. The unique key makes a second
enqueue of the same message a no-op, so a restart never sends a greeting twice; a
claimed row whose sender died goes back to the queue after a lease, so none is skipped.

The only way out: `enqueue` queues a text, cut here to its channel's limits;
`enqueue_many` a campaign's audience in bulk, with the same rows (`_rows`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, exists, func, insert, select, update
from sqlalchemy.orm import Session, aliased

from crm_store.bulk import bulk_insert
from crm_store.conversations import add_message
from crm_store.db import OnConflict
from crm_store.models import (
    Author,
    Channel,
    ChannelIdentity,
    Conversation,
    DeliveryStatus,
    Direction,
    Message,
    MessagePurpose,
    OutboxMessage,
    OutboxStatus,
)
from crm_store.text_limits import split_for_channel

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
    # The rows, when they were queued already claimed (see `enqueue`'s `claim_for`).
    claimed: tuple[Claimed, ...] = ()


def enqueue(
    session: Session,
    *,
    key: str,
    identity: ChannelIdentity,
    purpose: MessagePurpose,
    text: str | None = None,
    parts: Sequence[str] | None = None,
    author: Author,
    conversation: Conversation | None = None,
    buttons: Sequence[dict[str, Any]] = (),
    payload: dict[str, Any] | None = None,
    now: datetime,
    not_before: datetime | None = None,
    campaign_id: int | None = None,
    staff_user_id: int | None = None,
    claim_for: str | None = None,
) -> Queued:
    """Queue one message: `text`, cut to the channel's limits here, or `parts` already
    cut; `buttons` go with it (as the `payload` ``{"buttons": [...]}``).

    The whole text goes into the conversation's transcript as one message; each part
    is an outbox row keyed ``key`` (``key:2``, ``key:3`` for the rest). When `key` was
    queued before, nothing changes and the result says so.

    With `claim_for` (a dispatcher's name), the rows are queued already claimed for it,
    so a reply goes out without waiting for a dispatcher's round; unless something
    queued earlier for this identity is still unsent, which must go first.
    """
    if (text is None) == (parts is None):
        raise ValueError("give exactly one of text and parts")
    if buttons:
        if payload is not None:
            raise ValueError("give buttons or a payload, not both")
        payload = {"buttons": list(buttons)}
    if parts is None:
        assert text is not None
        parts = split_for_channel(identity.channel, text)
    claimed = claim_for is not None and not unsent_for(session, identity.id)
    rows = _rows(
        key=key,
        customer_id=identity.customer_id,
        identity_id=identity.id,
        channel=identity.channel,
        purpose=purpose,
        parts=parts,
        payload=payload,
        campaign_id=campaign_id,
        claimed_by=claim_for if claimed else None,
        not_before=not_before or now,
        now=now,
    )
    # The first row claims the key, or finds it taken (by a transaction that may still be
    # running: PostgreSQL waits for it) and queues nothing: no look first, no savepoint.
    first = _QUEUE_ONCE.execute(session, rows[0]).scalar()
    if first is None:
        return Queued(new=False)
    connection = session.connection()
    rows[0]["id"] = first
    for row in rows[1:]:
        row["id"] = connection.execute(_INSERT_ROW, row).scalar_one()
    message = None
    if conversation is not None:
        message = add_message(
            session,
            conversation,
            now=now,
            direction=Direction.OUTBOUND,
            author=author,
            staff_user_id=staff_user_id,
            channel=identity.channel,
            text="\n".join(parts),
            payload=payload,
            delivery_status=DeliveryStatus.QUEUED,
            status_changed_at=now,
        )
        ids = [row["id"] for row in rows]
        connection.execute(_LINK_MESSAGE, {"ids": ids, "transcript_id": message.id})
    return Queued(
        new=True,
        message=message,
        claimed=tuple(_claimed(row) for row in rows) if claimed else (),
    )


@dataclass(frozen=True, slots=True)
class Draft:
    """One message of many queued at once (`enqueue_many`): to whom, and what it says."""

    key: str
    customer_id: int
    identity_id: int
    channel: Channel
    text: str


def enqueue_many(
    session: Session,
    drafts: Iterable[Draft],
    *,
    purpose: MessagePurpose,
    now: datetime,
    not_before: datetime | None = None,
    campaign_id: int | None = None,
) -> int:
    """Queue many messages (a campaign's audience) as `enqueue` would, without a
    transcript, in one bulk insert (COPY on PostgreSQL); returns how many messages. A key
    queued before fails the whole insert: queue each once, with what records it did."""
    rows: list[dict[str, Any]] = []
    count = 0
    for draft in drafts:
        rows.extend(
            _rows(
                key=draft.key,
                customer_id=draft.customer_id,
                identity_id=draft.identity_id,
                channel=draft.channel,
                purpose=purpose,
                parts=split_for_channel(draft.channel, draft.text),
                payload=None,
                campaign_id=campaign_id,
                claimed_by=None,
                not_before=not_before or now,
                now=now,
            )
        )
        count += 1
    bulk_insert(session, OutboxMessage, rows)
    return count


def _rows(
    *,
    key: str,
    customer_id: int,
    identity_id: int,
    channel: Channel,
    purpose: MessagePurpose,
    parts: Sequence[str],
    payload: dict[str, Any] | None,
    campaign_id: int | None,
    claimed_by: str | None,
    not_before: datetime,
    now: datetime,
) -> list[dict[str, Any]]:
    """The outbox rows of one message, a row a part (the values by column name)."""
    return [
        {
            "idempotency_key": key if number == 1 else f"{key}:{number}",
            "customer_id": customer_id,
            "identity_id": identity_id,
            "channel": channel,
            "purpose": purpose,
            "priority": PRIORITY[purpose],
            "body": part,
            # Buttons go with the last part, under the text they answer.
            "payload": payload if number == len(parts) else None,
            "campaign_id": campaign_id,
            "message_id": None,  # the transcript's line is linked once written
            "status": OutboxStatus.PENDING if claimed_by is None else OutboxStatus.SENDING,
            "claimed_by": claimed_by,
            "claimed_at": None if claimed_by is None else now,
            "not_before": not_before,
            "attempts": 0,
            "created_at": now,
        }
        for number, part in enumerate(parts, start=1)
    ]


# Built once, and run on the connection: `enqueue` is on every reply's path, and
# building a statement, or going through the ORM, costs more than running it.
# A message's first row, inserted only when its key was never queued.
_QUEUE_ONCE = OnConflict(
    lambda dialect_insert: (
        dialect_insert(OutboxMessage)
        .on_conflict_do_nothing(index_elements=[OutboxMessage.idempotency_key])
        .returning(OutboxMessage.id)
    )
)
_LINK_MESSAGE = (
    update(OutboxMessage)
    .where(OutboxMessage.id.in_(bindparam("ids", expanding=True)))
    .values(message_id=bindparam("transcript_id"))
)
_UNSENT = (
    select(OutboxMessage.id)
    .where(
        OutboxMessage.identity_id == bindparam("identity_id"),
        OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING)),
    )
    .limit(1)
)
_INSERT_ROW = insert(OutboxMessage).returning(OutboxMessage.id)


def unsent_for(session: Session, identity_id: int) -> bool:
    """Whether anything queued for `identity_id` is still waiting or going out."""
    found = session.connection().execute(_UNSENT, {"identity_id": identity_id}).first()
    return found is not None


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


_GOING_OUT = aliased(OutboxMessage)
_URGENT_FIRST = (OutboxMessage.priority, OutboxMessage.not_before, OutboxMessage.id)
# Built once: a dispatcher claims every round, idle or not, and building these (and
# their cache keys) cost more than running them.
_DUE = (
    select(OutboxMessage.id)
    .where(
        OutboxMessage.status == OutboxStatus.PENDING,
        OutboxMessage.not_before <= bindparam("now"),
        OutboxMessage.purpose.in_(bindparam("purposes", expanding=True)),
        # One customer's messages in order: none overtakes an earlier one still going out.
        ~exists().where(
            _GOING_OUT.identity_id == OutboxMessage.identity_id,
            _GOING_OUT.status == OutboxStatus.SENDING,
            _GOING_OUT.id < OutboxMessage.id,
        ),
    )
    .order_by(*_URGENT_FIRST)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
_CLAIM = (
    update(OutboxMessage)
    .where(
        OutboxMessage.id.in_(bindparam("ids", expanding=True)),
        OutboxMessage.status == OutboxStatus.PENDING,
    )
    .values(
        status=OutboxStatus.SENDING, claimed_by=bindparam("worker"), claimed_at=bindparam("now")
    )
)
_CLAIMED = (
    select(*OutboxMessage.__table__.c)
    .where(
        OutboxMessage.id.in_(bindparam("ids", expanding=True)),
        OutboxMessage.claimed_by == bindparam("worker"),
    )
    .order_by(*_URGENT_FIRST)
)


def _purposes(purposes: frozenset[MessagePurpose] | None) -> list[MessagePurpose]:
    """The purposes a built statement filters by: every one when the caller takes any."""
    return list(MessagePurpose if purposes is None else purposes)


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
    session.flush()  # as a query through the session would: it sees the session's changes
    connection = session.connection()
    taking = _purposes(purposes)
    found = connection.execute(_DUE, {"now": now, "purposes": taking, "limit": limit})
    ids = list(found.scalars())
    if not ids:
        return []
    connection.execute(_CLAIM, {"ids": ids, "worker": worker, "now": now})
    rows = connection.execute(_CLAIMED, {"ids": ids, "worker": worker})
    return [_claimed(row._mapping) for row in rows if row.status == OutboxStatus.SENDING]


def _claimed(values: Mapping[Any, Any]) -> Claimed:
    """What sending a row needs, from its values by column."""
    return Claimed(
        outbox_id=values["id"],
        identity_id=values["identity_id"] or 0,
        customer_id=values["customer_id"],
        purpose=values["purpose"],
        body=values["body"],
        payload=values["payload"],
        attempts=values["attempts"] or 0,
        campaign_id=values["campaign_id"],
        # A row just queued has no error yet, nor the column among its values.
        interrupted=(values.get("last_error") or "").startswith(INTERRUPTED),
        created_at=values["created_at"],
    )


INTERRUPTED = "interrupted while sending"


def renew_claims(session: Session, *, worker: str, now: datetime) -> int:
    """Renew every claim `worker` holds (its batch is still going out); returns how many.

    A row locked meanwhile is being recorded as sent, or taken back: it needs no renewal,
    and waiting for it deadlocked with a transaction recording several sends."""
    held = (
        select(OutboxMessage.id)
        .where(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.claimed_by == worker)
        .with_for_update(skip_locked=True)
    )
    result = session.execute(
        update(OutboxMessage).where(OutboxMessage.id.in_(held)).values(claimed_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


_NEXT_DUE = select(func.min(OutboxMessage.not_before)).where(
    OutboxMessage.status == OutboxStatus.PENDING,
    OutboxMessage.purpose.in_(bindparam("purposes", expanding=True)),
)


def next_due(
    session: Session, *, purposes: frozenset[MessagePurpose] | None = None
) -> datetime | None:
    """When the earliest pending row is due, for a dispatcher deciding how long to sleep."""
    session.flush()
    taking = _purposes(purposes)
    found: datetime | None = session.connection().execute(_NEXT_DUE, {"purposes": taking}).scalar()
    return found
