"""The dispatcher running on its own: a reply does not wait behind another customer's
backlog, and rows an unexpected error interrupts go back at once."""

from __future__ import annotations

import asyncio
import contextlib
import time

from sqlalchemy.orm import Session, sessionmaker

from channels.senders import Outgoing
from crm_store import outbox
from crm_store.db import session_scope
from crm_store.models import Author, Customer, MessagePurpose, OutboxStatus
from tests.channels.dispatcher_helpers import (
    NOON_IN_TAIPEI,
    SlowSender,
    dispatcher,
    first_marketing,
    statuses,
)
from tests.factories import make_customer


class StuckSender(SlowSender):
    """Sends at once, except to `stuck`, whose messages wait until `release` is set:
    a customer whose backlog sits behind a provider's per-chat limit."""

    def __init__(self, stuck: str) -> None:
        super().__init__()
        self.stuck, self.release, self.waiting = stuck, asyncio.Event(), asyncio.Event()

    async def send(self, message: Outgoing) -> str | None:
        if message.address == self.stuck:
            self.waiting.set()
            await self.release.wait()
        self.sent.append((message.address, message.text))
        return f"SM{len(self.sent)}"


def test_a_reply_goes_out_while_another_customers_backlog_is_still_waiting(
    session_factory: sessionmaker[Session],
) -> None:
    """An agent's answer queued during a slow round is sent at once, not after it."""
    with session_scope(session_factory) as session:
        backlog = make_customer(session, name="Backlog", phone="+886912000001")
        waiting = make_customer(session, name="Waiting", phone="+886912000002")
        for number in range(3):
            outbox.enqueue(
                session,
                key=f"marketing:{number}",
                identity=backlog.identities[0],
                purpose=MessagePurpose.MARKETING,
                parts=[f"offer {number}"],
                author=Author.SYSTEM,
                now=NOON_IN_TAIPEI,
            )
    sender = StuckSender(stuck="+886912000001")
    running = dispatcher(session_factory, sender, worker="gateway")

    async def reply_during_backlog() -> list[tuple[str, str]]:
        serving = asyncio.create_task(running.run())
        try:
            await asyncio.wait_for(sender.waiting.wait(), timeout=10)
            with session_scope(session_factory) as session:
                outbox.enqueue(
                    session,
                    key="agent:1",
                    identity=session.get_one(Customer, waiting.id).identities[0],
                    purpose=MessagePurpose.REPLY,
                    parts=["您好，我是客服小美"],
                    author=Author.AGENT,
                    now=NOON_IN_TAIPEI,
                )
            running.wake()
            deadline = time.monotonic() + 10
            while not sender.sent and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            answered = list(sender.sent)
            sender.release.set()
            while len(sender.sent) < 4 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            return answered
        finally:
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serving
            await running.drain()

    assert asyncio.run(reply_during_backlog()) == [("+886912000002", "您好，我是客服小美")]
    # The backlog went out afterwards, in its order, each row once.
    assert [text for address, text in sender.sent if address == "+886912000001"] == [
        first_marketing("offer 0"),
        "offer 1",
        "offer 2",
    ]
    assert set(statuses(session_factory).values()) == {OutboxStatus.SENT}


class BrokenOnceSender(SlowSender):
    """Fails its first send with an error the dispatcher has no rule for (a bug, say)."""

    def __init__(self) -> None:
        super().__init__()
        self.broken = True

    async def send(self, message: Outgoing) -> str | None:
        if self.broken:
            self.broken = False
            raise RuntimeError("unexpected")
        return await super().send(message)


def test_rows_an_unexpected_error_interrupts_go_back_at_once_not_after_the_lease(
    session_factory: sessionmaker[Session],
) -> None:
    """Left claimed until the lease ran out (minutes), the row would also hold back that
    customer's next message all that time."""
    with session_scope(session_factory) as session:
        customer = make_customer(session, name="Lin", phone="+886912000003")
        for number in range(2):
            outbox.enqueue(
                session,
                key=f"reply:{number}",
                identity=customer.identities[0],
                purpose=MessagePurpose.REPLY,
                parts=[f"answer {number}"],
                author=Author.BOT,
                now=NOON_IN_TAIPEI,
            )
    sender = BrokenOnceSender()
    running = dispatcher(session_factory, sender, worker="gateway")

    async def serve_until_sent() -> None:
        serving = asyncio.create_task(running.run())
        try:
            deadline = time.monotonic() + 10
            while len(sender.sent) < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
        finally:
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serving
            await running.drain()

    asyncio.run(serve_until_sent())
    assert [text for _, text in sender.sent] == ["answer 0", "answer 1"]
    assert set(statuses(session_factory).values()) == {OutboxStatus.SENT}
