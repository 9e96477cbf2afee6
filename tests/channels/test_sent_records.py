"""Sends are recorded at once, many to a transaction, whatever else queues for the store.

A row the provider accepted and the store has not marked sent goes out again when its
dispatcher is killed. In the scale-out test a scheduler's sends waited to be recorded
behind the vetting of its 500-row batch in the shared thread pool: seconds of sends
were unrecorded when it was killed, and dozens of customers got the campaign twice.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from channels.sent_records import SentRecorder
from crm_store import outbox
from crm_store.models import ChannelIdentity, MessagePurpose, OutboxMessage, OutboxStatus
from crm_store.outbox_results import ClaimLost
from tests.channels.dispatcher_helpers import (
    NOON_IN_TAIPEI,
    SlowSender,
    dispatcher,
    queue_for,
    running_clock,
)


def claim(factory: sessionmaker[Session], worker: str, limit: int) -> list[outbox.Claimed]:
    with factory.begin() as session:
        return outbox.claim_due(session, worker=worker, now=NOON_IN_TAIPEI, limit=limit)


def by_status(factory: sessionmaker[Session]) -> dict[int, tuple[OutboxStatus, str | None]]:
    with factory() as session:
        rows = session.execute(
            select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.provider_message_id)
        )
        return {outbox_id: (status, provider_id) for outbox_id, status, provider_id in rows}


def test_a_send_is_recorded_while_the_shared_threads_are_taken(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        queue_for(session, 1, MessagePurpose.REPLY)
    rows = claim(session_factory, "gateway-a", 10)
    with session_factory() as session:
        identity = session.get_one(ChannelIdentity, rows[0].identity_id)
        session.expunge(identity)
    sender = SlowSender()
    replies = dispatcher(session_factory, sender, worker="gateway-a")
    store_work_done = threading.Event()

    async def while_the_store_work_queues() -> dict[int, tuple[OutboxStatus, str | None]]:
        # The shared pool's one thread is taken, as by a big batch's vetting.
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(max_workers=1))
        taken = loop.run_in_executor(None, store_work_done.wait, 10)
        replies.send_taken(identity, rows)
        try:
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                recorded = by_status(session_factory)
                if all(status is OutboxStatus.SENT for status, _ in recorded.values()):
                    break
                await asyncio.sleep(0.05)
            return by_status(session_factory)
        finally:
            store_work_done.set()
            await taken
            await replies.drain()

    recorded = asyncio.run(while_the_store_work_queues())
    assert sender.sent, "the reply was not sent"
    assert recorded == {rows[0].outbox_id: (OutboxStatus.SENT, "SM1")}


def test_sends_that_end_together_are_recorded_in_one_transaction(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        queue_for(session, 20, MessagePurpose.MARKETING)
    rows = claim(session_factory, "scheduler-a", 20)
    recorder = SentRecorder(session_factory, worker="scheduler-a", clock=running_clock)
    commits = []
    event.listen(engine, "commit", lambda connection: commits.append(connection))

    async def all_at_once() -> None:
        await asyncio.gather(*(recorder.record(row.outbox_id, f"M{row.outbox_id}") for row in rows))
        recorder.close()

    asyncio.run(all_at_once())
    assert by_status(session_factory) == {
        row.outbox_id: (OutboxStatus.SENT, f"M{row.outbox_id}") for row in rows
    }
    assert len(commits) == 1


def test_a_row_taken_over_is_refused_and_the_others_recorded(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        queue_for(session, 3, MessagePurpose.MARKETING)
    mine = claim(session_factory, "scheduler-a", 2)
    theirs = claim(session_factory, "scheduler-b", 1)
    recorder = SentRecorder(session_factory, worker="scheduler-a", clock=running_clock)

    async def record_all() -> list[BaseException | None]:
        return await asyncio.gather(
            *(recorder.record(row.outbox_id, "M") for row in [*mine, *theirs]),
            return_exceptions=True,
        )

    outcomes = asyncio.run(record_all())
    assert outcomes[:2] == [None, None]
    assert isinstance(outcomes[2], ClaimLost)
    recorded = by_status(session_factory)
    assert [recorded[row.outbox_id] for row in mine] == [(OutboxStatus.SENT, "M")] * 2
    assert recorded[theirs[0].outbox_id] == (OutboxStatus.SENDING, None)


def test_a_store_failure_reaches_every_sender_waiting_on_that_transaction(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with session_factory.begin() as session:
        queue_for(session, 2, MessagePurpose.MARKETING)
    rows = claim(session_factory, "scheduler-a", 2)
    recorder = SentRecorder(session_factory, worker="scheduler-a", clock=running_clock)

    def store_down(*args: object, **kwargs: object) -> None:
        raise ConnectionError("the database went away")

    monkeypatch.setattr("crm_store.outbox_results.mark_sent", store_down)

    async def record_all() -> list[BaseException | None]:
        return await asyncio.gather(
            *(recorder.record(row.outbox_id, "M") for row in rows), return_exceptions=True
        )

    outcomes = asyncio.run(record_all())
    assert [type(outcome) for outcome in outcomes] == [ConnectionError, ConnectionError]
    assert {status for status, _ in by_status(session_factory).values()} == {OutboxStatus.SENDING}
