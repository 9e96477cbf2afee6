"""Outbound senders: one interface, one implementation per channel, and a log transport.

A sender delivers one outbox row and either returns the provider's message id or
raises `TemporaryFailure` (try again later, at `retry_after` when the provider said)
or `PermanentFailure` (never retry; `unreachable` when the identity itself cannot be
reached any more: blocked the bot, invalid number, opted out at the carrier).

Each sender keeps to its provider's limits (`channels.rate_limits`): Telegram's 30
messages a second overall and about one a second per chat (short bursts of three
allowed, as Telegram does), and Twilio's segments per second per sending number; per
process, or with `REDIS_URL` shared by every process, replies first.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Protocol

import requests
from sqlalchemy.orm import Session, sessionmaker
from telegram import Bot, KeyboardButton, ReplyKeyboardMarkup
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client as TwilioClient

from channels.rate_limits import (
    KeyedRateLimits,
    LocalPerKey,
    Pacer,
    RateLimit,
    RateLimiterUnavailable,
    SharedLimits,
)
from channels.sms_regions import regional_sms
from crm_store.models import Channel, MessagePurpose
from crm_store.settings import Settings
from crm_store.text_limits import count_segments

log = logging.getLogger(__name__)

# python-telegram-bot 22 warns on every flood-control error unless told that we take
# time periods as timedelta, the type its next major version uses.
os.environ.setdefault("PTB_TIMEDELTA", "true")


@dataclass(frozen=True, slots=True)
class Outgoing:
    address: str
    text: str
    buttons: list[str] = field(default_factory=list)
    # A customer is waiting for it (a reply): it goes before outreach.
    urgent: bool = False
    # The outbox row it is (a provider that takes our own id sends it once) and why.
    outbox_id: int | None = None
    purpose: MessagePurpose | None = None


class SendFailure(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TemporaryFailure(SendFailure):
    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class PermanentFailure(SendFailure):
    def __init__(self, reason: str, *, unreachable: bool = False) -> None:
        super().__init__(reason)
        self.unreachable = unreachable


class Sender(Protocol):
    channel: Channel

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def send(self, message: Outgoing) -> str | None: ...

    async def find_sent(self, message: Outgoing, *, since: datetime) -> str | None:
        """The provider's id of `message` if it was already sent after `since`; None when
        it was not, or the provider cannot tell (then it is sent again)."""
        ...


class TelegramSender:
    channel = Channel.TELEGRAM

    def __init__(
        self,
        *,
        token: str,
        base_url: str,
        messages_per_second: float,
        shared: SharedLimits | None = None,
    ) -> None:
        """`shared`: limits every process draws on; None: this process's own."""
        self.bot = Bot(token, base_url=base_url)
        self._shared = shared
        if shared is None:
            self._overall: RateLimit = Pacer(messages_per_second)
            self._per_chat: KeyedRateLimits = LocalPerKey(3, 3)
        else:
            bot = f"telegram:{token.partition(':')[0]}"  # the limits are per bot
            self._overall = shared.limit(bot, messages_per_second)
            self._per_chat = shared.per_key(f"{bot}:chat", 1, window=3)

    async def start(self) -> None:
        try:
            await self.bot.initialize()
        except TelegramError as error:
            # The gateway still takes SMS and web chat; sends retry until Telegram answers.
            log.error("Telegram bot could not start (%s); sends will be retried", error)

    async def close(self) -> None:
        await self.bot.shutdown()
        if self._shared is not None:
            await self._shared.close()

    async def send(self, message: Outgoing) -> str | None:
        try:
            async with (
                self._per_chat[message.address].slot(urgent=message.urgent),
                self._overall.slot(urgent=message.urgent),
            ):
                return await self._deliver(message)
        except RateLimiterUnavailable as error:
            raise TemporaryFailure(str(error)) from error

    async def _deliver(self, message: Outgoing) -> str:
        markup = (
            ReplyKeyboardMarkup(
                [[KeyboardButton(title)] for title in message.buttons],
                one_time_keyboard=True,
                resize_keyboard=True,
            )
            if message.buttons
            else None
        )
        try:
            sent = await self.bot.send_message(
                chat_id=message.address, text=message.text, reply_markup=markup
            )
        except RetryAfter as error:
            raise TemporaryFailure(str(error), retry_after=_seconds(error)) from error
        except Forbidden as error:
            raise PermanentFailure(error.message, unreachable=True) from error
        except BadRequest as error:
            gone = "chat not found" in error.message.lower()
            raise PermanentFailure(error.message, unreachable=gone) from error
        except TelegramError as error:  # network trouble, 5xx, timeouts
            raise TemporaryFailure(error.message) from error
        # Telegram numbers messages within a chat; the chat makes the id unique.
        return f"{sent.chat_id}:{sent.message_id}"

    async def find_sent(self, message: Outgoing, *, since: datetime) -> str | None:
        return None  # the Bot API cannot list what a bot sent


def _seconds(error: RetryAfter) -> float:
    value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


# Twilio error codes that mean the number will not take our messages.
TWILIO_UNREACHABLE = {
    21211: "invalid phone number",
    21214: "number cannot be reached",
    21408: "region not enabled for this account",
    21610: "opted out at the carrier (STOP)",
    21612: "number cannot be reached from our number",
    21614: "not a mobile number",
}


class TwilioSender:
    channel = Channel.SMS

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str,
        base_url: str,
        status_callback: str | None,
        segments_per_second: float,
        shared: SharedLimits | None = None,
    ) -> None:
        """`shared`: limits every process draws on; None: this process's own."""
        self._from, self._status_callback = from_number, status_callback
        self._shared = shared
        self._segments: RateLimit = (
            Pacer(segments_per_second)
            if shared is None
            else shared.limit(f"twilio:{from_number}", segments_per_second)
        )
        # twilio's own requests-based client, run in worker threads: its aiohttp client
        # uses an API aiohttp has deprecated.
        self._http = TwilioHttpClient(timeout=30)
        # Its own threads: a request never waits behind database work for a free one,
        # which would bunch requests up and push a second over the provider's limit.
        self._threads = ThreadPoolExecutor(max_workers=16, thread_name_prefix="twilio")
        self._client = TwilioClient(account_sid, auth_token, http_client=self._http)
        self._client.api.base_url = base_url

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._threads.shutdown(wait=False)
        if self._http.session is not None:
            self._http.session.close()
        if self._shared is not None:
            await self._shared.close()

    async def send(self, message: Outgoing) -> str | None:
        try:
            async with self._segments.slot(
                count_segments(message.text).segments, urgent=message.urgent
            ):
                sent = await asyncio.get_running_loop().run_in_executor(
                    self._threads,
                    partial(
                        self._client.messages.create,
                        to=message.address,
                        from_=self._from,
                        body=message.text,
                        status_callback=self._status_callback,
                    ),
                )
        except TwilioRestException as error:
            if error.status == 429 or error.status >= 500:
                raise TemporaryFailure(f"Twilio {error.status}: {error.msg}") from error
            code = int(error.code or 0)
            reason = TWILIO_UNREACHABLE.get(code, str(error.msg))
            raise PermanentFailure(
                f"Twilio {code}: {reason}", unreachable=code in TWILIO_UNREACHABLE
            ) from error
        except requests.RequestException as error:
            raise TemporaryFailure(f"Twilio unreachable: {error!r}") from error
        except RateLimiterUnavailable as error:
            raise TemporaryFailure(str(error)) from error
        return str(sent.sid)

    async def find_sent(self, message: Outgoing, *, since: datetime) -> str | None:
        """Twilio keeps a log of sent messages: look for this one there."""
        try:
            found = await asyncio.get_running_loop().run_in_executor(
                self._threads,
                partial(
                    self._client.messages.list,
                    to=message.address,
                    from_=self._from,
                    date_sent_after=since,
                    limit=50,
                ),
            )
        except (TwilioException, requests.RequestException) as error:
            # An error answer, a page it cannot read or no answer: whether the message went
            # out is unknown, so ask again later rather than send it a second time now.
            raise TemporaryFailure(f"Twilio log not readable: {error}") from error
        earliest = since - timedelta(minutes=1)  # the provider's clock may differ a little
        for sent in found:
            created = sent.date_created
            if sent.body == message.text and (created is None or created >= earliest):
                return str(sent.sid)
        return None


class LogSender:
    """Writes messages to the log: the embedded default when a channel has no credentials."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    async def start(self) -> None:
        log.warning("no credentials for %s: outbound messages go to the log", self.channel)

    async def close(self) -> None:
        return None

    async def send(self, message: Outgoing) -> str | None:
        log.info("[%s → %s] %s", self.channel, message.address, message.text)
        return f"log-{uuid.uuid4().hex[:16]}"

    async def find_sent(self, message: Outgoing, *, since: datetime) -> str | None:
        return None


class WebChatSender:
    """The web chat page reads replies from the store; delivering is recording."""

    channel = Channel.WEBCHAT

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def send(self, message: Outgoing) -> str | None:
        return None

    async def find_sent(self, message: Outgoing, *, since: datetime) -> str | None:
        return None


def build_senders(
    settings: Settings,
    *,
    rate_share: float = 1.0,
    factory: sessionmaker[Session] | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[Channel, Sender]:
    """A sender per channel from the settings: the real one where credentials are set.

    `rate_share` is the part of each provider's limit this process may use when it keeps
    its own limits; with `REDIS_URL` every process draws on the whole of one shared limit.
    LINE's sender keeps reply tokens and counts pushes in the store: it needs `factory`.
    """
    if settings.redis_url is not None:
        rate_share = 1.0
    senders: dict[Channel, Sender] = {Channel.WEBCHAT: WebChatSender()}
    if settings.line_channel_access_token is None:
        senders[Channel.LINE] = LogSender(Channel.LINE)
    elif factory is None:
        raise ValueError("LINE's sender keeps its reply tokens in the store: give a factory")
    else:
        # Imported here: the LINE sender is built on this module's types.
        from channels.line_sender import LineSender

        senders[Channel.LINE] = LineSender(settings, factory=factory, clock=clock)
    if settings.telegram_bot_token is not None:
        senders[Channel.TELEGRAM] = TelegramSender(
            token=settings.telegram_bot_token.get_secret_value(),
            base_url=settings.telegram_api_base_url,
            messages_per_second=settings.telegram_messages_per_second * rate_share,
            shared=_shared_limits(settings),
        )
    else:
        senders[Channel.TELEGRAM] = LogSender(Channel.TELEGRAM)
    if (
        settings.twilio_account_sid
        and settings.twilio_auth_token is not None
        and settings.twilio_from_number
    ):
        senders[Channel.SMS] = TwilioSender(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token.get_secret_value(),
            from_number=settings.twilio_from_number,
            base_url=settings.twilio_api_base_url,
            status_callback=settings.public_base_url.rstrip("/") + "/sms/twilio/status",
            segments_per_second=settings.twilio_segments_per_second * rate_share,
            shared=_shared_limits(settings),
        )
    else:
        senders[Channel.SMS] = LogSender(Channel.SMS)
    senders[Channel.SMS] = regional_sms(settings, senders[Channel.SMS])
    return senders


def _shared_limits(settings: Settings) -> SharedLimits | None:
    """The limits in Redis, when set, with a connection of its own for each sender."""
    if settings.redis_url is None:
        return None
    return SharedLimits(settings.redis_url, prefix=settings.redis_key_prefix)
