"""LINE in: webhook bodies verified, then their events turned into store changes.

A body is LINE's only when its `X-Line-Signature` is the HMAC-SHA256 of the raw bytes
with the channel secret (checked by the SDK's `SignatureValidator`, in constant time).
Its events are read with the SDK's own models, strictly: an event of a kind we handle
that does not fit them refuses the whole body, while kinds we do not handle (stickers,
groups, beacons…) are acknowledged and ignored.

- A text message from a user becomes an `Inbound`, keyed by its `webhookEventId`, so a
  redelivered event already stored is dropped as a duplicate. Its reply token is kept in
  the store (`crm_store.line_usage`) for the answer, unless the event is a redelivery
  (`deliveryContext.isRedelivery`): LINE sends those late, with a token that is no good.
- `follow` / `unfollow` (the user adds or blocks the account) set whether the user can be
  reached and their consent to the shop's messages, as blocking does on Telegram.
- LINE shares no phone numbers, so a user proves who they are by writing the phone number
  and an order number the store holds together ("0912345678 A1234567"); the chat is then
  joined to that customer. A number alone proves nothing and joins nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import phonenumbers
from linebot.v3 import SignatureValidator
from linebot.v3.webhooks import FollowEvent, MessageEvent, UnfollowEvent
from pydantic.v1 import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from channels.inbound import Inbound, MalformedPayload, Stored
from channels.texts import LINE_CUSTOMER_LINKED
from crm_store import line_usage
from crm_store.conversations import identity_for
from crm_store.customers import merge_customer
from crm_store.models import Author, Channel, ChannelIdentity, Language, MessagePurpose
from crm_store.orders import ORDER_NUMBER_IN_TEXT, find_order
from crm_store.outbox import enqueue
from crm_store.phones import InvalidPhoneNumber, normalize_phone
from crm_store.settings import Settings


@dataclass(frozen=True, slots=True)
class LineMessage:
    inbound: Inbound
    reply_token: str | None
    # The phone and order numbers the message gives, when it gives both.
    proof: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class LineFollow:
    user_id: str
    following: bool


LineEvent = LineMessage | LineFollow


def signature_valid(settings: Settings, *, body: bytes, signature: str | None) -> bool:
    """Whether LINE signed `body`; never, without a channel secret or a signature."""
    secret = settings.line_channel_secret
    if secret is None or not signature:
        return False
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:  # LINE sends UTF-8 JSON; nothing else can be checked
        return False
    return bool(SignatureValidator(secret.get_secret_value()).validate(text, signature))


def parse_webhook(body: bytes, *, default_region: str) -> list[LineEvent]:
    """The events of a (verified) webhook body that mean something to us.

    Raises:
        MalformedPayload: when the body is not a LINE webhook.
    """
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise MalformedPayload(f"not JSON: {error}") from error
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise MalformedPayload("not a LINE webhook: no list of events")
    events = []
    for number, raw in enumerate(data["events"]):
        if not isinstance(raw, dict):
            raise MalformedPayload(f"event {number} is not an object")
        try:
            event = _event(raw, default_region=default_region)
        except (ValidationError, ValueError, TypeError) as error:
            raise MalformedPayload(f"event {number} ({raw.get('type')!r}): {error}") from error
        if event is not None:
            events.append(event)
    return events


def _event(raw: dict[str, Any], *, default_region: str) -> LineEvent | None:
    kind = raw.get("type")
    if kind not in ("message", "follow", "unfollow"):
        return None
    source = raw.get("source")
    if not isinstance(source, dict) or source.get("type") != "user":
        return None  # groups and rooms: the shop talks with customers one to one
    if kind == "follow":
        follow = FollowEvent.from_dict(raw)
        return LineFollow(user_id=_user(follow.source), following=True)
    if kind == "unfollow":
        return LineFollow(user_id=_user(UnfollowEvent.from_dict(raw).source), following=False)
    content = raw.get("message")
    if isinstance(content, dict) and content.get("type") != "text":
        return None  # stickers, photos, kinds LINE adds later: acknowledged, not read
    message = MessageEvent.from_dict(raw)
    text: str = message.message.text
    redelivered = bool(message.delivery_context.is_redelivery)
    return LineMessage(
        inbound=Inbound(
            channel=Channel.LINE,
            address=_user(message.source),
            text=text,
            channel_message_id=message.webhook_event_id,
        ),
        reply_token=None if redelivered else message.reply_token,
        proof=_proof(text, default_region=default_region),
    )


def _user(source: Any) -> str:
    user_id = getattr(source, "user_id", None)
    if not isinstance(user_id, str) or not user_id:
        raise ValueError("a user's event without the user's id")
    return user_id


def _proof(text: str, *, default_region: str) -> tuple[str, str] | None:
    """The phone number and order number `text` gives, when it gives both."""
    order = ORDER_NUMBER_IN_TEXT.search(text)
    if order is None:
        return None
    for match in phonenumbers.PhoneNumberMatcher(text, default_region):
        try:
            return normalize_phone(match.raw_string, default_region), order.group().upper()
        except InvalidPhoneNumber:
            continue
    return None


def mark_follow(session: Session, event: LineFollow, *, settings: Settings, now: datetime) -> None:
    """Adding the account is agreeing to its messages; blocking it takes both away."""
    identity = session.scalar(
        select(ChannelIdentity).where(
            ChannelIdentity.channel == Channel.LINE, ChannelIdentity.address == event.user_id
        )
    )
    if identity is None:
        if not event.following:
            return
        identity = identity_for(
            session,
            channel=Channel.LINE,
            address=event.user_id,
            language=Language.ZH_TW,
            timezone=settings.default_timezone,
            now=now,
        )
    identity.reachable = event.following
    identity.unreachable_reason = None if event.following else "blocked the LINE account"
    identity.marketing_consent = event.following
    identity.consent_changed_at = now
    identity.last_seen_at = now


def after_stored(session: Session, event: LineMessage, stored: Stored, *, now: datetime) -> bool:
    """Keep the message's reply token, and join the chat to the customer it proves to be;
    True when that answered the message (it goes no further)."""
    if event.reply_token is not None:
        line_usage.keep_reply_token(
            session, user_id=stored.identity.address, token=event.reply_token, now=now
        )
    if event.proof is None or not link_customer(session, stored.identity, *event.proof):
        return False
    enqueue(
        session,
        key=f"linked:{stored.message.id}",
        identity=stored.identity,
        conversation=stored.conversation,
        text=LINE_CUSTOMER_LINKED[stored.identity.customer.language],
        purpose=MessagePurpose.REPLY,
        author=Author.SYSTEM,
        now=now,
    )
    stored.message.handled_at = now
    return True


def link_customer(session: Session, identity: ChannelIdentity, phone: str, order: str) -> bool:
    """Join the chat to the customer who placed `order` from `phone`; True when both are
    that customer's (a number anyone could type is not enough on its own)."""
    found = find_order(session, order)
    if found is None:
        return False
    known = session.scalar(
        select(ChannelIdentity).where(
            ChannelIdentity.channel == Channel.SMS,
            ChannelIdentity.address == phone,
            ChannelIdentity.customer_id == found.customer_id,
        )
    )
    if known is None:
        return False
    if known.customer_id != identity.customer_id:
        merge_customer(
            session, source=identity.customer, into=known.customer, actor=f"line:{identity.address}"
        )
    return True
