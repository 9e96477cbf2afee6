"""Leases on claimed rows: a stale one released, a lost one records nothing, a send interrupted."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from crm_store.db import make_engine, make_session_factory
from crm_store.models import DeliveryStatus, Message, OutboxStatus
from crm_store.outbox import claim_due, renew_claims
from crm_store.outbox_results import (
    ClaimLost,
    hold,
    mark_cancelled,
    mark_failed,
    mark_retry,
    mark_sent,
    release_stale,
    touch,
)
from tests.crm_store.outbox_helpers import MINUTE, NOW, new_identity, queue, reloaded, row, talk


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


@pytest.mark.postgres
def test_a_renewal_passes_over_a_row_whose_send_is_being_recorded(postgres_url: str) -> None:
    """The renewal waited for the row and the recording for the renewal's: a deadlock,
    and PostgreSQL rolled back a transaction of sends, which then went out again."""
    engine = make_engine(postgres_url)
    factory = make_session_factory(engine)
    try:
        with factory.begin() as session:
            identity = new_identity(session)
            for key in ("recording", "waiting"):
                queue(session, identity, key)
            claim_due(session, worker="w", now=NOW, limit=2)
        with factory() as recording, factory() as renewing:
            being_recorded = row(recording, "recording").id
            mark_sent(recording, being_recorded, worker="w", provider_id="SM1", now=NOW)
            renewing.execute(text("SET LOCAL lock_timeout = '2s'"))
            assert renew_claims(renewing, worker="w", now=NOW + MINUTE) == 1
            renewing.commit()
            recording.commit()
        with factory() as session:
            assert row(session, "recording").status is OutboxStatus.SENT
            waiting = row(session, "waiting")
            assert (waiting.status, waiting.claimed_at) == (OutboxStatus.SENDING, NOW + MINUTE)
    finally:
        engine.dispose()
