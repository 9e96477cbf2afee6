"""Telegram in: updates (from the webhook or long polling) turned into store changes.

Text messages (and captions) become `Inbound` messages. A user sharing their own
phone contact links the chat to the customer the shop knows by that number. A user
blocking the bot (a `my_chat_member` update to "kicked") makes the chat unreachable.
Other updates are acknowledged and ignored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session
from telegram.error import TelegramError

from channels.inbound import Inbound, MalformedPayload
from crm_store.conversations import known_identity
from crm_store.customers import merge_customer
from crm_store.models import Channel, ChannelIdentity, Language
from crm_store.phones import InvalidPhoneNumber, normalize_phone

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "my_chat_member"]


@dataclass(frozen=True, slots=True)
class ChatBlocked:
    chat_id: str
    blocked: bool


@dataclass(frozen=True, slots=True)
class PhoneShared:
    inbound: Inbound
    phone: str


TelegramEvent = Inbound | PhoneShared | ChatBlocked | None


def language_of(code: str | None) -> Language | None:
    """The language a Telegram user's app is set to, when it is one we speak."""
    if not code:
        return None
    code = code.lower()
    if code.startswith("zh"):
        return Language.ZH_TW
    if code.startswith("en"):
        return Language.EN
    return None


# The parts of an update we read, checked strictly: a webhook body of the wrong shape
# is refused whole rather than half read. Telegram's ids fit in 64 bits.
TelegramId = Annotated[int, Field(strict=True, ge=-(2**63), lt=2**63)]
Text = Annotated[str, Field(strict=True)]


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Chat(_Part):
    id: TelegramId
    type: Text


class _User(_Part):
    id: TelegramId
    first_name: Text
    last_name: Text | None = None
    language_code: Text | None = None

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name


class _Contact(_Part):
    phone_number: Text
    user_id: TelegramId | None = None


class _Message(_Part):
    chat: _Chat
    sender: _User | None = Field(default=None, alias="from")
    text: Text | None = None
    caption: Text | None = None
    contact: _Contact | None = None


class _Member(_Part):
    status: Text


class _MemberChange(_Part):
    chat: _Chat
    new_chat_member: _Member


class _Update(_Part):
    update_id: TelegramId
    message: _Message | None = None
    my_chat_member: _MemberChange | None = None


def parse_update(data: Any, *, default_region: str) -> TelegramEvent:
    """What an update means for us; None for kinds we do not handle.

    Raises:
        MalformedPayload: when `data` is not a Telegram update.
    """
    try:
        update = _Update.model_validate(data)
    except ValidationError as error:
        raise MalformedPayload(f"not a Telegram update: {_first_problem(error)}") from error
    member = update.my_chat_member
    if member is not None and member.chat.type == "private":
        status = member.new_chat_member.status
        return ChatBlocked(chat_id=str(member.chat.id), blocked=status in ("kicked", "left"))
    message = update.message
    if message is None or message.chat.type != "private":
        return None
    sender = message.sender
    contact = message.contact
    text = message.text or message.caption
    if contact is not None:
        # No words in it: the customer wrote none, so their language comes from their app.
        text = text or f"📞 {contact.phone_number}"
    elif text is None:
        return None
    inbound = Inbound(
        channel=Channel.TELEGRAM,
        address=str(message.chat.id),
        text=text,
        channel_message_id=str(update.update_id),
        display_name=sender.full_name if sender is not None else None,
        language_hint=language_of(sender.language_code if sender else None),
    )
    own_contact = contact is not None and sender is not None and contact.user_id == sender.id
    if contact is not None and own_contact:
        try:
            phone = normalize_phone(contact.phone_number, region=default_region)
        except InvalidPhoneNumber:
            return inbound
        return PhoneShared(inbound=inbound, phone=phone)
    return inbound


def _first_problem(error: ValidationError) -> str:
    """Where the update is wrong, without echoing what it held."""
    problem = error.errors(include_url=False, include_input=False)[0]
    return f"{'.'.join(map(str, problem['loc'])) or 'the update'}: {problem['msg']}"


def link_phone(session: Session, identity: ChannelIdentity, phone: str) -> bool:
    """Join the chat to the customer known by `phone`; True when one was found.

    When the shop does not know the number yet it is kept on the chat's customer as
    an SMS identity (no marketing consent: sharing a number is not agreeing to offers).
    """
    known = known_identity(session, channel=Channel.SMS, address=phone)
    if known is None:
        session.add(
            ChannelIdentity(customer_id=identity.customer_id, channel=Channel.SMS, address=phone)
        )
        session.flush()
        return False
    if known.customer_id != identity.customer_id:
        source, into = identity.customer, known.customer
        merge_customer(session, source=source, into=into, actor=f"telegram:{identity.address}")
    return True


def mark_blocked(session: Session, event: ChatBlocked, *, now: datetime) -> None:
    identity = known_identity(session, channel=Channel.TELEGRAM, address=event.chat_id)
    if identity is None:
        return
    identity.reachable = not event.blocked
    identity.unreachable_reason = "blocked the bot" if event.blocked else None
    identity.last_seen_at = now


async def poll_updates(
    bot: Any, accept: Callable[[dict[str, Any]], Awaitable[object]], *, long_poll: int = 25
) -> None:
    """Long polling, for a shop without a public address. Runs until cancelled.

    Updates are confirmed to Telegram (by the next offset) only after they are
    stored, so a crash never loses one; a redelivered one is dropped as a duplicate.
    """
    await bot.delete_webhook()
    offset: int | None = None
    failures = 0
    while True:
        try:
            updates = await bot.get_updates(
                offset=offset, timeout=long_poll, allowed_updates=ALLOWED_UPDATES
            )
            failures = 0
        except TelegramError as error:
            failures += 1
            delay = min(60, 2**failures)
            log.warning("Telegram polling failed (%s); again in %d s", error, delay)
            await asyncio.sleep(delay)
            continue
        for update in updates:
            await accept(update.to_dict())
            offset = update.update_id + 1
