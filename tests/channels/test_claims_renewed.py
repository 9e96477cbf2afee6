"""A busy dispatcher keeps its claims.

A scheduler claims hundreds of campaign rows and checks and records each in a worker
thread. Its claim renewal waited behind that work: on a busy machine it came after the
lease had run out, another dispatcher took the rows over and sent them a second time.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crm_store import outbox
from crm_store.models import MessagePurpose, OutboxMessage
from tests.channels.dispatcher_helpers import (
    NOON_IN_TAIPEI,
    SlowSender,
    dispatcher,
    queue_for,
)


def test_claims_are_renewed_while_the_store_work_queues(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        queue_for(session, 3, MessagePurpose.MARKETING)
        outbox.claim_due(session, worker="scheduler-a", now=NOON_IN_TAIPEI, limit=10)
    busy = dispatcher(
        session_factory, SlowSender(), worker="scheduler-a", lease=timedelta(seconds=0.6)
    )
    store_work_done = threading.Event()

    def claimed_at() -> set[object]:
        with session_factory() as session:
            return set(session.scalars(select(OutboxMessage.claimed_at)))

    async def while_the_store_work_queues() -> set[object]:
        # One thread for the store work, taken by a long transaction.
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(max_workers=1))
        taken = loop.run_in_executor(None, store_work_done.wait, 10)
        sending = asyncio.create_task(busy.run())
        try:
            await asyncio.sleep(1.0)  # the lease's third is 0.2 s
            return claimed_at()
        finally:
            store_work_done.set()
            await taken
            sending.cancel()
            await asyncio.gather(sending, return_exceptions=True)

    renewed = asyncio.run(while_the_store_work_queues())
    assert len(renewed) == 1
    assert renewed != {NOON_IN_TAIPEI}
