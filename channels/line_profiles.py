"""LINE users' names and languages, which LINE's webhook events leave out.

A chat the store knows only by its LINE user id would be "U4af4980…" to staff, so the
first event of such a user (a follow or a message) has the gateway ask LINE's profile
endpoint, in the background, once per user and process: the display name becomes the
chat's name, and the customer's where that was still the user id; the app's language
becomes the customer's while they have written nothing (a friend who has only added the
account gets the shop's messages in the language of their LINE). Asking costs no quota;
when LINE does not answer, the chat keeps its id and nobody waits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import aiohttp
from linebot.v3.messaging import AsyncMessagingApi
from linebot.v3.messaging.exceptions import ApiException
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from channels.inbound import NAME_CHARS, storable
from crm_store.conversations import known_identity
from crm_store.db import session_scope
from crm_store.models import (
    Channel,
    Conversation,
    Direction,
    Language,
    Message,
)

log = logging.getLogger(__name__)

ASK_TIMEOUT_SECONDS = 5


def language_of(tag: str | None) -> Language | None:
    """The shop's language for a BCP 47 tag from LINE ("zh-TW", "zh-Hant", "en-US")."""
    primary = (tag or "").split("-")[0].lower()
    return {"zh": Language.ZH_TW, "en": Language.EN}.get(primary)


class LineProfiles:
    def __init__(
        self, factory: sessionmaker[Session], api: Callable[[], AsyncMessagingApi]
    ) -> None:
        self._factory, self._api = factory, api
        self._asked: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def look_up(self, user_id: str) -> None:
        """Fill in `user_id`'s name and language in the background, if not done yet."""
        if user_id in self._asked:
            return
        self._asked.add(user_id)
        task = asyncio.get_running_loop().create_task(self._fill(user_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait(self) -> None:
        """Let the look-ups under way finish (at shutdown, and in tests)."""
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _fill(self, user_id: str) -> None:
        if not await asyncio.to_thread(self._unnamed, user_id):
            return
        try:
            profile = await self._api().get_profile(user_id, _request_timeout=ASK_TIMEOUT_SECONDS)
        except (ApiException, aiohttp.ClientError, TimeoutError) as error:
            log.warning("LINE's profile of %s could not be read: %r", user_id, error)
            status = getattr(error, "status", None)
            if status is None or status == 429 or status >= 500:
                self._asked.discard(user_id)  # for now: asked again at their next event
            return
        name = storable(profile.display_name).strip()[:NAME_CHARS]
        await asyncio.to_thread(self._write, user_id, name, language_of(profile.language))

    def _unnamed(self, user_id: str) -> bool:
        with self._factory() as session:
            identity = known_identity(session, channel=Channel.LINE, address=user_id)
            return identity is not None and identity.display_name is None

    def _write(self, user_id: str, name: str, language: Language | None) -> None:
        with session_scope(self._factory) as session:
            identity = known_identity(session, channel=Channel.LINE, address=user_id)
            if identity is None or identity.display_name is not None:
                return
            customer = identity.customer
            if name:
                identity.display_name = name
                if customer.name == user_id:
                    customer.name = name
            has_written = session.scalar(
                select(Message.id)
                .join(Conversation, Message.conversation_id == Conversation.id)
                .where(
                    Conversation.customer_id == customer.id,
                    Message.direction == Direction.INBOUND,
                )
                .limit(1)
            )
            if language is not None and has_written is None:
                customer.language = language
