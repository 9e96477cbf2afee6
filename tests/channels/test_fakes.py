"""The fake Telegram and Twilio servers speak well enough for the real client libraries.

Integration tests and the benchmark trust these fakes, so every behaviour they rely on is
checked here through python-telegram-bot and twilio themselves, not through raw HTTP.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import re
import threading
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import httpx
import pytest
import telegram
from telegram import ChatMember, ReplyKeyboardMarkup, Update
from telegram.error import (
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.warnings import PTBDeprecationWarning
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from tests.fakes import (
    TELEGRAM_BOT_TOKEN,
    FakeTelegram,
    FakeTwilio,
    sms_segments,
    telegram_blocked_update,
    telegram_contact_update,
    telegram_text_update,
    twilio_signature,
    twilio_sms_form,
    twilio_status_form,
)

T = TypeVar("T")

CHAT = 700_100_200
OTHER_CHAT = 700_100_300
CUSTOMER = "+886912345678"
SENDER = "+15005550006"
SERVICE = "MG" + "ab" * 16
# aiohttp 3.14 deprecates BasicAuth and `auth=`, which twilio's async client still uses.
AIOHTTP_AUTH_DEPRECATIONS = (
    "ignore:BasicAuth is deprecated:DeprecationWarning",
    "ignore:The 'auth' parameter is deprecated:DeprecationWarning",
)


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(token=TELEGRAM_BOT_TOKEN) as fake:
        yield fake


@pytest.fixture
def tw() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@contextmanager
def sync_twilio(tw: FakeTwilio, auth_token: str) -> Iterator[Client]:
    """The real sync client, redirected from api.twilio.com to the fake."""
    client = Client(tw.account_sid, auth_token)
    client.api.base_url = tw.base_url
    try:
        yield client
    finally:
        # Otherwise the pooled socket is an unclosed-socket ResourceWarning, an error here.
        client.http_client.session.close()


@pytest.fixture
def twilio_client(tw: FakeTwilio) -> Iterator[Client]:
    with sync_twilio(tw, tw.auth_token) as client:
        yield client


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


# --------------------------------------------------------------------------------------------
# Telegram payload helpers


def assert_ptb_knows_every_field(data: object, update: Update) -> None:
    """PTB parks fields it doesn't know in `api_kwargs`; a helper typo would end up there."""

    def contained(part: object, whole: object, where: str) -> None:
        if isinstance(part, dict):
            assert isinstance(whole, dict), where
            for key, value in part.items():
                assert key in whole, f"{where}.{key} lost by PTB"
                contained(value, whole[key], f"{where}.{key}")
        elif isinstance(part, list):
            assert isinstance(whole, list) and len(part) == len(whole), where
            for index, (mine, theirs) in enumerate(zip(part, whole, strict=True)):
                contained(mine, theirs, f"{where}[{index}]")
        else:
            assert part == whole, f"{where}: {part!r} != {whole!r}"

    assert "api_kwargs" not in repr(update)
    contained(data, update.to_dict(), "update")


def test_text_update_is_exactly_what_ptb_knows() -> None:
    data = telegram_text_update(5, CHAT, "/start ref_42", username="mei_tw", date=1_700_000_000)

    update = Update.de_json(data, None)

    message = update.message
    assert message is not None and message.from_user is not None
    assert update.effective_chat is not None and update.effective_chat.type == "private"
    assert (message.chat.id, message.from_user.id, message.text) == (CHAT, CHAT, "/start ref_42")
    assert message.from_user.language_code == "zh-hant"
    assert message.parse_entities(["bot_command"]) == {message.entities[0]: "/start"}
    assert message.date == dtm.datetime.fromtimestamp(1_700_000_000, tz=dtm.UTC)
    assert_ptb_knows_every_field(data, update)


def test_contact_update_is_the_users_own_contact() -> None:
    data = telegram_contact_update(6, CHAT, "886912345678", date=1_700_000_000)

    update = Update.de_json(data, None)

    assert update.message is not None and update.message.contact is not None
    assert update.message.contact.phone_number == "886912345678"
    assert update.message.contact.user_id == CHAT == update.message.chat.id
    assert_ptb_knows_every_field(data, update)


@pytest.mark.parametrize(("blocked", "status"), [(True, "kicked"), (False, "member")])
def test_blocked_update_is_a_my_chat_member_change(blocked: bool, status: str) -> None:
    data = telegram_blocked_update(7, CHAT, blocked=blocked, date=1_700_000_000)

    update = Update.de_json(data, None)

    member = update.my_chat_member
    assert member is not None and member.chat.id == CHAT
    assert member.new_chat_member.status == status
    assert member.new_chat_member.user.is_bot
    assert (member.new_chat_member.status == ChatMember.BANNED) is blocked
    assert_ptb_knows_every_field(data, update)


# --------------------------------------------------------------------------------------------
# Twilio through the twilio library


def test_create_message_is_recorded_and_returns_a_message(
    tw: FakeTwilio, twilio_client: Client
) -> None:
    callback = "https://gateway.example/twilio/status"
    message = twilio_client.messages.create(
        to=CUSTOMER, from_=SENDER, body="您的訂單已出貨", status_callback=callback
    )

    assert message.sid is not None and re.fullmatch(r"SM[0-9a-f]{32}", message.sid)
    assert (message.to, message.from_, message.body) == (CUSTOMER, SENDER, "您的訂單已出貨")
    assert (message.status, message.direction, message.num_segments) == (
        "queued",
        "outbound-api",
        "1",
    )
    assert isinstance(message.date_created, dtm.datetime)
    assert message.account_sid == tw.account_sid
    [sent] = tw.wait_for_sent(CUSTOMER, timeout=1)
    assert (sent["sid"], sent["body"], sent["status_callback"]) == (
        message.sid,
        "您的訂單已出貨",
        callback,
    )
    assert twilio_client.messages(message.sid).fetch().body == "您的訂單已出貨"


def test_messaging_service_sender(tw: FakeTwilio, twilio_client: Client) -> None:
    message = twilio_client.messages.create(to=CUSTOMER, messaging_service_sid=SERVICE, body="hi")

    assert message.messaging_service_sid == SERVICE
    assert tw.sent[0]["messaging_service_sid"] == SERVICE
    assert tw.sent[0]["from"] is None


def test_unsubscribed_recipient_raises_21610(tw: FakeTwilio, twilio_client: Client) -> None:
    tw.fail_next(status=400, code=21610)

    with pytest.raises(TwilioRestException) as raised:
        twilio_client.messages.create(to=CUSTOMER, from_=SENDER, body="promo")
    twilio_client.messages.create(to=CUSTOMER, from_=SENDER, body="second try")

    assert (raised.value.status, raised.value.code) == (400, 21610)
    assert "unsubscribed" in raised.value.msg
    assert [sent["body"] for sent in tw.sent] == ["second try"]
    assert [(call["to"], call["status"]) for call in tw.calls] == [(CUSTOMER, 400), (CUSTOMER, 201)]


def test_opted_out_number_keeps_failing(tw: FakeTwilio, twilio_client: Client) -> None:
    tw.opt_out(CUSTOMER)

    for _ in range(2):
        with pytest.raises(TwilioRestException) as raised:
            twilio_client.messages.create(to=CUSTOMER, from_=SENDER, body="hi")
        assert raised.value.code == 21610
    twilio_client.messages.create(to="+886922222222", from_=SENDER, body="hi")

    assert [sent["to"] for sent in tw.sent] == ["+886922222222"]


@pytest.mark.parametrize(
    ("to", "body", "code"),
    [
        ("0912345678", "hi", 21211),
        (CUSTOMER, "", 21602),
        (CUSTOMER, "x" * 1601, 21617),
    ],
)
def test_invalid_requests_fail_like_twilio(
    tw: FakeTwilio, twilio_client: Client, to: str, body: str, code: int
) -> None:
    with pytest.raises(TwilioRestException) as raised:
        twilio_client.messages.create(to=to, from_=SENDER, body=body)

    assert (raised.value.status, raised.value.code) == (400, code)
    assert tw.sent == []


def test_server_error_targets_one_recipient(tw: FakeTwilio, twilio_client: Client) -> None:
    tw.fail_next(status=500, code=20500, to=CUSTOMER)

    twilio_client.messages.create(to="+886922222222", from_=SENDER, body="unaffected")
    with pytest.raises(TwilioRestException) as raised:
        twilio_client.messages.create(to=CUSTOMER, from_=SENDER, body="fails")

    assert (raised.value.status, raised.value.code) == (500, 20500)


def test_wrong_token_is_401(tw: FakeTwilio) -> None:
    with sync_twilio(tw, "not-the-token") as client, pytest.raises(TwilioRestException) as raised:
        client.messages.create(to=CUSTOMER, from_=SENDER, body="hi")

    assert (raised.value.status, raised.value.code) == (401, 20003)
    assert tw.sent == []
    assert tw.calls[0]["status"] == 401


def test_rate_limit_carries_retry_after_header(tw: FakeTwilio) -> None:
    tw.fail_next(status=429, code=20429, retry_after=3)

    response = httpx.post(
        tw.messages_url,
        auth=(tw.account_sid, tw.auth_token),
        data={"To": CUSTOMER, "From": SENDER, "Body": "hi"},
    )

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    assert response.json()["code"] == 20429


@pytest.mark.filterwarnings(*AIOHTTP_AUTH_DEPRECATIONS)
def test_async_create_with_aiohttp_client(tw: FakeTwilio) -> None:
    async def send() -> tuple[str | None, int | None]:
        async with AsyncTwilioHttpClient() as http:
            client = Client(tw.account_sid, tw.auth_token, http_client=http)
            client.api.base_url = tw.base_url
            message = await client.messages.create_async(to=CUSTOMER, from_=SENDER, body="async")
            tw.fail_next(status=400, code=21610)
            with pytest.raises(TwilioRestException) as raised:
                await client.messages.create_async(to=CUSTOMER, from_=SENDER, body="no")
            return message.sid, raised.value.code

    sid, code = asyncio.run(send())

    assert [sent["sid"] for sent in tw.sent_to(CUSTOMER)] == [sid]
    assert code == 21610


def test_wait_for_sent_names_the_other_recipients(tw: FakeTwilio, twilio_client: Client) -> None:
    twilio_client.messages.create(to="+886922222222", from_=SENDER, body="elsewhere")

    with pytest.raises(AssertionError, match="elsewhere"):
        tw.wait_for_sent(CUSTOMER, timeout=0.1)


@pytest.mark.parametrize(
    ("body", "segments"),
    [("a" * 160, 1), ("a" * 161, 2), ("{" * 80, 1), ("{" * 81, 2), ("字" * 70, 1), ("字" * 71, 2)],
)
def test_segments_follow_gsm7_and_ucs2_limits(body: str, segments: int) -> None:
    assert sms_segments(body) == segments


# --------------------------------------------------------------------------------------------
# Twilio payload helpers


def test_incoming_sms_form_is_signed_like_twilio() -> None:
    url = "https://gateway.example/twilio/sms?tenant=1"
    token = "fa4e" * 8
    sid = "SM" + "1" * 32
    form = twilio_sms_form(sid, CUSTOMER, SENDER, "退款 A1234567", account_sid="AC" + "2" * 32)

    signature = twilio_signature(url, form, token)

    validator = RequestValidator(token)
    assert validator.validate(url, form, signature)
    assert not validator.validate(url, {**form, "Body": "tampered"}, signature)
    assert not validator.validate(url, form, twilio_signature(url, form, "other-token"))
    assert (form["MessageSid"], form["SmsSid"], form["SmsMessageSid"]) == (sid, sid, sid)
    assert (form["FromCountry"], form["ToCountry"], form["SmsStatus"]) == ("TW", "US", "received")
    assert form["NumMedia"] == "0" and form["ApiVersion"] == "2010-04-01"
    assert "MessagingServiceSid" not in form


def test_status_form_carries_error_code_only_when_given() -> None:
    common = {"to": CUSTOMER, "from_": SENDER, "account_sid": "AC" + "2" * 32}

    delivered = twilio_status_form("SM" + "3" * 32, "delivered", **common)
    failed = twilio_status_form("SM" + "3" * 32, "undelivered", error_code=30003, **common)

    assert delivered["MessageStatus"] == delivered["SmsStatus"] == "delivered"
    assert "ErrorCode" not in delivered
    assert (failed["MessageStatus"], failed["ErrorCode"]) == ("undelivered", "30003")
