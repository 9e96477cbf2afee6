"""The sending limits: one shared in Redis by every process, replies first; per process without it.

Several limiters on one Redis stand for several gateways and schedulers; the fake
providers record when each message arrived, and that is what the limits are judged by.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
import uuid
from collections.abc import Sequence
from multiprocessing.synchronize import Barrier

import pytest

from channels.rate_limits import SharedLimits
from channels.senders import (
    Outgoing,
    Sender,
    TelegramSender,
    TemporaryFailure,
    TwilioSender,
    build_senders,
)
from crm_store.models import Channel
from crm_store.settings import Settings
from tests.fakes import (
    TELEGRAM_BOT_TOKEN,
    TWILIO_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN,
    FakeTelegram,
    FakeTwilio,
)
from tests.processes import free_port

REDIS_URL = "redis://127.0.0.1:6379/0"
SHOP_NUMBER = "+15005550006"


@pytest.fixture
def prefix() -> str:
    """Keys of this test's own, so tests running side by side do not share a limit."""
    return f"test-{uuid.uuid4().hex}"


def busiest_second(times: Sequence[float], *, window: float = 1.0) -> int:
    """The most arrivals in any `window` seconds."""
    ordered = sorted(times)
    first, most = 0, 0
    for last, at in enumerate(ordered):
        while at - ordered[first] >= window:
            first += 1
        most = max(most, last - first + 1)
    return most


def telegram_sender(fake: FakeTelegram, prefix: str, *, per_second: float) -> TelegramSender:
    """One process's Telegram sender, drawing on the limit shared in Redis."""
    return TelegramSender(
        token=TELEGRAM_BOT_TOKEN,
        base_url=fake.base_url,
        messages_per_second=per_second,
        shared=SharedLimits(REDIS_URL, prefix=prefix),
    )


def twilio_sender(base_url: str, prefix: str, *, per_second: float) -> TwilioSender:
    """One process's Twilio sender, drawing on the limit shared in Redis."""
    return TwilioSender(
        account_sid=TWILIO_ACCOUNT_SID,
        auth_token=TWILIO_AUTH_TOKEN,
        from_number=SHOP_NUMBER,
        base_url=base_url,
        status_callback=None,
        segments_per_second=per_second,
        shared=SharedLimits(REDIS_URL, prefix=prefix),
    )


async def send_from_each(senders: Sequence[Sender], batches: Sequence[list[Outgoing]]) -> None:
    """Each sender (a process) sends its batch, all at the same time."""
    for sender in senders:
        await sender.start()
    try:
        await asyncio.gather(
            *(
                sender.send(message)
                for sender, batch in zip(senders, batches, strict=True)
                for message in batch
            )
        )
    finally:
        for sender in senders:
            await sender.close()


def chats(first: int, count: int, *, urgent: bool = False) -> list[Outgoing]:
    return [Outgoing(str(chat), "hi", urgent=urgent) for chat in range(first, first + count)]


def test_three_processes_together_never_exceed_the_telegram_limit_in_any_second(
    fake_telegram: FakeTelegram, prefix: str
) -> None:
    senders = [telegram_sender(fake_telegram, prefix, per_second=20) for _ in range(3)]
    batches = [chats(1000, 15), chats(2000, 15, urgent=True), chats(3000, 15)]
    asyncio.run(send_from_each(senders, batches))
    arrivals = [sent["at"] for sent in fake_telegram.sent]
    assert len(arrivals) == 45
    assert busiest_second(arrivals) <= 20


def _send_sms_from_a_process(
    base_url: str, prefix: str, first_number: int, urgent: bool, start: Barrier
) -> None:
    """One process's sender: 15 one-segment SMS once every process is ready."""
    sender = twilio_sender(base_url, prefix, per_second=10)
    numbers = range(first_number, first_number + 15)
    messages = [Outgoing(f"+8869120{number:05d}", "ok", urgent=urgent) for number in numbers]

    async def send_all() -> None:
        await sender.start()
        try:
            start.wait(timeout=60)
            await asyncio.gather(*(sender.send(message) for message in messages))
        finally:
            await sender.close()

    asyncio.run(send_all())


def test_two_os_processes_together_never_exceed_the_twilio_limit_in_any_second(
    prefix: str,
) -> None:
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Barrier(2)
    # The fake refuses (429) what would make more than 10 in the last second.
    with FakeTwilio(messages_per_second=10) as fake:
        processes = [
            spawn.Process(
                target=_send_sms_from_a_process,
                args=(fake.base_url, prefix, first, urgent, start),
            )
            for first, urgent in ((0, False), (100, True))
        ]
        try:
            for process in processes:
                process.start()
            for process in processes:
                process.join(timeout=120)
        finally:
            for process in processes:
                process.kill()
        assert [process.exitcode for process in processes] == [0, 0]
        arrivals = [sent["at"] for sent in fake.sent]
        assert fake.rate_limited == 0
    assert len(arrivals) == 30
    assert 9 <= busiest_second(arrivals) <= 10


def test_a_reply_goes_before_a_campaign_that_fills_the_limit(
    fake_telegram: FakeTelegram, prefix: str
) -> None:
    schedulers = [telegram_sender(fake_telegram, prefix, per_second=20) for _ in range(3)]
    gateway = telegram_sender(fake_telegram, prefix, per_second=20)
    replies = chats(9000, 10, urgent=True)
    asked: dict[str, float] = {}

    async def campaign_then_replies() -> None:
        for sender in [*schedulers, gateway]:
            await sender.start()
        try:
            campaign = asyncio.gather(
                *(
                    scheduler.send(message)
                    for scheduler, first in zip(schedulers, (1000, 2000, 3000), strict=True)
                    for message in chats(first, 25)
                )
            )
            await asyncio.sleep(1.5)  # the campaign has filled the limit by now
            asked.update((message.address, time.monotonic()) for message in replies)
            await asyncio.gather(*(gateway.send(message) for message in replies))
            await campaign
        finally:
            for sender in [*schedulers, gateway]:
                await sender.close()

    asyncio.run(campaign_then_replies())
    waits = [
        sent["at"] - asked[str(sent["chat_id"])]
        for sent in fake_telegram.sent
        if str(sent["chat_id"]) in asked
    ]
    campaign = [sent["at"] for sent in fake_telegram.sent if str(sent["chat_id"]) not in asked]
    assert len(waits) == 10 and len(campaign) == 75
    # Ten slots free in about half a second; taking turns with three busy schedulers,
    # the replies would wait two seconds and more.
    assert max(waits) < 1.0, sorted(waits)
    assert busiest_second([sent["at"] for sent in fake_telegram.sent]) <= 20


def settings_for(fake: FakeTelegram, **values: object) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        telegram_bot_token=TELEGRAM_BOT_TOKEN,
        telegram_api_base_url=fake.base_url,
        telegram_messages_per_second=10,
        **values,
    )


def test_campaigns_get_the_whole_shared_limit_when_no_reply_waits(
    fake_telegram: FakeTelegram, prefix: str
) -> None:
    """Two schedulers at CAMPAIGN_RATE_SHARE 0.8 would send 16 a second on their own."""
    settings = settings_for(fake_telegram, redis_url=REDIS_URL, redis_key_prefix=prefix)
    schedulers = [
        build_senders(settings, rate_share=settings.campaign_rate_share)[Channel.TELEGRAM]
        for _ in range(2)
    ]
    asyncio.run(send_from_each(schedulers, [chats(1000, 15), chats(2000, 15)]))
    arrivals = sorted(sent["at"] for sent in fake_telegram.sent)
    assert len(arrivals) == 30
    assert 9 <= busiest_second(arrivals) <= 10
    assert arrivals[-1] - arrivals[0] < 29 / 10 * 1.25  # evenly at about the full rate


def test_without_redis_each_process_keeps_to_its_own_share(fake_telegram: FakeTelegram) -> None:
    settings = settings_for(fake_telegram)
    scheduler = build_senders(settings, rate_share=0.5)[Channel.TELEGRAM]
    asyncio.run(send_from_each([scheduler], [chats(1000, 10, urgent=True)]))
    arrivals = [sent["at"] for sent in fake_telegram.sent]
    assert len(arrivals) == 10
    assert busiest_second(arrivals) <= 5  # urgent or not: the share is all it has


def test_one_chat_gets_at_most_three_messages_in_three_seconds_from_all_processes(
    fake_telegram: FakeTelegram, prefix: str
) -> None:
    gateways = [telegram_sender(fake_telegram, prefix, per_second=30) for _ in range(2)]
    to_one_chat = [Outgoing("42", f"part {n}", urgent=True) for n in range(3)]
    asyncio.run(send_from_each(gateways, [to_one_chat, to_one_chat]))
    arrivals = [sent["at"] for sent in fake_telegram.sent_to(42)]
    assert len(arrivals) == 6
    assert busiest_second(arrivals, window=3.0) == 3  # a burst of three, then the window


def test_an_unreachable_limiter_makes_the_send_a_temporary_failure(
    fake_telegram: FakeTelegram,
) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    sender = TelegramSender(
        token=TELEGRAM_BOT_TOKEN,
        base_url=fake_telegram.base_url,
        messages_per_second=30,
        shared=SharedLimits(nowhere, prefix="unused"),
    )
    with pytest.raises(TemporaryFailure, match="rate limiter"):
        asyncio.run(send_from_each([sender], [chats(1000, 1, urgent=True)]))
    assert fake_telegram.sent == []
