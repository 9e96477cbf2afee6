"""The outbound senders against the fake Telegram and Twilio: limits and error mapping."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from channels.senders import (
    Outgoing,
    PermanentFailure,
    TelegramSender,
    TemporaryFailure,
    TwilioSender,
)
from tests.fakes import TELEGRAM_BOT_TOKEN, FakeTelegram, FakeTwilio


def telegram_sender(fake: FakeTelegram, per_second: float = 30) -> TelegramSender:
    return TelegramSender(
        token=TELEGRAM_BOT_TOKEN, base_url=fake.base_url, messages_per_second=per_second
    )


def twilio_sender(fake: FakeTwilio, segments_per_second: float = 10) -> TwilioSender:
    return TwilioSender(
        account_sid=fake.account_sid,
        auth_token=fake.auth_token,
        from_number="+15005550006",
        base_url=fake.base_url,
        status_callback=None,
        segments_per_second=segments_per_second,
    )


async def send_all(sender: TelegramSender | TwilioSender, messages: list[Outgoing]) -> None:
    await sender.start()
    try:
        await asyncio.gather(*(sender.send(message) for message in messages))
    finally:
        await sender.close()


def test_one_telegram_chat_gets_a_short_burst_then_about_one_message_a_second(
    fake_telegram: FakeTelegram,
) -> None:
    sender = telegram_sender(fake_telegram)
    asyncio.run(send_all(sender, [Outgoing("42", f"part {n}") for n in range(5)]))
    times = sorted(sent["at"] for sent in fake_telegram.sent_to(42))
    assert len(times) == 5
    assert times[2] - times[0] < 0.5  # a burst of three goes at once
    assert times[4] - times[0] >= 1.5  # then about one a second


def test_telegram_overall_limit_spreads_messages_to_many_chats(
    fake_telegram: FakeTelegram,
) -> None:
    sender = telegram_sender(fake_telegram, per_second=10)
    started = time.monotonic()
    asyncio.run(send_all(sender, [Outgoing(str(chat), "hi") for chat in range(100, 130)]))
    assert len(fake_telegram.sent) == 30
    assert time.monotonic() - started >= 1.5  # 30 messages at 10 a second


def test_telegram_ids_are_unique_across_chats(fake_telegram: FakeTelegram) -> None:
    """Telegram numbers messages within each chat, so two chats both get a message 1;
    the id we keep (unique in the transcript) names the chat too."""
    sender = telegram_sender(fake_telegram)

    async def to_two_chats() -> list[str | None]:
        await sender.start()
        try:
            return [await sender.send(Outgoing(chat, "hi")) for chat in ("111", "222", "111")]
        finally:
            await sender.close()

    assert asyncio.run(to_two_chats()) == ["111:1", "222:1", "111:2"]


def test_twilio_limit_counts_segments_not_messages(fake_twilio: FakeTwilio) -> None:
    sender = twilio_sender(fake_twilio, segments_per_second=4)
    long_chinese = "您的退款已經完成。" * 30  # 270 characters: 5 UCS-2 segments
    started = time.monotonic()
    asyncio.run(
        send_all(sender, [Outgoing("+886912000001", long_chinese), Outgoing("+886912000002", "ok")])
    )
    assert len(fake_twilio.sent) == 2
    assert time.monotonic() - started >= 0.4  # 6 segments at 4 a second


def test_telegram_errors_map_to_retry_or_give_up(fake_telegram: FakeTelegram) -> None:
    async def attempt() -> list[Exception]:
        sender = telegram_sender(fake_telegram)
        await sender.start()
        errors: list[Exception] = []
        try:
            fake_telegram.fail_next("sendMessage", status=429, retry_after=7)
            fake_telegram.fail_next("sendMessage", status=502)
            fake_telegram.block(77)
            for chat in ("76", "76", "77"):
                try:
                    await sender.send(Outgoing(chat, "hello"))
                except (TemporaryFailure, PermanentFailure) as error:
                    errors.append(error)
        finally:
            await sender.close()
        return errors

    flood, bad_gateway, blocked = asyncio.run(attempt())
    assert isinstance(flood, TemporaryFailure) and flood.retry_after == 7
    assert isinstance(bad_gateway, TemporaryFailure) and bad_gateway.retry_after is None
    assert isinstance(blocked, PermanentFailure) and blocked.unreachable


@pytest.mark.parametrize(
    ("status", "code", "temporary", "unreachable"),
    [
        (429, 20429, True, False),
        (500, 20500, True, False),
        (400, 21610, False, True),
        (400, 21211, False, True),
        (400, 21602, False, False),
    ],
)
def test_twilio_errors_map_to_retry_or_give_up(
    fake_twilio: FakeTwilio, status: int, code: int, temporary: bool, unreachable: bool
) -> None:
    fake_twilio.fail_next(status=status, code=code)
    with pytest.raises((TemporaryFailure, PermanentFailure)) as raised:
        asyncio.run(send_all(twilio_sender(fake_twilio), [Outgoing("+886912000003", "hi")]))
    assert isinstance(raised.value, TemporaryFailure) is temporary
    if not temporary:
        assert isinstance(raised.value, PermanentFailure)
        assert raised.value.unreachable is unreachable
        assert str(code) in raised.value.reason


def test_a_twilio_log_that_cannot_be_read_is_a_temporary_failure(fake_twilio: FakeTwilio) -> None:
    """twilio answers a failed page with a plain TwilioException, not TwilioRestException:
    it must not abort the dispatcher's batch, and the message must not be sent again now."""
    sender = twilio_sender(fake_twilio)
    fake_twilio.fail_next_lookup(status=503)

    async def look() -> str | None:
        try:
            since = datetime.now(UTC) - timedelta(minutes=5)
            return await sender.find_sent(Outgoing("+886912000004", "hi"), since=since)
        finally:
            await sender.close()

    with pytest.raises(TemporaryFailure, match="log not readable"):
        asyncio.run(look())
    assert [call["status"] for call in fake_twilio.calls] == [503]
