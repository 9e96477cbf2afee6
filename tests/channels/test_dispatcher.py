"""The dispatcher on its own, against the store: which rows it takes, how it keeps them
while a slow batch goes out, and the share of the providers' limits it sends at."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

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
    Message,
    MessagePurpose,
    OutboxMessage,
    OutboxStatus,
)
from crm_store.settings import Settings
from scheduler.service import OUTREACH
from tests.channels.dispatcher_helpers import (
    NOON_IN_TAIPEI,
    SlowSender,
    dispatcher,
    first_marketing,
    queue_for,
    running_clock,
    statuses,
)
from tests.factories import make_customer
from tests.fakes import TELEGRAM_BOT_TOKEN, FakeTelegram, FakeTwilio


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
    assert sorted(text for _, text in scheduler_sender.sent) == [
        first_marketing("marketing 0"),
        first_marketing("marketing 1"),
    ]


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
    assert Counter(text for _, text in slow.sent) == Counter(
        first_marketing(f"marketing {n}") for n in range(6)
    )
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
    # It had checked the row first, which gave this first marketing message its notice.
    sent_body = first_marketing(died.body)
    with session_scope(session_factory) as session:
        session.get_one(OutboxMessage, died.outbox_id).body = sent_body
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
            original = await sms.send(Outgoing(phone, sent_body))  # what the dead one got out
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
