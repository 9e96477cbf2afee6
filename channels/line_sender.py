"""LINE out: replies while a reply token is fresh (free), pushes otherwise (counted).

A customer waiting for an answer (`Outgoing.urgent`) is answered with their newest reply
token when it is fresh and nobody has used it (`crm_store.line_usage.take_reply_token`:
one use, whichever process sends); when there is none, or LINE refuses it, the message
is pushed, with a retry key of its outbox row, so that LINE takes each row once however
often it is tried. Outreach is always pushed: a token spent on a campaign would leave
the customer's next answer to be pushed instead. Every push is counted against the month
in the store (`count_push`), so the count is the same for every gateway and the
scheduler, and survives restarts.

The bot's options go with the text as LINE quick replies: tapping one sends its title,
as a customer typing it would (and as Telegram's keyboard buttons do).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

import aiohttp
import urllib3
from linebot.v3.messaging import (
    ApiClient,
    AsyncApiClient,
    AsyncMessagingApi,
    Configuration,
    MessageAction,
    MessagingApi,
    PushMessageRequest,
    QuickReply,
    QuickReplyItem,
    ReplyMessageRequest,
    TextMessage,
)
from linebot.v3.messaging.exceptions import ApiException
from sqlalchemy.orm import Session, sessionmaker

from channels.senders import Outgoing, PermanentFailure, TemporaryFailure
from crm_store import line_usage
from crm_store.db import session_scope
from crm_store.models import Channel
from crm_store.settings import Settings

log = logging.getLogger(__name__)

# The namespace of the pushes' retry keys (`_retry_key`).
RETRY_KEYS = uuid.UUID("6f1c3f0e-8a52-4c1e-9a55-0c7d3e1b2a90")
# LINE's limits on quick replies: 13 buttons, a label of 20 characters.
QUICK_REPLIES = 13
LABEL_CHARS = 20


def configuration(settings: Settings) -> Configuration:
    token = settings.line_channel_access_token
    if token is None:
        raise ValueError("LINE_CHANNEL_ACCESS_TOKEN is not set")
    return Configuration(
        host=settings.line_api_base_url.rstrip("/"), access_token=token.get_secret_value()
    )


def text_message(message: Outgoing) -> TextMessage:
    """The text with the bot's options as quick replies (each sends its whole title)."""
    items = [
        QuickReplyItem(action=MessageAction(label=title[:LABEL_CHARS], text=title))
        for title in message.buttons[:QUICK_REPLIES]
    ]
    return TextMessage(text=message.text, quick_reply=QuickReply(items=items) if items else None)


class LineSender:
    channel = Channel.LINE

    def __init__(
        self,
        settings: Settings,
        *,
        factory: sessionmaker[Session],
        clock: Callable[[], datetime],
    ) -> None:
        self._configuration = configuration(settings)
        self._timezone = settings.default_timezone
        self._factory, self._clock = factory, clock
        self._client: AsyncApiClient | None = None

    @property
    def api(self) -> AsyncMessagingApi:
        if self._client is None:
            raise RuntimeError("the LINE sender is not started")
        return AsyncMessagingApi(self._client)

    async def start(self) -> None:
        # Made here, in the running loop: the SDK's aiohttp session belongs to it.
        self._client = AsyncApiClient(self._configuration)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def send(self, message: Outgoing) -> str | None:
        sent = text_message(message)
        if message.urgent:
            token = await asyncio.to_thread(self._take_token, message.address)
            if token is not None:
                replied = await self._reply(token, sent)
                if replied is not None:
                    return replied
        retry_key = _retry_key(message)
        try:
            pushed = await self.api.push_message(
                PushMessageRequest(to=message.address, messages=[sent]),
                x_line_retry_key=retry_key,
            )
        except ApiException as error:
            if error.status != 409 or retry_key is None:
                raise _failure(error) from error
            # LINE took this very push before and its answer was lost: it went out.
            log.info("LINE had this push already (retry key %s)", retry_key)
            await asyncio.to_thread(self._count_push)
            return None
        except (aiohttp.ClientError, TimeoutError) as error:
            raise TemporaryFailure(f"LINE unreachable: {error!r}") from error
        await asyncio.to_thread(self._count_push)
        return str(pushed.sent_messages[0].id)

    async def find_sent(self, message: Outgoing, *, since: datetime) -> str | None:
        return None  # LINE cannot list what was sent

    async def _reply(self, token: str, sent: TextMessage) -> str | None:
        """The sent message's id, or None when LINE refuses the token (expired: push)."""
        try:
            replied = await self.api.reply_message(
                ReplyMessageRequest(reply_token=token, messages=[sent])
            )
        except ApiException as error:
            if error.status == 400 and "reply token" in _message(error).lower():
                log.info("LINE refused a reply token (%s); pushing instead", _message(error))
                return None
            raise _failure(error) from error
        except (aiohttp.ClientError, TimeoutError) as error:
            # The reply may or may not have gone out; the token is spent either way.
            raise TemporaryFailure(f"LINE unreachable: {error!r}") from error
        return str(replied.sent_messages[0].id)

    def _take_token(self, user_id: str) -> str | None:
        with session_scope(self._factory) as session:
            return line_usage.take_reply_token(session, user_id=user_id, now=self._clock())

    def _count_push(self) -> None:
        with session_scope(self._factory) as session:
            line_usage.count_push(session, now=self._clock(), timezone=self._timezone)


def _retry_key(message: Outgoing) -> str | None:
    """The push's retry key: the same for every attempt at one outbox row, so that LINE
    sends a row once even when an answer was lost and the row is tried again."""
    if message.outbox_id is None:
        return None
    return str(uuid.uuid5(RETRY_KEYS, f"{message.outbox_id}:{message.text}"))


def _message(error: ApiException) -> str:
    """LINE's own words for an error (its JSON body's `message`)."""
    try:
        body = json.loads(error.body or "{}")
    except (ValueError, TypeError):
        return str(error.reason)
    return str(body.get("message", error.reason)) if isinstance(body, dict) else str(error.reason)


def _failure(error: ApiException) -> TemporaryFailure | PermanentFailure:
    status, reason = int(error.status or 0), f"LINE {error.status}: {_message(error)}"
    if status == 429 and "monthly limit" in reason.lower():
        return PermanentFailure(reason)  # the plan's messages are used up until next month
    if status == 429 or status >= 500:
        retry_after = (error.headers or {}).get("Retry-After")
        return TemporaryFailure(reason, retry_after=float(retry_after) if retry_after else None)
    # Anything else is the same answer next time; 403, or a 400 about the recipient
    # ('to'), means this user cannot be written to.
    return PermanentFailure(reason, unreachable=status == 403 or "'to'" in reason)


def with_lines_figures(meter: line_usage.LineMeter, settings: Settings) -> line_usage.LineMeter:
    """`meter` (the store's count) with what LINE itself reports, when it can be asked."""
    line_quota, line_used = read_quota(settings)
    return replace(meter, line_quota=line_quota, line_used=line_used)


def read_quota(settings: Settings) -> tuple[int | None, int | None]:
    """LINE's own figures for the month: (the plan's messages, those used); None for a
    figure LINE did not give (no credentials, no limit, or no answer within 5 s).

    Synchronous, as the scheduler's planner and the command line ask it; the console asks
    it on a thread."""
    if settings.line_channel_access_token is None:
        return None, None
    try:
        with ApiClient(configuration(settings)) as client:
            api = MessagingApi(client)
            quota = api.get_message_quota(_request_timeout=5)
            used = api.get_message_quota_consumption(_request_timeout=5)
    except (ApiException, urllib3.exceptions.HTTPError, OSError) as error:
        log.warning("LINE's quota could not be read: %s", error)
        return None, None
    limit = quota.value if quota.type == "limited" else None
    return limit, int(used.total_usage)
