"""The dispatcher on its own, against the store: which rows it takes, how it keeps them
while a slow batch goes out, and the share of the providers' limits it sends at."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from channels.dispatch import Dispatcher
from channels.gateway import REPLIES
from channels.metrics import Metrics
from channels.senders import Outgoing, TelegramSender, TwilioSender
from crm_store import outbox
from crm_store.conversations import open_conversation
from crm_store.db import session_scope
from crm_store.models import (
    Author,
    Channel,
    ChannelIdentity,
    Customer,
    Message,
    MessagePurpose,
    OutboxMessage,
    OutboxStatus,
)
from crm_store.settings import Settings
from scheduler.service import OUTREACH
from tests.factories import make_customer, utc
from tests.fakes import TELEGRAM_BOT_TOKEN, FakeTelegram, FakeTwilio

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


def test_the_gateway_and_the_scheduler_each_send_only_their_own_rows(
    session_factory: sessionmaker[Session],
) -> None:
    with session_scope(session_factory) as session:
        queue_for(session, 2, MessagePurpose.MARKETING)
        customer = make_customer(session, name="Writer", phone="+886912999999")
        outbox.enqueue(
            session,
            key="reply:1",
            identity=customer.identities[0],
            purpose=MessagePurpose.REPLY,
            parts=["您好"],
            author=Author.BOT,
            now=NOON_IN_TAIPEI,
        )
    gateway_sender, scheduler_sender = SlowSender(), SlowSender()

    gateway = dispatcher(session_factory, gateway_sender, worker="gateway", purposes=REPLIES)
    assert asyncio.run(gateway.dispatch_once()) == 1
    assert gateway_sender.sent == [("+886912999999", "您好")]
    assert statuses(session_factory) == {
        "reply:1": OutboxStatus.SENT,
        "marketing:0": OutboxStatus.PENDING,
        "marketing:1": OutboxStatus.PENDING,
    }

    scheduler = dispatcher(session_factory, scheduler_sender, worker="scheduler", purposes=OUTREACH)
    assert asyncio.run(scheduler.dispatch_once()) == 2
    assert sorted(text for _, text in scheduler_sender.sent) == ["marketing 0", "marketing 1"]


def test_a_batch_slower_than_the_lease_keeps_its_rows_and_each_goes_out_once(
    session_factory: sessionmaker[Session],
) -> None:
    """Six customers at 0.3 s a message take 1.8 s; the lease is 0.6 s. A second
    dispatcher looking for stopped ones all along must find none."""
    with session_scope(session_factory) as session:
        queue_for(session, 6, MessagePurpose.MARKETING)
    lease = timedelta(seconds=0.6)
    slow, other = SlowSender(seconds=0.3), SlowSender()
    busy = dispatcher(session_factory, slow, worker="busy", purposes=OUTREACH, lease=lease)
    watching = dispatcher(session_factory, other, worker="other", purposes=OUTREACH, lease=lease)

    def claimed_by_busy() -> int:
        with session_factory() as session:
            rows = session.scalars(
                select(OutboxMessage.id).where(OutboxMessage.claimed_by == "busy")
            )
            return len(rows.all())

    async def both() -> int:
        batch = asyncio.create_task(busy.dispatch_once())
        while claimed_by_busy() < 6:
            await asyncio.sleep(0.01)
        while not batch.done():
            await watching.dispatch_once()
            await asyncio.sleep(0.1)
        return await batch

    assert asyncio.run(both()) == 6
    assert other.sent == []
    assert Counter(text for _, text in slow.sent) == Counter(f"marketing {n}" for n in range(6))
    assert set(statuses(session_factory).values()) == {OutboxStatus.SENT}


def test_replies_in_two_telegram_chats_are_both_recorded_as_sent(
    session_factory: sessionmaker[Session], fake_telegram: FakeTelegram
) -> None:
    """Both chats' first bot message is Telegram's message 1."""
    with session_scope(session_factory) as session:
        for chat in ("111", "222"):
            customer = make_customer(session, name=chat, telegram_chat_id=chat)
            identity = customer.identities[0]
            outbox.enqueue(
                session,
                key=f"reply:{chat}",
                identity=identity,
                purpose=MessagePurpose.REPLY,
                parts=["您好"],
                author=Author.BOT,
                conversation=open_conversation(session, identity, now=NOON_IN_TAIPEI),
                now=NOON_IN_TAIPEI,
            )
    telegram = TelegramSender(
        token=TELEGRAM_BOT_TOKEN, base_url=fake_telegram.base_url, messages_per_second=30
    )
    replies = Dispatcher(
        session_factory,
        {Channel.TELEGRAM: telegram},
        worker="gateway",
        metrics=Metrics(),
        purposes=REPLIES,
        clock=running_clock,
    )

    async def send() -> int:
        await telegram.start()
        try:
            return await replies.dispatch_once()
        finally:
            await telegram.close()

    assert asyncio.run(send()) == 2
    assert set(statuses(session_factory).values()) == {OutboxStatus.SENT}
    with session_factory() as session:
        ids = session.scalars(select(Message.channel_message_id)).all()
    assert sorted(ids) == ["111:1", "222:1"]


def test_an_interrupted_sms_waits_while_twilio_cannot_tell_and_goes_out_once(
    session_factory: sessionmaker[Session], fake_twilio: FakeTwilio
) -> None:
    """A dispatcher died after Twilio took the message; the one after it cannot read
    Twilio's log at first. It tries again later, asks again, and does not send twice."""
    with session_scope(session_factory) as session:
        queue_for(session, 1, MessagePurpose.MARKETING)
        [died] = outbox.claim_due(session, worker="died", now=NOON_IN_TAIPEI, limit=1)
        phone = session.get_one(ChannelIdentity, died.identity_id).address
    sms = TwilioSender(
        account_sid=fake_twilio.account_sid,
        auth_token=fake_twilio.auth_token,
        from_number="+15005550006",
        base_url=fake_twilio.base_url,
        status_callback=None,
        segments_per_second=10,
    )
    now = [NOON_IN_TAIPEI + timedelta(minutes=10)]  # the dead one's lease has run out
    after = Dispatcher(
        session_factory, {Channel.SMS: sms}, worker="next", metrics=Metrics(), clock=lambda: now[0]
    )

    async def interrupted_then_resumed() -> list[int]:
        try:
            original = await sms.send(Outgoing(phone, died.body))  # what the dead one got out
            fake_twilio.fail_next_lookup(status=500)
            handled = [await after.dispatch_once()]
            now[0] += timedelta(minutes=15)
            handled.append(await after.dispatch_once())
            assert statuses(session_factory) == {"marketing:0": OutboxStatus.SENT}
            with session_factory() as session:
                assert (
                    session.get_one(OutboxMessage, died.outbox_id).provider_message_id == original
                )
            return handled
        finally:
            await sms.close()

    assert asyncio.run(interrupted_then_resumed()) == [1, 1]
    assert len(fake_twilio.sent_to(phone)) == 1


@pytest.mark.parametrize("share", [0.5, 0.8, 0.95])
def test_the_gateway_sends_replies_within_what_campaigns_leave(share: float) -> None:
    with_scheduler = Settings(_env_file=None, campaign_rate_share=share)  # type: ignore[call-arg]
    assert with_scheduler.gateway_rate_share + share == pytest.approx(1.0)
    alone = Settings(  # type: ignore[call-arg]
        _env_file=None, campaign_rate_share=share, gateway_sends_everything=True
    )
    assert alone.gateway_rate_share == 1.0


def test_a_campaign_share_that_leaves_nothing_for_replies_is_refused() -> None:
    with pytest.raises(ValidationError, match="campaign_rate_share"):
        Settings(_env_file=None, campaign_rate_share=1.0)  # type: ignore[call-arg]


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
        "offer 0",
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
