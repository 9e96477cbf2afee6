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
  and an order number the store holds together ("0912345678 A1234567"), or a known phone
  number alone and then the code we text to it (`crm_store.link_codes`); the chat is
  then joined to that customer. A number anyone could type joins nothing by itself, and
  an order number alone is a question about the order, which the bot answers.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import phonenumbers
from linebot.v3 import SignatureValidator
from linebot.v3.webhooks import FollowEvent, MessageEvent, UnfollowEvent
from pydantic.v1 import ValidationError
from sqlalchemy.orm import Session

from channels.inbound import Inbound, MalformedPayload, Stored
from channels.texts import (
    LINE_CUSTOMER_LINKED,
    LINE_PHONE_VERIFIED,
    LINK_CODE_SENT,
    LINK_CODE_SMS,
    LINK_CODE_SPENT,
    LINK_CODE_UNAVAILABLE,
    LINK_CODE_WRONG,
    say,
)
from crm_store import line_usage, link_codes
from crm_store.conversations import identity_for, known_identity
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
    # The phone number the message gives, and the order number, normalised.
    phone: str | None = None
    order: str | None = None
    # Whether the phone number is about all it says ("我的手機 0912345678").
    phone_alone: bool = False

    @property
    def user_id(self) -> str:
        return self.inbound.address


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
        **_numbers(text, default_region=default_region),
    )


def _user(source: Any) -> str:
    user_id = getattr(source, "user_id", None)
    if not isinstance(user_id, str) or not user_id:
        raise ValueError("a user's event without the user's id")
    return user_id


# Past this many other characters, a message with a phone number in it says more than
# "here is my number" ("我的手機號碼是", "my phone number is"), and the bot must read it.
_ABOUT_A_NUMBER = 20


def _numbers(text: str, *, default_region: str) -> dict[str, Any]:
    """The phone and order numbers `text` gives, as `LineMessage` fields."""
    order = ORDER_NUMBER_IN_TEXT.search(text)
    found: dict[str, Any] = {"order": order.group().upper() if order else None}
    for match in phonenumbers.PhoneNumberMatcher(text, default_region):
        try:
            found["phone"] = normalize_phone(match.raw_string, default_region)
        except InvalidPhoneNumber:
            continue
        rest = (text[: match.start] + text[match.end :]).strip()
        found["phone_alone"] = len(rest) <= _ABOUT_A_NUMBER and not any(
            mark in rest for mark in "?？"
        )
        break
    return found


def mark_follow(session: Session, event: LineFollow, *, settings: Settings, now: datetime) -> None:
    """Adding the account is agreeing to its messages; blocking it takes both away."""
    identity = known_identity(session, channel=Channel.LINE, address=event.user_id)
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


def after_stored(
    session: Session, event: LineMessage, stored: Stored, *, settings: Settings, now: datetime
) -> bool:
    """Keep the message's reply token, and join the chat to the customer it proves to be;
    True when that answered the message (it goes no further)."""
    if event.reply_token is not None:
        line_usage.keep_reply_token(
            session, user_id=stored.identity.address, token=event.reply_token, now=now
        )
    if (
        event.phone
        and event.order
        and link_customer(session, stored.identity, event.phone, event.order)
    ):
        _answer(session, stored, LINE_CUSTOMER_LINKED, now=now)
        return True
    code = _code_in(stored.message.text)
    if code is not None and link_codes.pending(session, stored.identity, now=now):
        _redeem(session, stored, code, now=now)
        return True
    if event.phone is not None and event.phone_alone:
        return _send_code(session, stored, event.phone, settings=settings, now=now)
    return False


def link_customer(session: Session, identity: ChannelIdentity, phone: str, order: str) -> bool:
    """Join the chat to the customer who placed `order` from `phone`; True when both are
    that customer's (a number anyone could type is not enough on its own)."""
    found = find_order(session, order)
    if found is None:
        return False
    known = known_identity(session, channel=Channel.SMS, address=phone)
    if known is None or known.customer_id != found.customer_id:
        return False
    _join(session, identity, known)
    return True


def _join(session: Session, chat: ChannelIdentity, phone: ChannelIdentity) -> None:
    if phone.customer_id != chat.customer_id:
        merge_customer(
            session, source=chat.customer, into=phone.customer, actor=f"line:{chat.address}"
        )


def _send_code(
    session: Session, stored: Stored, phone: str, *, settings: Settings, now: datetime
) -> bool:
    """Text a code to `phone` when the shop knows it; False (the bot reads the message)
    when it does not, or it is the chat's own already."""
    known = known_identity(session, channel=Channel.SMS, address=phone)
    if known is None or known.customer_id == stored.identity.customer_id:
        return False
    code = (
        link_codes.issue(session, chat=stored.identity, phone=known, now=now)
        if known.may_receive_service
        else None
    )
    if code is None:
        _answer(session, stored, LINK_CODE_UNAVAILABLE, now=now)
        return True
    enqueue(
        session,
        key=f"link-code:{stored.message.id}",
        identity=known,
        text=say(LINK_CODE_SMS, known.customer.language, shop=settings.shop_name, code=code),
        purpose=MessagePurpose.TRANSACTIONAL,
        author=Author.SYSTEM,
        now=now,
    )
    _answer(session, stored, LINK_CODE_SENT, now=now, last_digits=phone[-4:])
    return True


def _redeem(session: Session, stored: Stored, code: str, *, now: datetime) -> None:
    redeemed = link_codes.redeem(session, chat=stored.identity, code=code, now=now)
    if redeemed.phone is not None:
        _join(session, stored.identity, redeemed.phone)
        _answer(session, stored, LINE_PHONE_VERIFIED, now=now)
    elif redeemed.tries_left:
        _answer(session, stored, LINK_CODE_WRONG, now=now, tries=str(redeemed.tries_left))
    else:
        _answer(session, stored, LINK_CODE_SPENT, now=now)


# Six digits, as people type them: with spaces, or full-width from a Chinese keyboard.
_CODE = re.compile(r"\s*(\d)\s*(\d)\s*(\d)\s*(\d)\s*(\d)\s*(\d)\s*", re.ASCII)


def _code_in(text: str) -> str | None:
    match = _CODE.fullmatch(unicodedata.normalize("NFKC", text))
    return "".join(match.groups()) if match else None


def _answer(
    session: Session, stored: Stored, texts: dict[Language, str], *, now: datetime, **values: str
) -> None:
    # In the chat's customer's language, which a join may just have changed.
    text = say(texts, stored.identity.customer.language, **values)
    stored.answer(session, kind="linked", text=text, purpose=MessagePurpose.REPLY, now=now)
