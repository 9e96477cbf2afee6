"""Fake Telegram Bot API and Twilio REST servers on loopback, and the payloads both services send.

The fakes let integration tests and the benchmark drive the real client libraries
(python-telegram-bot, twilio) without leaving the machine:

    with FakeTelegram(token="123:ABC") as tg:
        bot = telegram.Bot("123:ABC", base_url=tg.base_url)
    with FakeTwilio() as tw:
        client = twilio.rest.Client(tw.account_sid, tw.auth_token)
        client.api.base_url = tw.base_url

Each fake is a stdlib `ThreadingHTTPServer` in a daemon thread; all recorded state is guarded
by one condition variable, so tests may read it from any thread while the gateway sends.
"""

from __future__ import annotations

import base64
import binascii
import email.parser
import email.policy
import itertools
import json
import math
import re
import socket
import threading
import time
import traceback
import uuid
import zlib
from collections import defaultdict, deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.utils import format_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, NamedTuple, Self, TypedDict
from urllib.parse import parse_qs, urlsplit

import phonenumbers
from twilio.request_validator import RequestValidator

__all__ = [
    "TELEGRAM_BOT_TOKEN",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "FakeTelegram",
    "FakeTwilio",
    "TelegramCall",
    "TelegramSent",
    "TwilioCall",
    "TwilioSent",
    "sms_segments",
    "telegram_blocked_update",
    "telegram_contact_update",
    "telegram_text_update",
    "twilio_signature",
    "twilio_sms_form",
    "twilio_status_form",
]

JSONDict = dict[str, Any]

TELEGRAM_BOT_TOKEN = "123:ABC"
TWILIO_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
TWILIO_AUTH_TOKEN = "fa4e" * 8
DEFAULT_BOT_ID = 123
DEFAULT_BOT_USERNAME = "crmbot_test_bot"


# --------------------------------------------------------------------------------------------
# The HTTP plumbing both fakes share


class _Reply(NamedTuple):
    status: int
    body: bytes
    headers: Mapping[str, str] = {}


def _json_reply(status: int, payload: object, headers: Mapping[str, str] | None = None) -> _Reply:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return _Reply(status, body, {"Content-Type": "application/json", **(headers or {})})


class _Handler(BaseHTTPRequestHandler):
    """Hands every request to the fake; keeps connections alive like the real services."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms stalls
    timeout = 60  # an idle keep-alive connection's thread gives up after this
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline().strip():  # trailers
                pass
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        body = self._read_body()
        try:
            reply = self.server.fake._handle(self.command, self.path, self.headers, body)
        except Exception as exc:  # a bug in the fake: answer loudly rather than hang the client
            traceback.print_exc()  # lands in the failing test's captured stderr
            reply = _json_reply(500, {"fake_error": f"{type(exc).__name__}: {exc}"})
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean; the fakes record every call instead."""


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # idle keep-alive handlers must not block stop()

    def __init__(self, fake: _LoopbackServer) -> None:
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def drop_connections(self) -> None:
        """Shut (not close) open client sockets so their handler threads see EOF and exit."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _LoopbackServer:
    """Start/stop and context management for a fake service on 127.0.0.1 at a free port."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return int(self._server.server_address[1])

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError(f"{type(self).__name__} is already started")
        self._stopping = False
        self._server = _HTTPServer(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        with self._cond:
            self._stopping = True
            self._cond.notify_all()  # release long polls
        server.shutdown()
        server.drop_connections()
        server.server_close()
        thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _handle(self, method: str, path: str, headers: Message[str, str], body: bytes) -> _Reply:
        raise NotImplementedError


def _form_fields(body: bytes) -> dict[str, list[str]]:
    return parse_qs(body.decode("utf-8"), keep_blank_values=True)


# --------------------------------------------------------------------------------------------
# Telegram


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
class _TelegramFailure:
    method: str | None
    chat_id: int | str | None
    status: int
    description: str
    retry_after: int | None
    times: int


_TELEGRAM_METHODS = (
    "getMe",
    "sendMessage",
    "sendChatAction",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
    "getUpdates",
)
_TELEGRAM_DESCRIPTIONS = {
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
_TELEGRAM_TOKEN = re.compile(r"\d+:[A-Za-z0-9_-]+")
_SEND_METHODS_BLOCKED = frozenset({"sendMessage", "sendChatAction"})
_TELEGRAM_MAX_TEXT = 4096


def _chat_id_value(value: object) -> object:
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    return value


def _telegram_value(name: str, raw: str) -> object:
    """Undo PTB's encoding: strings are sent as is, every other value as JSON."""
    if name in _TELEGRAM_STRING_PARAMS:
        return raw
    if name == "chat_id":
        return _chat_id_value(raw)
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _multipart_params(content_type: str, body: bytes) -> JSONDict:
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
            params[name] = _telegram_value(name, data.decode(part.get_content_charset("utf-8")))
    return params


class FakeTelegram(_LoopbackServer):
    """A Telegram Bot API that records what the bot sends and fails on demand.

    Point python-telegram-bot at it with `Bot(token, base_url=tg.base_url)`.
    """

    def __init__(
        self,
        token: str = TELEGRAM_BOT_TOKEN,
        *,
        bot_username: str = DEFAULT_BOT_USERNAME,
        bot_first_name: str = "CRM Bot",
        max_poll_wait: float = 1.0,
    ) -> None:
        super().__init__()
        self.token = token
        prefix = token.split(":", 1)[0]
        self.bot_user: JSONDict = {
            "id": int(prefix) if prefix.isdigit() else DEFAULT_BOT_ID,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.max_poll_wait = max_poll_wait
        self._calls: list[TelegramCall] = []
        self._sent: list[TelegramSent] = []
        self._updates: list[JSONDict] = []
        self._failures: list[_TelegramFailure] = []
        self._blocked: set[int | str] = set()
        self._chat_names: dict[int, str] = {}
        # Like Telegram, each chat numbers its own messages.
        self._message_ids: defaultdict[str, Iterator[int]] = defaultdict(lambda: itertools.count(1))
        self._webhook: JSONDict = {"url": "", "secret_token": None}
        self._handlers: dict[str, Callable[[JSONDict], _Reply]] = {
            "getMe": self._get_me,
            "sendMessage": self._send_message,
            "sendChatAction": self._send_chat_action,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "getUpdates": self._get_updates,
        }
        # Bot API method names are case-insensitive.
        self._canonical = {name.lower(): name for name in _TELEGRAM_METHODS}

    @property
    def base_url(self) -> str:
        """What to pass as PTB's `base_url`; PTB appends the token, then `/<method>`."""
        return f"http://127.0.0.1:{self.port}/bot"

    def settings_env(self, *, webhook_secret: str) -> dict[str, str]:
        """The environment that points a gateway process at this fake, by webhook."""
        return {
            "TELEGRAM_BOT_TOKEN": TELEGRAM_BOT_TOKEN,
            "TELEGRAM_WEBHOOK_SECRET": webhook_secret,
            "TELEGRAM_API_BASE_URL": self.base_url,
            "TELEGRAM_MODE": "webhook",
        }

    # ---- what tests read

    @property
    def sent(self) -> list[TelegramSent]:
        with self._cond:
            return list(self._sent)

    @property
    def calls(self) -> list[TelegramCall]:
        with self._cond:
            return list(self._calls)

    @property
    def webhook(self) -> JSONDict:
        """The last setWebhook parameters; `url` is "" when no webhook is set."""
        with self._cond:
            return dict(self._webhook)

    @property
    def pending_updates(self) -> list[JSONDict]:
        with self._cond:
            return list(self._updates)

    def sent_to(self, chat_id: int | str) -> list[TelegramSent]:
        with self._cond:
            return [sent for sent in self._sent if sent["chat_id"] == chat_id]

    def calls_to(self, method: str) -> list[TelegramCall]:
        with self._cond:
            return [call for call in self._calls if call["method"] == method]

    def wait_for_sent(
        self, chat_id: int | str, count: int = 1, timeout: float = 10.0
    ) -> list[TelegramSent]:
        """Block until `count` messages went to `chat_id`; fail with what was sent instead."""
        with self._cond:
            if self._cond.wait_for(lambda: len(self.sent_to(chat_id)) >= count, timeout):
                return self.sent_to(chat_id)
            raise AssertionError(
                f"expected {count} message(s) to chat {chat_id} within {timeout} s; "
                f"to that chat: {[s['text'] for s in self.sent_to(chat_id)]!r}; "
                f"all sent: {[(s['chat_id'], s['text']) for s in self._sent]!r}"
            )

    # ---- what tests program

    def queue_update(self, update: JSONDict) -> None:
        """Make `update` available to getUpdates (and wake a waiting long poll)."""
        if not isinstance(update.get("update_id"), int):
            raise ValueError("an update needs an int update_id")
        with self._cond:
            for key in ("message", "edited_message", "my_chat_member"):
                chat = update.get(key, {}).get("chat", {})
                if chat.get("type") == "private" and "first_name" in chat:
                    self._chat_names[chat["id"]] = chat["first_name"]
            self._updates.append(update)
            self._updates.sort(key=lambda queued: int(queued["update_id"]))
            self._cond.notify_all()

    def fail_next(
        self,
        method: str | None = "sendMessage",
        *,
        status: int = 429,
        description: str | None = None,
        retry_after: int | None = None,
        chat_id: int | str | None = None,
        times: int = 1,
    ) -> None:
        """Fail the next `times` calls of `method` (any method if None), optionally to one chat.

        A 429 carries `parameters.retry_after` (default 2 s), which PTB raises as `RetryAfter`;
        other statuses get Telegram's usual description (403 blocked, 500, 502, ...).
        """
        if status == 429 and retry_after is None:
            retry_after = 2
        if description is None:
            description = (
                f"Too Many Requests: retry after {retry_after}"
                if status == 429
                else _TELEGRAM_DESCRIPTIONS.get(status, HTTPStatus(status).phrase)
            )
        with self._cond:
            self._failures.append(
                _TelegramFailure(method, chat_id, status, description, retry_after, times)
            )

    def block(self, chat_id: int | str) -> None:
        """Act as if the user blocked the bot: sends to the chat get 403 until `unblock`."""
        with self._cond:
            self._blocked.add(chat_id)

    def unblock(self, chat_id: int | str) -> None:
        with self._cond:
            self._blocked.discard(chat_id)

    def clear(self) -> None:
        """Forget recorded calls and messages (e.g. between benchmark rounds)."""
        with self._cond:
            self._calls.clear()
            self._sent.clear()

    # ---- the Bot API

    def _handle(self, method: str, path: str, headers: Message[str, str], body: bytes) -> _Reply:
        url = urlsplit(path)
        match = re.fullmatch(r"/bot([^/]+)/([A-Za-z]+)", url.path)
        api_method = match.group(2) if match else url.path
        api_method = self._canonical.get(api_method.lower(), api_method)
        content_type = headers.get("Content-Type", "")
        try:
            params = self._params(url.query, content_type, body)
        except ValueError:
            reply = self._error(400, "Bad Request: can't parse request parameters")
            return self._record(api_method, {}, content_type, reply)
        if match is None:
            reply = self._error(404, "Not Found")
        elif match.group(1) != self.token:
            # Telegram: 401 for a well-formed token it doesn't know, 404 for a malformed one.
            well_formed = _TELEGRAM_TOKEN.fullmatch(match.group(1))
            reply = self._error(401, "Unauthorized") if well_formed else self._error(404)
        elif api_method not in self._handlers:
            reply = self._error(404, "Not Found")
        else:
            reply = self._programmed_failure(api_method, params) or self._handlers[api_method](
                params
            )
        return self._record(api_method, params, content_type, reply)

    def _record(self, method: str, params: JSONDict, content_type: str, reply: _Reply) -> _Reply:
        with self._cond:
            self._calls.append(
                {
                    "method": method,
                    "params": params,
                    "content_type": content_type.split(";")[0].strip(),
                    "status": reply.status,
                    "at": time.monotonic(),
                }
            )
            self._cond.notify_all()
        return reply

    @staticmethod
    def _params(query: str, content_type: str, body: bytes) -> JSONDict:
        params: JSONDict = {
            name: _telegram_value(name, values[-1])
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
                decoded["chat_id"] = _chat_id_value(decoded["chat_id"])
            params.update(decoded)
        elif kind == "multipart/form-data":
            params.update(_multipart_params(content_type, body))
        else:  # PTB without files: application/x-www-form-urlencoded
            params.update(
                (name, _telegram_value(name, values[-1]))
                for name, values in _form_fields(body).items()
            )
        return params

    @staticmethod
    def _ok(result: object) -> _Reply:
        return _json_reply(200, {"ok": True, "result": result})

    @staticmethod
    def _error(
        status: int, description: str | None = None, parameters: JSONDict | None = None
    ) -> _Reply:
        payload: JSONDict = {
            "ok": False,
            "error_code": status,
            "description": description or _TELEGRAM_DESCRIPTIONS.get(status, "Error"),
        }
        if parameters:
            payload["parameters"] = parameters
        return _json_reply(status, payload)

    def _programmed_failure(self, method: str, params: JSONDict) -> _Reply | None:
        chat_id = params.get("chat_id")
        with self._cond:
            for failure in self._failures:
                if failure.method not in (None, method):
                    continue
                if failure.chat_id is not None and failure.chat_id != chat_id:
                    continue
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                parameters = (
                    {"retry_after": failure.retry_after}
                    if failure.retry_after is not None
                    else None
                )
                return self._error(failure.status, failure.description, parameters)
            if method in _SEND_METHODS_BLOCKED and chat_id in self._blocked:
                return self._error(403, "Forbidden: bot was blocked by the user")
        return None

    def _chat(self, chat_id: int | str) -> JSONDict:
        if isinstance(chat_id, str):  # "@channelusername"
            name = chat_id.lstrip("@")
            fake_id = -1_000_000_000_000 - zlib.crc32(name.encode())
            return {"id": fake_id, "title": name, "username": name, "type": "channel"}
        if chat_id > 0:
            first_name = self._chat_names.get(chat_id, "User")
            return {"id": chat_id, "first_name": first_name, "type": "private"}
        if str(chat_id).startswith("-100"):
            return {"id": chat_id, "title": "Group", "type": "supergroup"}
        return {"id": chat_id, "title": "Group", "type": "group"}

    def _get_me(self, params: JSONDict) -> _Reply:
        return self._ok(self.bot_user)

    def _send_message(self, params: JSONDict) -> _Reply:
        chat_id = params.get("chat_id")
        text = params.get("text")
        if chat_id in (None, ""):
            return self._error(400, "Bad Request: chat_id is empty")
        if not isinstance(chat_id, int | str):
            return self._error(400, "Bad Request: chat not found")
        if not isinstance(text, str) or not text.strip():
            return self._error(400, "Bad Request: message text is empty")
        if len(text) > _TELEGRAM_MAX_TEXT:
            return self._error(400, "Bad Request: message is too long")
        markup = params.get("reply_markup")
        reply_markup = markup if isinstance(markup, dict) else None
        with self._cond:
            message_id = next(self._message_ids[str(chat_id)])
            message: JSONDict = {
                "message_id": message_id,
                "from": {
                    key: self.bot_user[key] for key in ("id", "is_bot", "first_name", "username")
                },
                "chat": self._chat(chat_id),
                "date": int(time.time()),
                "text": text,
            }
            if reply_markup is not None and "inline_keyboard" in reply_markup:
                message["reply_markup"] = reply_markup  # Telegram echoes only inline keyboards
            self._sent.append(
                {
                    "method": "sendMessage",
                    "chat_id": chat_id,
                    "text": text,
                    "reply_markup": reply_markup,
                    "message_id": message_id,
                    "params": params,
                    "at": time.monotonic(),
                }
            )
            self._cond.notify_all()
        return self._ok(message)

    def _send_chat_action(self, params: JSONDict) -> _Reply:
        if params.get("chat_id") in (None, ""):
            return self._error(400, "Bad Request: chat_id is empty")
        if not params.get("action"):
            return self._error(400, "Bad Request: action is empty")
        return self._ok(True)

    def _set_webhook(self, params: JSONDict) -> _Reply:
        with self._cond:
            self._webhook = {
                "url": params.get("url", ""),
                "secret_token": params.get("secret_token"),
                "allowed_updates": params.get("allowed_updates"),
                "max_connections": params.get("max_connections"),
                "drop_pending_updates": params.get("drop_pending_updates"),
            }
            if params.get("drop_pending_updates"):
                self._updates.clear()
        description = "Webhook was set" if params.get("url") else "Webhook was deleted"
        return _json_reply(200, {"ok": True, "result": True, "description": description})

    def _delete_webhook(self, params: JSONDict) -> _Reply:
        with self._cond:
            self._webhook = {"url": "", "secret_token": None}
            if params.get("drop_pending_updates"):
                self._updates.clear()
        return _json_reply(200, {"ok": True, "result": True, "description": "Webhook was deleted"})

    def _get_webhook_info(self, params: JSONDict) -> _Reply:
        with self._cond:
            info: JSONDict = {
                "url": self._webhook["url"],
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }
            if self._webhook.get("max_connections"):
                info["max_connections"] = self._webhook["max_connections"]
            if self._webhook.get("allowed_updates"):
                info["allowed_updates"] = self._webhook["allowed_updates"]
        return self._ok(info)

    def _get_updates(self, params: JSONDict) -> _Reply:
        offset = params.get("offset")
        limit = params.get("limit") or 100
        timeout = float(params.get("timeout") or 0)
        with self._cond:
            if self._webhook["url"]:
                return self._error(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            if isinstance(offset, int):
                # Calling with an offset confirms (and forgets) every earlier update.
                if offset < 0:
                    del self._updates[: max(0, len(self._updates) + offset)]
                else:
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]
            if not self._updates and timeout > 0:
                self._cond.wait_for(
                    lambda: bool(self._updates) or self._stopping,
                    min(timeout, self.max_poll_wait),
                )
            return self._ok(self._updates[: max(1, min(int(limit), 100))])


# --------------------------------------------------------------------------------------------
# Twilio


TwilioSent = TypedDict(
    "TwilioSent",
    {
        "to": str,
        "from": str | None,
        "messaging_service_sid": str | None,
        "body": str,
        "status_callback": str | None,
        "sid": str,
        "at": float,
    },
)
TwilioSent.__doc__ = "One message the fake Twilio accepted."


class TwilioCall(TypedDict):
    """One request to the fake Twilio, whatever its outcome; `to` is the To field, if any."""

    method: str
    path: str
    to: str | None
    params: dict[str, str]
    status: int
    at: float


@dataclass
class _TwilioFailure:
    status: int
    code: int
    message: str
    to: str | None
    times: int
    retry_after: int | None


_TWILIO_ERRORS = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    21211: "Invalid 'To' Phone Number",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21617: "The concatenated message body exceeds the 1600 character limit.",
}
_TWILIO_MAX_BODY = 1600
_E164 = re.compile(r"(?:whatsapp:)?\+[1-9]\d{6,14}")
_API = "/2010-04-01"
_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")


def sms_segments(body: str) -> int:
    """How many SMS segments Twilio bills for `body` (GSM-7 160/153, else UCS-2 70/67)."""
    if all(char in _GSM7_BASIC or char in _GSM7_EXTENDED for char in body):
        septets = sum(2 if char in _GSM7_EXTENDED else 1 for char in body)
        return 1 if septets <= 160 else math.ceil(septets / 153)
    units = len(body.encode("utf-16-le")) // 2
    return 1 if units <= 70 else math.ceil(units / 67)


def _rfc2822(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC))  # "Thu, 24 Aug 2023 05:01:45 +0000"


class FakeTwilio(_LoopbackServer):
    """Twilio's Messages API: records outbound SMS, checks basic auth, fails on demand.

    Point the real client at it with `client.api.base_url = tw.base_url`.
    """

    def __init__(
        self,
        account_sid: str = TWILIO_ACCOUNT_SID,
        auth_token: str = TWILIO_AUTH_TOKEN,
        *,
        messages_per_second: float | None = None,
    ) -> None:
        """`messages_per_second`: refuse (429) a message that would make more than that many
        in the last second, as a provider enforcing its limit does."""
        super().__init__()
        self.messages_per_second = messages_per_second
        self.rate_limited = 0
        self._accepted_at: deque[float] = deque()
        if not re.fullmatch(r"AC[0-9a-f]{32}", account_sid):
            raise ValueError(f"not a Twilio account SID: {account_sid!r}")
        self.account_sid = account_sid
        self.auth_token = auth_token
        self._calls: list[TwilioCall] = []
        self._sent: list[TwilioSent] = []
        self._resources: dict[str, JSONDict] = {}
        self._failures: list[_TwilioFailure] = []
        self._opted_out: set[str] = set()
        self._lookup_failures: deque[int] = deque()

    @property
    def base_url(self) -> str:
        """What to assign to `client.api.base_url` (the twilio `Domain` for api.twilio.com)."""
        return f"http://127.0.0.1:{self.port}"

    def settings_env(self, *, from_number: str) -> dict[str, str]:
        """The environment that points a gateway or scheduler process at this fake."""
        return {
            "TWILIO_ACCOUNT_SID": self.account_sid,
            "TWILIO_AUTH_TOKEN": self.auth_token,
            "TWILIO_FROM_NUMBER": from_number,
            "TWILIO_API_BASE_URL": self.base_url,
        }

    @property
    def messages_url(self) -> str:
        return f"{self.base_url}{_API}/Accounts/{self.account_sid}/Messages.json"

    # ---- what tests read

    @property
    def sent(self) -> list[TwilioSent]:
        with self._cond:
            return list(self._sent)

    @property
    def calls(self) -> list[TwilioCall]:
        with self._cond:
            return list(self._calls)

    def sent_to(self, to: str) -> list[TwilioSent]:
        with self._cond:
            return [sent for sent in self._sent if sent["to"] == to]

    def resource(self, sid: str) -> JSONDict:
        """The Message resource JSON the fake returned for `sid`."""
        with self._cond:
            return dict(self._resources[sid])

    def wait_for_sent(self, to: str, count: int = 1, timeout: float = 10.0) -> list[TwilioSent]:
        """Block until `count` SMS went to `to`; fail with what was sent instead."""
        with self._cond:
            if self._cond.wait_for(lambda: len(self.sent_to(to)) >= count, timeout):
                return self.sent_to(to)
            raise AssertionError(
                f"expected {count} SMS to {to} within {timeout} s; "
                f"to that number: {[s['body'] for s in self.sent_to(to)]!r}; "
                f"all sent: {[(s['to'], s['body']) for s in self._sent]!r}"
            )

    # ---- what tests program

    def fail_next(
        self,
        *,
        status: int = 429,
        code: int = 20429,
        message: str | None = None,
        to: str | None = None,
        times: int = 1,
        retry_after: int | None = None,
    ) -> None:
        """Fail the next `times` message creations (to `to` only, if given) with Twilio's error.

        E.g. 400/21610 unsubscribed, 400/21211 invalid To, 500/20500; a 429 gets a
        `Retry-After` header when `retry_after` is given.
        """
        text = message or _TWILIO_ERRORS.get(code) or HTTPStatus(status).phrase
        with self._cond:
            self._failures.append(_TwilioFailure(status, code, text, to, times, retry_after))

    def fail_next_lookup(self, *, status: int = 500, times: int = 1) -> None:
        """Answer the next `times` reads of the message log (GET Messages.json) with `status`."""
        with self._cond:
            self._lookup_failures.extend([status] * times)

    def opt_out(self, to: str) -> None:
        """Act as if `to` texted STOP: every send to it fails with 400/21610 until `opt_in`."""
        with self._cond:
            self._opted_out.add(to)

    def opt_in(self, to: str) -> None:
        with self._cond:
            self._opted_out.discard(to)

    def clear(self) -> None:
        with self._cond:
            self._calls.clear()
            self._sent.clear()

    # ---- the REST API

    def _handle(self, method: str, path: str, headers: Message[str, str], body: bytes) -> _Reply:
        url = urlsplit(path)
        fields = {name: values[0] for name, values in _form_fields(body).items()}
        if method == "GET":
            fields.update((k, v[0]) for k, v in parse_qs(url.query).items())
        reply = self._route(method, url.path, headers, fields)
        with self._cond:
            self._calls.append(
                {
                    "method": method,
                    "path": url.path,
                    "to": fields.get("To"),
                    "params": fields,
                    "status": reply.status,
                    "at": time.monotonic(),
                }
            )
            self._cond.notify_all()
        return reply

    def _error(
        self, status: int, code: int, message: str | None = None, retry_after: int | None = None
    ) -> _Reply:
        payload = {
            "code": code,
            "message": message or _TWILIO_ERRORS.get(code, HTTPStatus(status).phrase),
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        if status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
        return _json_reply(status, payload, headers)

    def _authorized(self, headers: Message[str, str]) -> bool:
        scheme, _, encoded = headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return (user, password) == (self.account_sid, self.auth_token)

    def _route(
        self, method: str, path: str, headers: Message[str, str], fields: dict[str, str]
    ) -> _Reply:
        if not self._authorized(headers):
            return self._error(401, 20003)
        prefix = f"{_API}/Accounts/{self.account_sid}/Messages"
        if method == "POST" and path == f"{prefix}.json":
            return self._create_message(fields)
        if method == "GET" and path == f"{prefix}.json":
            with self._cond:
                failing = self._lookup_failures.popleft() if self._lookup_failures else None
            if failing is not None:
                return self._error(failing, 20500)
            return self._list_messages(prefix, fields)
        fetch = re.fullmatch(re.escape(prefix) + r"/(SM[0-9a-f]{32})\.json", path)
        if method == "GET" and fetch:
            with self._cond:
                resource = self._resources.get(fetch.group(1))
            if resource is not None:
                return _json_reply(200, resource)
        return self._error(404, 20404, f"The requested resource {path} was not found")

    def _programmed_failure(self, to: str | None) -> _Reply | None:
        with self._cond:
            for failure in self._failures:
                if failure.to is not None and failure.to != to:
                    continue
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                return self._error(
                    failure.status, failure.code, failure.message, failure.retry_after
                )
            if to in self._opted_out:
                return self._error(400, 21610)
        return None

    def _list_messages(self, prefix: str, fields: dict[str, str]) -> _Reply:
        """Messages read back, filtered by To and From as Twilio does (one page, newest first).

        The date filters are accepted and ignored: every message here is from today.
        """
        with self._cond:
            found = [
                dict(resource)
                for resource in reversed(self._resources.values())
                if (not fields.get("To") or resource["to"] == fields["To"])
                and (not fields.get("From") or resource["from"] == fields["From"])
            ]
        page_size = int(fields.get("PageSize", "50"))
        found = found[:page_size]
        uri = f"{prefix}.json?PageSize={page_size}&Page=0"
        return _json_reply(
            200,
            {
                "messages": found,
                "page": 0,
                "page_size": page_size,
                "start": 0,
                "end": max(0, len(found) - 1),
                "uri": uri,
                "first_page_uri": uri,
                "next_page_uri": None,
                "previous_page_uri": None,
            },
        )

    def _over_the_limit(self) -> bool:
        if self.messages_per_second is None:
            return False
        with self._cond:
            now = time.monotonic()
            while self._accepted_at and self._accepted_at[0] <= now - 1.0:
                self._accepted_at.popleft()
            if len(self._accepted_at) >= self.messages_per_second:
                self.rate_limited += 1
                return True
            self._accepted_at.append(now)
            return False

    def _create_message(self, fields: dict[str, str]) -> _Reply:
        to = fields.get("To")
        failure = self._programmed_failure(to)
        if failure is not None:
            return failure
        if self._over_the_limit():
            return self._error(429, 20429)
        sender = fields.get("From") or None
        service = fields.get("MessagingServiceSid") or None
        body = fields.get("Body", "")
        if not to:
            return self._error(400, 21604)
        if not _E164.fullmatch(to):
            return self._error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if sender is None and service is None:
            return self._error(400, 21603)
        has_media = bool(fields.get("MediaUrl") or fields.get("ContentSid"))
        if not body and not has_media:
            return self._error(400, 21602)
        if len(body) > _TWILIO_MAX_BODY:
            return self._error(400, 21617)
        sid = "SM" + uuid.uuid4().hex
        now = _rfc2822(datetime.now(UTC))
        uri = f"{_API}/Accounts/{self.account_sid}/Messages/{sid}.json"
        resource: JSONDict = {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": service,
            "num_media": "1" if fields.get("MediaUrl") else "0",
            "num_segments": str(sms_segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "accepted" if sender is None else "queued",
            "subresource_uris": {
                "media": f"{_API}/Accounts/{self.account_sid}/Messages/{sid}/Media.json"
            },
            "to": to,
            "uri": uri,
        }
        with self._cond:
            self._resources[sid] = resource
            self._sent.append(
                {
                    "to": to,
                    "from": sender,
                    "messaging_service_sid": service,
                    "body": body,
                    "status_callback": fields.get("StatusCallback") or None,
                    "sid": sid,
                    "at": time.monotonic(),
                }
            )
            self._cond.notify_all()
        return _json_reply(201, resource)


# --------------------------------------------------------------------------------------------
# Payloads the services send to the gateway


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
