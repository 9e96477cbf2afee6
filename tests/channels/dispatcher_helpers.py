"""A slow SMS sender, a clock that moves on, and the rows the dispatcher tests queue and read."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from channels.dispatch import Dispatcher
from channels.metrics import Metrics
from channels.senders import Outgoing
from crm_store import outbox
from crm_store.models import (
    Author,
    Channel,
    Language,
    MessagePurpose,
    OutboxMessage,
    OutboxStatus,
)
from crm_store.opt_out_notice import OPT_OUT_NOTICE
from tests.factories import make_customer, utc

NOON_IN_TAIPEI = utc(2026, 5, 6, 4, 0)  # outside quiet hours


def running_clock() -> datetime:
    """Noon in Taipei, moving on with real time (leases need time to pass)."""
    return NOON_IN_TAIPEI + timedelta(seconds=time.monotonic() - STARTED)


STARTED = time.monotonic()


class SlowSender:
    """An SMS sender that takes `seconds` a message, one at a time, like a number whose
    rate limit is far below the batch's size."""

    channel = Channel.SMS

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds
        self.sent: list[tuple[str, str]] = []
        self._turn = asyncio.Lock()

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def send(self, message: Outgoing) -> str | None:
        async with self._turn:
            await asyncio.sleep(self.seconds)
            self.sent.append((message.address, message.text))
            return f"SM{len(self.sent)}"

    async def find_sent(self, message: Outgoing, *, since: datetime) -> str | None:
        return None  # like Telegram: cannot tell, so a released row would go out again


def queue_for(session: Session, count: int, purpose: MessagePurpose) -> None:
    for number in range(count):
        customer = make_customer(session, name=f"C{number}", phone=f"+8869120000{number:02d}")
        outbox.enqueue(
            session,
            key=f"{purpose}:{number}",
            identity=customer.identities[0],
            purpose=purpose,
            parts=[f"{purpose} {number}"],
            author=Author.SYSTEM,
            now=NOON_IN_TAIPEI,
        )


def first_marketing(text: str) -> str:
    """`text` as a customer's first marketing message goes out: with the refusal notice."""
    return f"{text}\n{OPT_OUT_NOTICE[Language.ZH_TW]}"


def statuses(factory: sessionmaker[Session]) -> dict[str, OutboxStatus]:
    with factory() as session:
        rows = session.execute(select(OutboxMessage.idempotency_key, OutboxMessage.status))
        return {key: status for key, status in rows}


def dispatcher(
    factory: sessionmaker[Session],
    sender: SlowSender,
    *,
    worker: str,
    purposes: frozenset[MessagePurpose] | None = None,
    lease: timedelta = timedelta(minutes=5),
) -> Dispatcher:
    return Dispatcher(
        factory,
        {Channel.SMS: sender},
        worker=worker,
        metrics=Metrics(),
        purposes=purposes,
        clock=running_clock,
        lease=lease,
    )
