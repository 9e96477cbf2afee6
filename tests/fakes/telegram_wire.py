"""What the fake Telegram Bot API records, and how it reads and answers PTB's requests."""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
from dataclasses import dataclass
from typing import TypedDict
from urllib.parse import parse_qs

from tests.fakes.loopback import JSONDict, Reply, form_fields, json_reply

TELEGRAM_BOT_TOKEN = "123:ABC"
DEFAULT_BOT_ID = 123
DEFAULT_BOT_USERNAME = "crmbot_test_bot"


class TelegramCall(TypedDict):
    """One request to the fake Bot API, whatever its outcome."""

    method: str
    params: JSONDict
    content_type: str
    status: int
    at: float


class TelegramSent(TypedDict):
    """One message the fake accepted from sendMessage."""

    method: str
    chat_id: int | str
    text: str
    reply_markup: JSONDict | None
    message_id: int
    params: JSONDict
    at: float


@dataclass
class TelegramFailure:
    method: str | None
    chat_id: int | str | None
    status: int
    description: str
    retry_after: int | None
    times: int


TELEGRAM_METHODS = (
    "getMe",
    "sendMessage",
    "sendChatAction",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
    "getUpdates",
)
TELEGRAM_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running",
    500: "Internal Server Error",
    502: "Bad Gateway",
}
# Parameters PTB sends as raw strings; everything else it JSON-encodes (see RequestParameter).
_TELEGRAM_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "url",
        "secret_token",
        "action",
        "ip_address",
        "query",
        "title",
        "description",
        "first_name",
        "last_name",
        "phone_number",
        "vcard",
        "emoji",
        "language_code",
        "message_effect_id",
        "business_connection_id",
    }
)
TOKEN_PATTERN = re.compile(r"\d+:[A-Za-z0-9_-]+")
SEND_METHODS_BLOCKED = frozenset({"sendMessage", "sendChatAction"})
TELEGRAM_MAX_TEXT = 4096


def chat_id_value(value: object) -> object:
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    return value


def telegram_value(name: str, raw: str) -> object:
    """Undo PTB's encoding: strings are sent as is, every other value as JSON."""
    if name in _TELEGRAM_STRING_PARAMS:
        return raw
    if name == "chat_id":
        return chat_id_value(raw)
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def multipart_params(content_type: str, body: bytes) -> JSONDict:
    header = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header + body)
    params: JSONDict = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            params[name] = {"filename": filename, "content": data}
        else:
            params[name] = telegram_value(name, data.decode(part.get_content_charset("utf-8")))
    return params


def request_params(query: str, content_type: str, body: bytes) -> JSONDict:
    params: JSONDict = {
        name: telegram_value(name, values[-1])
        for name, values in parse_qs(query, keep_blank_values=True).items()
    }
    kind = content_type.split(";")[0].strip().lower()
    if not body:
        return params
    if kind == "application/json":
        decoded = json.loads(body)
        if not isinstance(decoded, dict):
            raise ValueError("JSON body must be an object")
        if "chat_id" in decoded:
            decoded["chat_id"] = chat_id_value(decoded["chat_id"])
        params.update(decoded)
    elif kind == "multipart/form-data":
        params.update(multipart_params(content_type, body))
    else:  # PTB without files: application/x-www-form-urlencoded
        params.update(
            (name, telegram_value(name, values[-1])) for name, values in form_fields(body).items()
        )
    return params


def ok_reply(result: object) -> Reply:
    return json_reply(200, {"ok": True, "result": result})


def error_reply(
    status: int, description: str | None = None, parameters: JSONDict | None = None
) -> Reply:
    payload: JSONDict = {
        "ok": False,
        "error_code": status,
        "description": description or TELEGRAM_DESCRIPTIONS.get(status, "Error"),
    }
    if parameters:
        payload["parameters"] = parameters
    return json_reply(status, payload)
