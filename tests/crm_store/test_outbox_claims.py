"""Claiming the outbox: the most urgent rows first, one customer's rows in order, none twice."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from crm_store.db import make_engine, make_session_factory
from crm_store.models import MessagePurpose, OutboxMessage, OutboxStatus
from crm_store.outbox import claim_due, next_due
from tests.conftest import POSTGRES_URL, _postgres_admin
from tests.crm_store.outbox_helpers import MINUTE, NOW, new_identity, queue, reloaded, row


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
