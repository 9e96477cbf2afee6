"""What a dispatcher records of a claimed row: a retry that keeps order, sent, cancelled, failed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from crm_store.models import (
    Author,
    DeliveryStatus,
    Message,
    MessagePurpose,
    OutboxMessage,
    OutboxStatus,
)
from crm_store.outbox import claim_due, enqueue
from crm_store.outbox_results import (
    mark_cancelled,
    mark_failed,
    mark_retry,
    mark_sent,
    record_delivery_status,
)
from tests.crm_store.outbox_helpers import (
    MINUTE,
    NOW,
    count,
    new_identity,
    queue,
    reloaded,
    row,
    talk,
)

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
