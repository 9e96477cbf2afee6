"""The fake Telegram Bot API server."""

from __future__ import annotations

import itertools
import re
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from email.message import Message
from http import HTTPStatus
from urllib.parse import urlsplit

from tests.fakes.loopback import JSONDict, LoopbackServer, Reply, json_reply
from tests.fakes.telegram_wire import (
    DEFAULT_BOT_ID,
    DEFAULT_BOT_USERNAME,
    SEND_METHODS_BLOCKED,
    TELEGRAM_BOT_TOKEN,
    TELEGRAM_DESCRIPTIONS,
    TELEGRAM_MAX_TEXT,
    TELEGRAM_METHODS,
    TOKEN_PATTERN,
    TelegramCall,
    TelegramFailure,
    TelegramSent,
    error_reply,
    ok_reply,
    request_params,
)


class FakeTelegram(LoopbackServer):
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
        self._failures: list[TelegramFailure] = []
        self._blocked: set[int | str] = set()
        self._chat_names: dict[int, str] = {}
        # Like Telegram, each chat numbers its own messages.
        self._message_ids: defaultdict[str, Iterator[int]] = defaultdict(lambda: itertools.count(1))
        self._webhook: JSONDict = {"url": "", "secret_token": None}
        self._handlers: dict[str, Callable[[JSONDict], Reply]] = {
            "getMe": self._get_me,
            "sendMessage": self._send_message,
            "sendChatAction": self._send_chat_action,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "getUpdates": self._get_updates,
        }
        # Bot API method names are case-insensitive.
        self._canonical = {name.lower(): name for name in TELEGRAM_METHODS}

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
                else TELEGRAM_DESCRIPTIONS.get(status, HTTPStatus(status).phrase)
            )
        with self._cond:
            self._failures.append(
                TelegramFailure(method, chat_id, status, description, retry_after, times)
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

    def _handle(self, method: str, path: str, headers: Message[str, str], body: bytes) -> Reply:
        url = urlsplit(path)
        match = re.fullmatch(r"/bot([^/]+)/([A-Za-z]+)", url.path)
        api_method = match.group(2) if match else url.path
        api_method = self._canonical.get(api_method.lower(), api_method)
        content_type = headers.get("Content-Type", "")
        try:
            params = request_params(url.query, content_type, body)
        except ValueError:
            reply = error_reply(400, "Bad Request: can't parse request parameters")
            return self._record(api_method, {}, content_type, reply)
        if match is None:
            reply = error_reply(404, "Not Found")
        elif match.group(1) != self.token:
            # Telegram: 401 for a well-formed token it doesn't know, 404 for a malformed one.
            well_formed = TOKEN_PATTERN.fullmatch(match.group(1))
            reply = error_reply(401, "Unauthorized") if well_formed else error_reply(404)
        elif api_method not in self._handlers:
            reply = error_reply(404, "Not Found")
        else:
            reply = self._programmed_failure(api_method, params) or self._handlers[api_method](
                params
            )
        return self._record(api_method, params, content_type, reply)

    def _record(self, method: str, params: JSONDict, content_type: str, reply: Reply) -> Reply:
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

    def _programmed_failure(self, method: str, params: JSONDict) -> Reply | None:
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
                return error_reply(failure.status, failure.description, parameters)
            if method in SEND_METHODS_BLOCKED and chat_id in self._blocked:
                return error_reply(403, "Forbidden: bot was blocked by the user")
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

    def _get_me(self, params: JSONDict) -> Reply:
        return ok_reply(self.bot_user)

    def _send_message(self, params: JSONDict) -> Reply:
        chat_id = params.get("chat_id")
        text = params.get("text")
        if chat_id in (None, ""):
            return error_reply(400, "Bad Request: chat_id is empty")
        if not isinstance(chat_id, int | str):
            return error_reply(400, "Bad Request: chat not found")
        if not isinstance(text, str) or not text.strip():
            return error_reply(400, "Bad Request: message text is empty")
        if len(text) > TELEGRAM_MAX_TEXT:
            return error_reply(400, "Bad Request: message is too long")
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
        return ok_reply(message)

    def _send_chat_action(self, params: JSONDict) -> Reply:
        if params.get("chat_id") in (None, ""):
            return error_reply(400, "Bad Request: chat_id is empty")
        if not params.get("action"):
            return error_reply(400, "Bad Request: action is empty")
        return ok_reply(True)

    def _set_webhook(self, params: JSONDict) -> Reply:
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
        return json_reply(200, {"ok": True, "result": True, "description": description})

    def _delete_webhook(self, params: JSONDict) -> Reply:
        with self._cond:
            self._webhook = {"url": "", "secret_token": None}
            if params.get("drop_pending_updates"):
                self._updates.clear()
        return json_reply(200, {"ok": True, "result": True, "description": "Webhook was deleted"})

    def _get_webhook_info(self, params: JSONDict) -> Reply:
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
        return ok_reply(info)

    def _get_updates(self, params: JSONDict) -> Reply:
        offset = params.get("offset")
        limit = params.get("limit") or 100
        timeout = float(params.get("timeout") or 0)
        with self._cond:
            if self._webhook["url"]:
                return error_reply(
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
            return ok_reply(self._updates[: max(1, min(int(limit), 100))])
