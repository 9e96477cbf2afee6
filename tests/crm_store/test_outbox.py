"""The outbox: idempotent enqueue, claiming by urgency, retries that keep order, and delivery."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from crm_store.conversations import identity_for, open_conversation
from crm_store.db import make_engine, make_session_factory
from crm_store.models import (
    Author,
    Channel,
    ChannelIdentity,
    Conversation,
    DeliveryStatus,
    Direction,
    Language,
    Message,
    MessagePurpose,
    OutboxMessage,
    OutboxStatus,
)
from crm_store.outbox import Queued, claim_due, enqueue, next_due, release_stale, touch
from crm_store.outbox_results import (
    ClaimLost,
    hold,
    mark_cancelled,
    mark_failed,
    mark_retry,
    mark_sent,
    record_delivery_status,
)
from tests.conftest import POSTGRES_URL, _postgres_admin
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


# --- enqueue ---------------------------------------------------------------------------


def test_enqueue_writes_one_transcript_message_and_one_outbox_row_per_part(
    session: Session,
) -> None:
    identity, conversation = talk(session)
    parts = ("第一段。", "第二段。", "第三段。")
    message = queue(session, identity, "reply:42", parts=parts, conversation=conversation).message
    reloaded(session)

    assert message is not None
    assert count(session, Message) == 1
    stored = session.get_one(Message, message.id)
    assert stored.text == "第一段。\n第二段。\n第三段。"
    assert stored.direction is Direction.OUTBOUND
    assert stored.author is Author.BOT
    assert stored.delivery_status is DeliveryStatus.QUEUED
    assert stored.conversation_id == conversation.id
    assert session.get_one(Conversation, conversation.id).last_message_at == NOW

    rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [r.idempotency_key for r in rows] == ["reply:42", "reply:42:2", "reply:42:3"]
    assert [r.body for r in rows] == list(parts)
    assert {r.message_id for r in rows} == {message.id}
    assert {r.status for r in rows} == {OutboxStatus.PENDING}
    assert {r.not_before for r in rows} == {NOW}
    assert {(r.identity_id, r.customer_id) for r in rows} == {(identity.id, identity.customer_id)}


def test_enqueue_without_a_conversation_queues_rows_but_no_transcript(session: Session) -> None:
    identity = new_identity(session)
    result = queue(session, identity, "greeting:1", parts=("a", "b"))
    reloaded(session)
    assert result == Queued(new=True, message=None)
    assert count(session, Message) == 0
    assert [r.message_id for r in session.scalars(select(OutboxMessage))] == [None, None]


def test_buttons_go_with_the_last_part_only(session: Session) -> None:
    identity, conversation = talk(session)
    payload = {"buttons": [{"title": "Yes", "payload": "/affirm"}]}
    enqueue(
        session,
        key="ask",
        identity=identity,
        purpose=MessagePurpose.REPLY,
        parts=["one", "two"],
        author=Author.BOT,
        conversation=conversation,
        payload=payload,
        now=NOW,
    )
    reloaded(session)
    assert row(session, "ask").payload is None
    assert row(session, "ask:2").payload == payload


def test_a_second_enqueue_with_the_same_key_says_so_and_adds_nothing(
    session: Session,
) -> None:
    identity, conversation = talk(session)
    first = queue(session, identity, "birthday:7:2026", parts=("a", "b"), conversation=conversation)
    session.commit()
    again = queue(
        session, identity, "birthday:7:2026", parts=("x", "y", "z"), conversation=conversation
    )
    reloaded(session)
    assert first.new and first.message is not None
    assert again == Queued(new=False)
    assert count(session, Message) == 1
    assert count(session, OutboxMessage) == 2
    assert row(session, "birthday:7:2026").body == "a"


def test_enqueue_gives_each_purpose_its_priority(session: Session) -> None:
    identity = new_identity(session)
    for purpose in MessagePurpose:
        queue(session, identity, f"p:{purpose}", purpose=purpose)
    reloaded(session)
    priority = {purpose: row(session, f"p:{purpose}").priority for purpose in MessagePurpose}
    assert priority[MessagePurpose.REPLY] == priority[MessagePurpose.COMPLIANCE]
    assert (
        priority[MessagePurpose.REPLY]
        < priority[MessagePurpose.TRANSACTIONAL]
        < priority[MessagePurpose.SURVEY]
        < priority[MessagePurpose.MARKETING]
    )


# --- claiming --------------------------------------------------------------------------


def test_claim_due_takes_replies_before_marketing_then_earliest_then_oldest(
    session: Session,
) -> None:
    identity = new_identity(session)
    other = new_identity(session, "+886912000002")
    queue(session, identity, "ad", purpose=MessagePurpose.MARKETING, not_before=NOW - 60 * MINUTE)
    queue(session, identity, "late-reply", not_before=NOW - MINUTE)
    queue(session, other, "reply-a", not_before=NOW - 5 * MINUTE)
    queue(session, other, "reply-b", not_before=NOW - 5 * MINUTE)
    queue(session, identity, "shipped", purpose=MessagePurpose.TRANSACTIONAL)
    session.commit()

    order: list[str] = []
    for _ in range(6):
        for claimed in claim_due(session, worker="w1", now=NOW, limit=1):
            sent = session.get_one(OutboxMessage, claimed.outbox_id)
            order.append(sent.idempotency_key)
            sent.status = OutboxStatus.SENT  # as its dispatcher would, before the next round
        session.commit()
    assert order == ["reply-a", "reply-b", "late-reply", "shipped", "ad"]


def test_claim_due_never_lets_a_customers_row_overtake_one_still_going_out(
    session: Session,
) -> None:
    identity = new_identity(session)
    other = new_identity(session, "+886912000002")
    queue(session, identity, "first", not_before=NOW - MINUTE)
    queue(session, identity, "second", not_before=NOW - MINUTE)
    queue(session, other, "someone-else")
    session.commit()
    first = claim_due(session, worker="w1", now=NOW, limit=1)
    session.commit()

    # Another dispatcher, meanwhile: the first row is still going out.
    taken = claim_due(session, worker="w2", now=NOW, limit=10)
    session.commit()
    assert [session.get_one(OutboxMessage, c.outbox_id).idempotency_key for c in taken] == [
        "someone-else"
    ]
    session.get_one(OutboxMessage, first[0].outbox_id).status = OutboxStatus.SENT
    session.commit()
    taken = claim_due(session, worker="w2", now=NOW, limit=10)
    assert [session.get_one(OutboxMessage, c.outbox_id).idempotency_key for c in taken] == [
        "second"
    ]


def test_claim_due_with_a_limit_takes_the_most_urgent_rows(session: Session) -> None:
    identity = new_identity(session)
    queue(session, identity, "ad-1", purpose=MessagePurpose.MARKETING)
    queue(session, identity, "ad-2", purpose=MessagePurpose.MARKETING)
    queue(session, identity, "reply")
    queue(session, identity, "survey", purpose=MessagePurpose.SURVEY)
    session.commit()
    claimed = claim_due(session, worker="w1", now=NOW, limit=2)
    assert {c.purpose for c in claimed} == {MessagePurpose.REPLY, MessagePurpose.SURVEY}


def test_claim_due_hands_back_the_claimed_rows_most_urgent_first(session: Session) -> None:
    """The dispatcher sends one customer's rows in this order: replies before campaigns."""
    identity = new_identity(session)
    queue(session, identity, "ad", purpose=MessagePurpose.MARKETING)
    queue(session, identity, "shipped", purpose=MessagePurpose.TRANSACTIONAL)
    queue(session, identity, "reply")
    session.commit()
    claimed = claim_due(session, worker="w1", now=NOW, limit=10)
    assert [c.purpose for c in claimed] == [
        MessagePurpose.REPLY,
        MessagePurpose.TRANSACTIONAL,
        MessagePurpose.MARKETING,
    ]


def test_claim_due_skips_rows_not_yet_due(session: Session) -> None:
    identity = new_identity(session)
    queue(session, identity, "now")
    queue(session, identity, "later", not_before=NOW + MINUTE)
    session.commit()
    claimed = claim_due(session, worker="w1", now=NOW, limit=10)
    session.commit()
    assert [c.body for c in claimed] == ["hello"]
    assert claimed[0].outbox_id == row(session, "now").id
    assert row(session, "later").status is OutboxStatus.PENDING
    row(session, "now").status = OutboxStatus.SENT
    assert claim_due(session, worker="w1", now=NOW + MINUTE, limit=10)[0].outbox_id == (
        row(session, "later").id
    )


def test_claimed_rows_are_marked_sending_and_not_claimed_again(session: Session) -> None:
    identity = new_identity(session)
    queue(session, identity, "m", parts=("one", "two"))
    session.commit()
    first = claim_due(session, worker="w1", now=NOW, limit=10)
    session.commit()
    second = claim_due(session, worker="w2", now=NOW + MINUTE, limit=10)
    reloaded(session)
    assert [c.body for c in first] == ["one", "two"]
    assert second == []
    stored = row(session, "m")
    assert (stored.status, stored.claimed_by, stored.claimed_at) == (
        OutboxStatus.SENDING,
        "w1",
        NOW,
    )
    assert first[0].identity_id == identity.id
    assert first[0].customer_id == identity.customer_id
    assert first[0].attempts == 0


def test_claim_due_on_an_empty_outbox_is_empty(session: Session) -> None:
    assert claim_due(session, worker="w1", now=NOW, limit=10) == []


def test_release_stale_returns_only_rows_older_than_the_lease_to_pending(
    session: Session,
) -> None:
    # Three customers: one customer's later row would wait behind its row going out.
    identity = new_identity(session)
    second, third = new_identity(session, "+886912000002"), new_identity(session, "+886912000003")
    queue(session, identity, "old")
    queue(session, second, "fresh")
    queue(session, third, "sent")
    queue(session, identity, "waiting", not_before=NOW + 60 * MINUTE)
    session.commit()
    claim_due(session, worker="dead", now=NOW, limit=1)  # "old"
    claim_due(session, worker="alive", now=NOW + 4 * MINUTE, limit=1)  # "fresh"
    sent = claim_due(session, worker="alive", now=NOW + 4 * MINUTE, limit=1)
    mark_sent(session, sent[0].outbox_id, worker="alive", provider_id="SM1", now=NOW + 4 * MINUTE)
    session.commit()

    released = release_stale(session, now=NOW + 6 * MINUTE, lease=5 * MINUTE)
    reloaded(session)
    assert released == 1
    old = row(session, "old")
    assert (old.status, old.claimed_by, old.claimed_at) == (OutboxStatus.PENDING, None, None)
    assert row(session, "fresh").status is OutboxStatus.SENDING
    assert row(session, "fresh").claimed_by == "alive"
    assert row(session, "sent").status is OutboxStatus.SENT
    assert row(session, "waiting").status is OutboxStatus.PENDING
    assert claim_due(session, worker="w", now=NOW + 6 * MINUTE, limit=10)[0].outbox_id == old.id


def test_next_due_is_when_the_earliest_pending_row_is_due(session: Session) -> None:
    assert next_due(session) is None
    identity = new_identity(session)
    queue(session, identity, "soon", not_before=NOW + 2 * MINUTE)
    queue(session, identity, "later", not_before=NOW + 9 * MINUTE)
    session.commit()
    assert next_due(session) == NOW + 2 * MINUTE
    claim_due(session, worker="w", now=NOW + 3 * MINUTE, limit=1)
    session.commit()
    assert next_due(session) == NOW + 9 * MINUTE  # a claimed row is not waiting


# --- retries ---------------------------------------------------------------------------


def test_mark_retry_moves_the_row_and_the_identitys_later_rows_to_retry_at(
    session: Session,
) -> None:
    identity = new_identity(session)
    other = new_identity(session, "+886912000002")
    queue(session, identity, "before", not_before=NOW - MINUTE)
    queue(session, identity, "m", parts=("one", "two"))
    queue(session, other, "other")
    queue(session, identity, "next-reply")
    queue(session, identity, "tomorrow", not_before=NOW + 24 * 60 * MINUTE)
    session.commit()
    claimed = claim_due(session, worker="w", now=NOW, limit=10)
    session.commit()
    by_key = {session.get_one(OutboxMessage, c.outbox_id).idempotency_key: c for c in claimed}
    mark_sent(session, by_key["before"].outbox_id, worker="w", provider_id="SM0", now=NOW)

    retry_at = NOW + 5 * MINUTE
    retrying = mark_retry(
        session,
        by_key["m"].outbox_id,
        worker="w",
        error="429 Too Many Requests",
        now=NOW,
        retry_at=retry_at,
        max_attempts=3,
    )
    reloaded(session)

    assert retrying is True
    failed = row(session, "m")
    assert (failed.status, failed.not_before, failed.attempts) == (
        OutboxStatus.PENDING,
        retry_at,
        1,
    )
    assert failed.last_error == "429 Too Many Requests"
    assert (failed.claimed_by, failed.claimed_at) == (None, None)
    for key in ("m:2", "next-reply"):  # claimed with it, now held back behind it
        later = row(session, key)
        assert (later.status, later.not_before, later.claimed_by) == (
            OutboxStatus.PENDING,
            retry_at,
            None,
        ), key
        assert later.attempts == 0
    assert row(session, "tomorrow").not_before == NOW + 24 * 60 * MINUTE
    assert row(session, "before").status is OutboxStatus.SENT
    untouched = row(session, "other")
    assert (untouched.status, untouched.not_before, untouched.claimed_by) == (
        OutboxStatus.SENDING,
        NOW,
        "w",
    )
    assert claim_due(session, worker="w", now=retry_at - MINUTE, limit=10) == []
    again = claim_due(session, worker="w", now=retry_at, limit=10)
    assert [c.body for c in again] == ["one", "two", "hello"]


def test_mark_retry_fails_the_row_once_max_attempts_are_used(session: Session) -> None:
    identity, conversation = talk(session)
    message = queue(session, identity, "m", conversation=conversation).message
    session.commit()
    assert message is not None
    results: list[bool] = []
    for attempt in range(3):
        claimed = claim_due(session, worker="w", now=NOW + attempt * 10 * MINUTE, limit=1)
        assert len(claimed) == 1, f"attempt {attempt + 1} found nothing to claim"
        results.append(
            mark_retry(
                session,
                claimed[0].outbox_id,
                worker="w",
                error=f"timeout {attempt + 1}",
                now=NOW + attempt * 10 * MINUTE,
                retry_at=NOW + (attempt + 1) * 10 * MINUTE,
                max_attempts=3,
            )
        )
        session.commit()
    reloaded(session)
    assert results == [True, True, False]
    failed = row(session, "m")
    assert (failed.status, failed.attempts, failed.last_error) == (
        OutboxStatus.FAILED,
        3,
        "timeout 3",
    )
    transcript = session.get_one(Message, message.id)
    assert transcript.delivery_status is DeliveryStatus.FAILED
    assert transcript.error_code == "timeout 3"
    assert claim_due(session, worker="w", now=NOW + 60 * MINUTE, limit=10) == []


def test_a_row_failed_by_its_last_retry_records_the_failure_now_not_at_retry_at(
    session: Session,
) -> None:
    identity, conversation = talk(session)
    wall_clock = datetime.now(UTC)
    message = enqueue(
        session,
        key="m",
        identity=identity,
        purpose=MessagePurpose.REPLY,
        parts=["hi"],
        author=Author.BOT,
        conversation=conversation,
        now=wall_clock,
    ).message
    session.commit()
    assert message is not None
    claimed = claim_due(session, worker="w", now=wall_clock, limit=1)
    retry_at = wall_clock + timedelta(minutes=10)
    assert not mark_retry(
        session,
        claimed[0].outbox_id,
        worker="w",
        error="timeout",
        now=wall_clock,
        retry_at=retry_at,
        max_attempts=1,
    )
    reloaded(session)
    changed_at = session.get_one(Message, message.id).status_changed_at
    assert changed_at is not None
    assert changed_at <= datetime.now(UTC), f"failure recorded in the future: {changed_at}"


# --- sent, cancelled, failed, delivered -------------------------------------------------


def test_mark_sent_records_the_provider_id_on_the_row_and_the_transcript(
    session: Session,
) -> None:
    identity, conversation = talk(session)
    message = queue(session, identity, "m", parts=("one", "two"), conversation=conversation).message
    session.commit()
    assert message is not None
    first, second = claim_due(session, worker="w", now=NOW, limit=10)
    mark_sent(session, first.outbox_id, worker="w", provider_id="SM-first", now=NOW + MINUTE)
    mark_sent(session, second.outbox_id, worker="w", provider_id="SM-second", now=NOW + 2 * MINUTE)
    reloaded(session)

    sent = row(session, "m")
    assert (sent.status, sent.provider_message_id, sent.sent_at, sent.attempts) == (
        OutboxStatus.SENT,
        "SM-first",
        NOW + MINUTE,
        1,
    )
    assert sent.last_error is None
    assert row(session, "m:2").provider_message_id == "SM-second"
    transcript = session.get_one(Message, message.id)
    assert transcript.delivery_status is DeliveryStatus.SENT
    assert transcript.channel_message_id == "SM-first"  # the first part's id is kept
    assert transcript.status_changed_at == NOW + 2 * MINUTE


def test_mark_sent_without_a_transcript_only_updates_the_row(session: Session) -> None:
    identity = new_identity(session)
    queue(session, identity, "m")
    session.commit()
    (claimed,) = claim_due(session, worker="w", now=NOW, limit=1)
    mark_sent(session, claimed.outbox_id, worker="w", provider_id="777", now=NOW)
    reloaded(session)
    assert row(session, "m").status is OutboxStatus.SENT
    assert row(session, "m").provider_message_id == "777"
    assert count(session, Message) == 0


def test_mark_cancelled_cancels_the_row_and_fails_the_transcript(session: Session) -> None:
    identity, conversation = talk(session)
    message = queue(
        session, identity, "ad", purpose=MessagePurpose.MARKETING, conversation=conversation
    ).message
    session.commit()
    assert message is not None
    (claimed,) = claim_due(session, worker="w", now=NOW, limit=1)
    mark_cancelled(session, claimed.outbox_id, worker="w", reason="opted out", now=NOW + MINUTE)
    reloaded(session)
    cancelled = row(session, "ad")
    assert (cancelled.status, cancelled.last_error) == (OutboxStatus.CANCELLED, "opted out")
    transcript = session.get_one(Message, message.id)
    assert transcript.delivery_status is DeliveryStatus.FAILED
    assert transcript.error_code == "opted out"
    assert transcript.status_changed_at == NOW + MINUTE
    assert claim_due(session, worker="w", now=NOW + MINUTE, limit=10) == []


def test_mark_failed_fails_the_row_and_the_transcript(session: Session) -> None:
    identity, conversation = talk(session)
    message = queue(session, identity, "m", conversation=conversation).message
    session.commit()
    assert message is not None
    (claimed,) = claim_due(session, worker="w", now=NOW, limit=1)
    long_error = "21610: Attempt to send to unsubscribed recipient " * 3
    mark_failed(session, claimed.outbox_id, worker="w", error=long_error, now=NOW + MINUTE)
    reloaded(session)
    failed = row(session, "m")
    assert (failed.status, failed.last_error) == (OutboxStatus.FAILED, long_error)
    transcript = session.get_one(Message, message.id)
    assert transcript.delivery_status is DeliveryStatus.FAILED
    assert transcript.error_code == long_error[:32]  # fits the column
    assert transcript.status_changed_at == NOW + MINUTE


def test_record_delivery_status_finds_the_row_by_provider_id(session: Session) -> None:
    identity, conversation = talk(session)
    message = queue(session, identity, "m", conversation=conversation).message
    queue(session, identity, "other")
    session.commit()
    assert message is not None
    first, second = claim_due(session, worker="w", now=NOW, limit=10)
    mark_sent(session, first.outbox_id, worker="w", provider_id="SMaaa", now=NOW)
    mark_sent(session, second.outbox_id, worker="w", provider_id="SMbbb", now=NOW)
    session.commit()

    found = record_delivery_status(
        session,
        provider_id="SMaaa",
        status=DeliveryStatus.DELIVERED,
        error_code=None,
        now=NOW + MINUTE,
    )
    reloaded(session)
    assert found is not None
    assert found.id == first.outbox_id
    assert row(session, "m").status is OutboxStatus.SENT
    transcript = session.get_one(Message, message.id)
    assert transcript.delivery_status is DeliveryStatus.DELIVERED
    assert transcript.status_changed_at == NOW + MINUTE


def test_a_reported_delivery_failure_fails_the_row_and_the_transcript(session: Session) -> None:
    identity, conversation = talk(session)
    message = queue(session, identity, "m", conversation=conversation).message
    session.commit()
    assert message is not None
    (claimed,) = claim_due(session, worker="w", now=NOW, limit=1)
    mark_sent(session, claimed.outbox_id, worker="w", provider_id="SMccc", now=NOW)
    found = record_delivery_status(
        session,
        provider_id="SMccc",
        status=DeliveryStatus.FAILED,
        error_code="30003",
        now=NOW + MINUTE,
    )
    reloaded(session)
    assert found is not None
    failed = row(session, "m")
    assert failed.status is OutboxStatus.FAILED
    assert failed.last_error == "provider reported failure 30003"
    transcript = session.get_one(Message, message.id)
    assert (transcript.delivery_status, transcript.error_code) == (DeliveryStatus.FAILED, "30003")


def test_record_delivery_status_for_an_unknown_provider_id_is_none(session: Session) -> None:
    identity = new_identity(session)
    queue(session, identity, "m")
    session.commit()
    result = record_delivery_status(
        session,
        provider_id="SMnot-ours",
        status=DeliveryStatus.DELIVERED,
        error_code=None,
        now=NOW,
    )
    assert result is None
    assert row(session, "m").status is OutboxStatus.PENDING


# --- PostgreSQL: two dispatchers at once -----------------------------------------------


@pytest.fixture
def postgres_store(postgres_template: str) -> Iterator[sessionmaker[Session]]:
    """A fresh migrated PostgreSQL database (like conftest's `database_url`, PostgreSQL only)."""
    name = f"crmbot_test_{uuid.uuid4().hex[:10]}"
    with _postgres_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"')
    engine = make_engine(make_url(POSTGRES_URL).set(database=name).render_as_string(False))
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()
        with _postgres_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
def test_two_dispatchers_claiming_at_once_share_the_rows_without_overlap(
    postgres_store: sessionmaker[Session],
) -> None:
    with postgres_store() as session:
        for number in range(10):
            identity = new_identity(session, f"+8869120000{number:02d}")
            queue(session, identity, f"row-{number}")
        session.commit()

    barrier = threading.Barrier(2, timeout=20)

    def dispatcher(worker: str) -> list[int]:
        with postgres_store() as session, session.begin():
            session.execute(text("SELECT 1"))  # the transaction is open
            barrier.wait()  # both are inside a transaction now
            claimed = claim_due(session, worker=worker, now=NOW, limit=5)
            barrier.wait()  # both hold their row locks before either commits
        return [c.outbox_id for c in claimed]

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(dispatcher, worker) for worker in ("w1", "w2")]
        first, second = (future.result(timeout=60) for future in futures)

    assert len(first) == 5
    assert len(second) == 5
    assert set(first).isdisjoint(second)
    with postgres_store() as session:
        rows = session.scalars(select(OutboxMessage)).all()
        assert {r.id for r in rows} == set(first) | set(second)
        assert {r.status for r in rows} == {OutboxStatus.SENDING}
        owner = {r.id: r.claimed_by for r in rows}
        assert {owner[i] for i in first} == {"w1"}
        assert {owner[i] for i in second} == {"w2"}


def test_a_dispatcher_whose_claim_was_taken_over_cannot_renew_it(session: Session) -> None:
    identity = new_identity(session)
    queue(session, identity, "slow")
    session.commit()
    claim_due(session, worker="slow-one", now=NOW, limit=1)
    assert touch(session, row(session, "slow").id, worker="slow-one", now=NOW + MINUTE)
    release_stale(session, now=NOW + 10 * MINUTE, lease=5 * MINUTE)
    taken = claim_due(session, worker="other", now=NOW + 10 * MINUTE, limit=1)
    assert [c.body for c in taken] == ["hello"] and taken[0].interrupted
    assert not touch(session, taken[0].outbox_id, worker="slow-one", now=NOW + 11 * MINUTE)
    assert touch(session, taken[0].outbox_id, worker="other", now=NOW + 11 * MINUTE)


def late_outcomes(outbox_id: int) -> list[Callable[[Session], object]]:
    """Every outcome a dispatcher whose lease ran out might still try to record."""
    late, now = "slow-one", NOW + 12 * MINUTE
    return [
        lambda s: mark_sent(s, outbox_id, worker=late, provider_id="SM-slow", now=now),
        lambda s: mark_retry(
            s, outbox_id, worker=late, error="429", now=now, retry_at=now, max_attempts=8
        ),
        lambda s: hold(s, outbox_id, worker=late, until=now, reason="quiet hours", now=now),
        lambda s: mark_failed(s, outbox_id, worker=late, error="21610", now=now),
        lambda s: mark_cancelled(s, outbox_id, worker=late, reason="opted out", now=now),
    ]


def test_a_dispatcher_whose_lease_ran_out_records_nothing_over_the_one_that_took_over(
    session: Session,
) -> None:
    identity, conversation = talk(session)
    queue(session, identity, "slow", conversation=conversation)
    session.commit()
    claim_due(session, worker="slow-one", now=NOW, limit=1)
    release_stale(session, now=NOW + 10 * MINUTE, lease=5 * MINUTE)
    [taken] = claim_due(session, worker="other", now=NOW + 10 * MINUTE, limit=1)
    session.commit()

    for outcome in late_outcomes(taken.outbox_id):  # while the other one sends it
        with pytest.raises(ClaimLost):
            outcome(session)
        session.rollback()
    reloaded(session)
    assert (row(session, "slow").status, row(session, "slow").claimed_by) == (
        OutboxStatus.SENDING,
        "other",
    )

    mark_sent(session, taken.outbox_id, worker="other", provider_id="SM-other", now=NOW)
    session.commit()
    for outcome in late_outcomes(taken.outbox_id):  # after it sent it
        with pytest.raises(ClaimLost):
            outcome(session)
        session.rollback()
    reloaded(session)
    sent = row(session, "slow")
    assert (sent.status, sent.provider_message_id, sent.attempts, sent.last_error) == (
        OutboxStatus.SENT,
        "SM-other",
        1,
        None,
    )
    transcript = session.scalars(select(Message).where(Message.id == sent.message_id)).one()
    assert (transcript.delivery_status, transcript.channel_message_id) == (
        DeliveryStatus.SENT,
        "SM-other",
    )


def test_a_row_interrupted_mid_send_is_checked_with_the_provider_until_it_is_sent(
    session: Session,
) -> None:
    """Neither a retry (the provider's log could not be read) nor quiet hours forget that
    the message may have gone out already."""
    identity = new_identity(session)
    queue(session, identity, "m")
    session.commit()
    claim_due(session, worker="died", now=NOW, limit=1)
    release_stale(session, now=NOW + 10 * MINUTE, lease=5 * MINUTE)
    later = NOW + 10 * MINUTE
    [first] = claim_due(session, worker="w", now=later, limit=1)
    assert first.interrupted
    mark_retry(
        session,
        first.outbox_id,
        worker="w",
        error="Twilio log not readable",
        now=later,
        retry_at=later,
        max_attempts=8,
    )
    assert "Twilio log not readable" in (row(session, "m").last_error or "")
    [second] = claim_due(session, worker="w", now=later, limit=1)
    assert second.interrupted
    hold(session, second.outbox_id, worker="w", until=later, reason="quiet hours", now=later)
    [third] = claim_due(session, worker="w", now=later, limit=1)
    assert third.interrupted
    mark_sent(session, third.outbox_id, worker="w", provider_id="SM1", now=later)
    reloaded(session)
    assert row(session, "m").last_error is None


def test_a_key_queued_by_a_concurrent_transaction_meanwhile_is_not_queued_again(
    session_factory: sessionmaker[Session],
) -> None:
    """Two gateways queue the same holding reply at once: the second to commit finds the
    key taken when it inserts (after its own look found nothing), and queues nothing."""
    with session_factory() as setup, setup.begin():
        identity_id, conversation_id = (item.id for item in talk(setup))

    def the_other_gateway_queues_it() -> None:
        with session_factory() as other, other.begin():
            queue(other, other.get_one(ChannelIdentity, identity_id), "holding:7")

    with session_factory() as session, session.begin():
        identity = session.get_one(ChannelIdentity, identity_id)
        conversation = session.get_one(Conversation, conversation_id)
        before = count(session, Message)
        engine = session.get_bind()

        looked: list[str] = []

        def after_the_look(_conn: object, _cursor: object, statement: str, *_: object) -> None:
            if not looked and "idempotency_key" in statement and statement.startswith("SELECT"):
                looked.append(statement)
                the_other_gateway_queues_it()

        event.listen(engine, "after_cursor_execute", after_the_look)
        try:
            queued = queue(session, identity, "holding:7", conversation=conversation)
        finally:
            event.remove(engine, "after_cursor_execute", after_the_look)
        assert looked
        assert queued == Queued(new=False)
    with session_factory() as session:
        assert count(session, OutboxMessage) == 1
        assert count(session, Message) == before  # ours went with the rolled-back savepoint
