"""The fake Telegram Bot API speaks well enough for python-telegram-bot itself.

Integration tests and the benchmark trust the fake, so every behaviour they rely on is
checked here through PTB, not through raw HTTP.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import threading
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import httpx
import pytest
import telegram
from telegram import ReplyKeyboardMarkup, Update
from telegram.error import (
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.warnings import PTBDeprecationWarning

from tests.fakes import (
    TELEGRAM_BOT_TOKEN,
    FakeTelegram,
    telegram_blocked_update,
    telegram_contact_update,
    telegram_text_update,
)

T = TypeVar("T")

CHAT = 700_100_200
OTHER_CHAT = 700_100_300


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=TELEGRAM_BOT_TOKEN) as fake:
        yield fake


def with_bot(
    tg: FakeTelegram, use: Callable[[telegram.Bot], Awaitable[T]], token: str = TELEGRAM_BOT_TOKEN
) -> T:
    """Run `use` with an initialized real PTB bot pointed at the fake."""

    async def run() -> T:
        async with telegram.Bot(token, base_url=tg.base_url) as bot:
            return await use(bot)

    return asyncio.run(run())


# --------------------------------------------------------------------------------------------
# Telegram through python-telegram-bot


def test_bot_initializes_with_get_me(tg: FakeTelegram) -> None:
    async def me(bot: telegram.Bot) -> telegram.User:
        return bot.bot

    user = with_bot(tg, me)

    assert (user.id, user.is_bot, user.username) == (123, True, "crmbot_test_bot")
    assert [call["method"] for call in tg.calls] == ["getMe"]


def test_send_message_records_exact_text_and_keyboard(tg: FakeTelegram) -> None:
    text = "您好 Mei！請選擇 / choose: <b>&</b> 😀\n第二行"
    keyboard = ReplyKeyboardMarkup([["查詢訂單", "真人客服"]], one_time_keyboard=True)

    async def send(bot: telegram.Bot) -> telegram.Message:
        return await bot.send_message(CHAT, text, reply_markup=keyboard)

    message = with_bot(tg, send)

    assert isinstance(message, telegram.Message)
    assert (message.chat.id, message.text, message.message_id) == (CHAT, text, 1)
    assert message.from_user is not None and message.from_user.is_bot
    [sent] = tg.sent_to(CHAT)
    assert sent["text"] == text
    assert sent["reply_markup"] == {
        "keyboard": [[{"text": "查詢訂單"}, {"text": "真人客服"}]],
        "one_time_keyboard": True,
    }
    # PTB posts form data; non-string values (chat_id, reply_markup) are JSON inside it.
    assert tg.calls_to("sendMessage")[0]["content_type"] == "application/x-www-form-urlencoded"


def test_message_ids_increase_under_concurrent_sends(tg: FakeTelegram) -> None:
    async def burst(bot: telegram.Bot) -> list[int]:
        sends = [bot.send_message(CHAT, f"#{n}") for n in range(20)]
        return [message.message_id for message in await asyncio.gather(*sends)]

    ids = with_bot(tg, burst)

    assert sorted(ids) == list(range(1, 21))
    assert len(tg.wait_for_sent(CHAT, count=20, timeout=1)) == 20


def test_flood_limit_raises_retry_after_once(
    tg: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PTB's default int `retry_after` (channels.senders opts the process into timedelta)."""
    monkeypatch.delenv("PTB_TIMEDELTA", raising=False)
    tg.fail_next("sendMessage", retry_after=2)

    async def send_twice(bot: telegram.Bot) -> tuple[RetryAfter, telegram.Message]:
        # PTB 22 reads `retry_after` (deprecated int form) while building the exception.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PTBDeprecationWarning)
            with pytest.raises(RetryAfter) as raised:
                await bot.send_message(CHAT, "first")
        return raised.value, await bot.send_message(CHAT, "second")

    error, message = with_bot(tg, send_twice)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        assert error.retry_after == 2
    assert message.text == "second"
    assert [sent["text"] for sent in tg.sent] == ["second"]
    assert [call["status"] for call in tg.calls_to("sendMessage")] == [429, 200]


def test_retry_after_as_timedelta_when_ptb_opts_in(
    tg: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With PTB_TIMEDELTA set, a 429 raises without any deprecation warning."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    tg.fail_next(retry_after=7)

    async def send(bot: telegram.Bot) -> RetryAfter:
        with pytest.raises(RetryAfter) as raised:
            await bot.send_message(CHAT, "hi")
        return raised.value

    assert with_bot(tg, send).retry_after == dtm.timedelta(seconds=7)


def test_failure_can_target_one_chat(tg: FakeTelegram) -> None:
    tg.fail_next(status=500, chat_id=OTHER_CHAT)

    async def send(bot: telegram.Bot) -> None:
        await bot.send_message(CHAT, "fine")
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await bot.send_message(OTHER_CHAT, "fails")
        await bot.send_message(OTHER_CHAT, "fine again")

    with_bot(tg, send)

    assert [(s["chat_id"], s["text"]) for s in tg.sent] == [
        (CHAT, "fine"),
        (OTHER_CHAT, "fine again"),
    ]


def test_bad_gateway_is_a_network_error(tg: FakeTelegram) -> None:
    async def send(bot: telegram.Bot) -> None:
        tg.fail_next(method=None, status=502, times=2)  # after initialize's getMe
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_chat_action(CHAT, "typing")
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(CHAT, "hi")
        await bot.send_message(CHAT, "hi")

    with_bot(tg, send)

    assert len(tg.sent) == 1
    assert [call["status"] for call in tg.calls] == [200, 502, 502, 200]


def test_blocked_chat_is_forbidden_until_unblocked(tg: FakeTelegram) -> None:
    tg.block(CHAT)

    async def send(bot: telegram.Bot) -> None:
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(CHAT, "hello?")
        with pytest.raises(Forbidden):
            await bot.send_chat_action(CHAT, "typing")
        await bot.send_message(OTHER_CHAT, "others still reachable")
        tg.unblock(CHAT)
        await bot.send_message(CHAT, "welcome back")

    with_bot(tg, send)

    assert [s["text"] for s in tg.sent_to(CHAT)] == ["welcome back"]
    assert len(tg.sent_to(OTHER_CHAT)) == 1


def test_long_text_and_empty_text_are_rejected_like_telegram(tg: FakeTelegram) -> None:
    async def send(bot: telegram.Bot) -> None:
        with pytest.raises(telegram.error.BadRequest, match=r"(?i)message is too long"):
            await bot.send_message(CHAT, "字" * 4097)
        with pytest.raises(telegram.error.BadRequest, match=r"(?i)message text is empty"):
            await bot.send_message(CHAT, "  ")
        await bot.send_message(CHAT, "字" * 4096)

    with_bot(tg, send)

    assert [len(s["text"]) for s in tg.sent] == [4096]


def test_wrong_or_malformed_token_is_invalid(tg: FakeTelegram) -> None:
    async def initialize(bot: telegram.Bot) -> None:
        raise AssertionError("initialize should have failed")

    for token in ("999:WRONG", "not-a-token"):
        with pytest.raises(InvalidToken):
            with_bot(tg, initialize, token=token)

    assert [call["status"] for call in tg.calls] == [401, 404]


def test_unknown_method_is_not_found(tg: FakeTelegram) -> None:
    async def call(bot: telegram.Bot) -> object:
        return await bot.do_api_request("sendTelepathy", api_kwargs={"chat_id": CHAT})

    with pytest.raises(EndPointNotFound):
        with_bot(tg, call)

    assert tg.calls[-1]["status"] == 404


def test_get_updates_parses_helpers_and_honours_offset(tg: FakeTelegram) -> None:
    tg.queue_update(telegram_text_update(11, CHAT, "我的包裹還沒到"))
    tg.queue_update(telegram_contact_update(12, CHAT, "886912345678"))
    tg.queue_update(telegram_blocked_update(13, CHAT))

    async def poll(bot: telegram.Bot) -> tuple[tuple[Update, ...], tuple[Update, ...]]:
        first = await bot.get_updates()
        rest = await bot.get_updates(offset=first[0].update_id + 1)
        return first, rest

    first, rest = with_bot(tg, poll)

    assert [update.update_id for update in first] == [11, 12, 13]
    assert first[0].message is not None and first[0].message.text == "我的包裹還沒到"
    assert [update.update_id for update in rest] == [12, 13]
    assert [update["update_id"] for update in tg.pending_updates] == [12, 13]


def test_long_poll_waits_for_a_queued_update(tg: FakeTelegram) -> None:
    later = threading.Timer(0.2, tg.queue_update, [telegram_text_update(1, CHAT, "hi")])

    async def poll(bot: telegram.Bot) -> tuple[Update, ...]:
        later.start()
        return await bot.get_updates(timeout=30)

    started = time.monotonic()
    updates = with_bot(tg, poll)
    later.join()

    assert [update.update_id for update in updates] == [1]
    assert time.monotonic() - started < 5


def test_empty_long_poll_returns_after_about_a_second(tg: FakeTelegram) -> None:
    async def poll(bot: telegram.Bot) -> tuple[float, tuple[Update, ...]]:
        started = time.monotonic()
        updates = await bot.get_updates(timeout=30)
        return time.monotonic() - started, updates

    waited, updates = with_bot(tg, poll)

    assert updates == ()
    assert 0.8 < waited < 3


def test_webhook_state_and_conflict_with_polling(tg: FakeTelegram) -> None:
    async def flow(bot: telegram.Bot) -> str:
        await bot.set_webhook("https://gateway.example/telegram", secret_token="s3cr3t")
        info = await bot.get_webhook_info()
        with pytest.raises(Conflict):
            await bot.get_updates()
        await bot.delete_webhook()
        assert await bot.get_updates() == ()
        return info.url

    assert with_bot(tg, flow) == "https://gateway.example/telegram"
    assert tg.webhook["url"] == ""
    assert tg.calls_to("setWebhook")[0]["params"]["secret_token"] == "s3cr3t"


def test_json_and_multipart_bodies_are_decoded(tg: FakeTelegram) -> None:
    url = f"{tg.base_url}{TELEGRAM_BOT_TOKEN}/sendMessage"
    markup = '{"remove_keyboard": true}'
    as_json = httpx.post(url, json={"chat_id": str(CHAT), "text": "123"})
    as_multipart = httpx.post(
        url,
        data={"chat_id": str(CHAT), "text": "true", "reply_markup": markup},
        files={"unused": ("a.txt", b"data")},
    )

    assert (as_json.status_code, as_multipart.status_code) == (200, 200)
    assert [(s["chat_id"], s["text"], s["reply_markup"]) for s in tg.sent] == [
        (CHAT, "123", None),
        (CHAT, "true", {"remove_keyboard": True}),
    ]
    assert tg.calls[1]["content_type"] == "multipart/form-data"


def test_wait_for_sent_reports_what_was_sent(tg: FakeTelegram) -> None:
    async def send(bot: telegram.Bot) -> None:
        await bot.send_message(OTHER_CHAT, "to someone else")

    with_bot(tg, send)

    with pytest.raises(AssertionError, match="to someone else"):
        tg.wait_for_sent(CHAT, timeout=0.1)
