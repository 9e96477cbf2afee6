"""Payloads the services send to the gateway: Telegram updates and Twilio webhook forms."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping

import phonenumbers
from twilio.request_validator import RequestValidator

from tests.fakes.loopback import JSONDict
from tests.fakes.telegram_wire import DEFAULT_BOT_ID, DEFAULT_BOT_USERNAME
from tests.fakes.twilio_wire import sms_segments


def _user(
    user_id: int,
    first_name: str,
    last_name: str | None = None,
    username: str | None = None,
    language_code: str | None = None,
) -> JSONDict:
    user: JSONDict = {"id": user_id, "is_bot": False, "first_name": first_name}
    if last_name is not None:
        user["last_name"] = last_name
    if username is not None:
        user["username"] = username
    if language_code is not None:
        user["language_code"] = language_code
    return user


def _private_chat(
    chat_id: int, first_name: str, last_name: str | None = None, username: str | None = None
) -> JSONDict:
    chat: JSONDict = {"id": chat_id, "first_name": first_name}
    if last_name is not None:
        chat["last_name"] = last_name
    if username is not None:
        chat["username"] = username
    chat["type"] = "private"
    return chat


def telegram_text_update(
    update_id: int,
    chat_id: int,
    text: str,
    *,
    first_name: str = "Mei",
    last_name: str | None = None,
    username: str | None = None,
    language_code: str | None = "zh-hant",
    message_id: int | None = None,
    date: int | None = None,
) -> JSONDict:
    """The update Telegram sends when a user writes `text` to the bot in a private chat.

    A leading "/command" gets the `bot_command` entity Telegram adds (PTB's CommandHandler
    relies on it). `message_id` defaults to `update_id`; `date` to now.
    """
    message: JSONDict = {
        "message_id": update_id if message_id is None else message_id,
        "from": _user(chat_id, first_name, last_name, username, language_code),
        "chat": _private_chat(chat_id, first_name, last_name, username),
        "date": int(time.time()) if date is None else date,
        "text": text,
    }
    command = re.match(r"/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?", text)
    if command:
        length = len(command.group().encode("utf-16-le")) // 2  # entities count UTF-16 units
        message["entities"] = [{"offset": 0, "length": length, "type": "bot_command"}]
    return {"update_id": update_id, "message": message}


def telegram_contact_update(
    update_id: int,
    chat_id: int,
    phone_number: str,
    *,
    first_name: str = "Mei",
    user_id: int | None = None,
    language_code: str | None = "zh-hant",
    message_id: int | None = None,
    date: int | None = None,
) -> JSONDict:
    """The update after a user shares a contact (their own, via a request_contact button).

    Real clients often send the user's own number without the leading "+"; pass it that way
    to test the gateway's normalisation.
    """
    contact: JSONDict = {
        "phone_number": phone_number,
        "first_name": first_name,
        "user_id": chat_id if user_id is None else user_id,
    }
    message: JSONDict = {
        "message_id": update_id if message_id is None else message_id,
        "from": _user(chat_id, first_name, language_code=language_code),
        "chat": _private_chat(chat_id, first_name),
        "date": int(time.time()) if date is None else date,
        "contact": contact,
    }
    return {"update_id": update_id, "message": message}


def telegram_blocked_update(
    update_id: int,
    chat_id: int,
    *,
    blocked: bool = True,
    first_name: str = "Mei",
    language_code: str | None = "zh-hant",
    bot_id: int = DEFAULT_BOT_ID,
    bot_username: str = DEFAULT_BOT_USERNAME,
    date: int | None = None,
) -> JSONDict:
    """The `my_chat_member` update Telegram sends when a user blocks the bot.

    The member that changes is the bot itself: "member" -> "kicked". With `blocked=False`,
    the update for unblocking ("kicked" -> "member").
    """
    bot = {"id": bot_id, "is_bot": True, "first_name": "CRM Bot", "username": bot_username}
    member: JSONDict = {"user": bot, "status": "member"}
    kicked: JSONDict = {"user": bot, "status": "kicked", "until_date": 0}
    old, new = (member, kicked) if blocked else (kicked, member)
    return {
        "update_id": update_id,
        "my_chat_member": {
            "chat": _private_chat(chat_id, first_name),
            "from": _user(chat_id, first_name, language_code=language_code),
            "date": int(time.time()) if date is None else date,
            "old_chat_member": old,
            "new_chat_member": new,
        },
    }


def _country(number: str) -> str:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(number)) or ""
    except phonenumbers.NumberParseException:
        return ""


def twilio_sms_form(
    message_sid: str,
    from_: str,
    to: str,
    body: str,
    *,
    account_sid: str,
    messaging_service_sid: str | None = None,
) -> dict[str, str]:
    """The form Twilio posts to the incoming-message webhook, in Twilio's field order.

    Geographic fields are empty strings outside the US, as Twilio sends them.
    """
    form = {
        "ToCountry": _country(to),
        "ToState": "",
        "SmsMessageSid": message_sid,
        "NumMedia": "0",
        "ToCity": "",
        "FromZip": "",
        "SmsSid": message_sid,
        "FromState": "",
        "SmsStatus": "received",
        "FromCity": "",
        "Body": body,
        "FromCountry": _country(from_),
        "To": to,
    }
    if messaging_service_sid is not None:
        form["MessagingServiceSid"] = messaging_service_sid
    form.update(
        {
            "ToZip": "",
            "NumSegments": str(sms_segments(body)),
            "MessageSid": message_sid,
            "AccountSid": account_sid,
            "From": from_,
            "ApiVersion": "2010-04-01",
        }
    )
    return form


def twilio_status_form(
    message_sid: str,
    status: str,
    *,
    to: str,
    from_: str,
    account_sid: str,
    error_code: int | str | None = None,
) -> dict[str, str]:
    """The form Twilio posts to a message's StatusCallback (sent, delivered, undelivered...)."""
    form = {
        "SmsSid": message_sid,
        "SmsStatus": status,
        "MessageStatus": status,
        "To": to,
        "MessageSid": message_sid,
        "AccountSid": account_sid,
        "From": from_,
        "ApiVersion": "2010-04-01",
    }
    if error_code is not None:
        form["ErrorCode"] = str(error_code)
    return form


def twilio_signature(url: str, params: Mapping[str, str], auth_token: str) -> str:
    """The X-Twilio-Signature Twilio would send when posting `params` to `url`."""
    return str(RequestValidator(auth_token).compute_signature(url, dict(params)))
