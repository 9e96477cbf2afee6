"""A fake LINE Messaging API on loopback, and the webhook bodies LINE posts.

The real line-bot-sdk reaches it through `LINE_API_BASE_URL`. Like LINE, it hands out
reply tokens with the events (`text_event`), takes each once (`/v2/bot/message/reply`
refuses a token used before, or one it never gave, with LINE's 400), and counts every
push against the month's quota, which `/v2/bot/message/quota` and
`/v2/bot/message/quota/consumption` report.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import uuid
from email.message import Message
from typing import Any, Literal, TypedDict

from tests.fakes.loopback import JSONDict, LoopbackServer, Reply, json_reply

LINE_CHANNEL_SECRET = "line-channel-secret"
LINE_ACCESS_TOKEN = "line-channel-access-token"
# LINE's message ids are unique across everything, so each fake in a run goes on counting
# (tests sharing one store would otherwise record the same id twice).
_MESSAGE_IDS = itertools.count(500_000_000_000)


class LineSent(TypedDict):
    kind: Literal["reply", "push"]
    to: str
    text: str
    # The quick replies under it: (label, the text tapping it sends).
    quick_replies: list[tuple[str, str]]


class FakeLine(LoopbackServer):
    """What the shop's LINE account sent, by reply or push, to whom."""

    def __init__(self, *, access_token: str = LINE_ACCESS_TOKEN, quota: int = 200) -> None:
        super().__init__()
        self.access_token, self.quota = access_token, quota
        self._sent: list[LineSent] = []
        self._tokens: dict[str, str] = {}  # reply token given → the user it answers
        self._used_tokens: set[str] = set()
        self._pushes = 0
        self._retry_keys: set[str] = set()
        self._lose_push_answers = 0
        # Pushes the shop made outside this project (LINE's own tools): LINE counts them.
        self.pushed_elsewhere = 0
        # The profiles LINE gives (user id → its JSON); other users are not found.
        self.profiles: dict[str, JSONDict] = {}
        self.profile_requests: list[str] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def sent(self) -> list[LineSent]:
        with self._cond:
            return list(self._sent)

    @property
    def pushes(self) -> int:
        with self._cond:
            return self._pushes

    def sent_to(self, user_id: str) -> list[LineSent]:
        with self._cond:
            return [sent for sent in self._sent if sent["to"] == user_id]

    def wait_for_sent(self, user_id: str, count: int = 1, timeout: float = 10.0) -> list[LineSent]:
        """Block until `count` messages went to `user_id`; fail with what was sent instead."""
        with self._cond:
            if self._cond.wait_for(lambda: len(self.sent_to(user_id)) >= count, timeout):
                return self.sent_to(user_id)
            raise AssertionError(
                f"expected {count} LINE message(s) to {user_id} within {timeout} s; "
                f"all sent: {[(s['kind'], s['to'], s['text']) for s in self._sent]!r}"
            )

    def reply_token(self, user_id: str) -> str:
        """A new reply token for an event of `user_id`, as a webhook carries it."""
        token = uuid.uuid4().hex
        with self._cond:
            self._tokens[token] = user_id
        return token

    def text_event(
        self,
        user_id: str,
        text: str,
        *,
        event_id: str | None = None,
        redelivery: bool = False,
    ) -> JSONDict:
        """A user's text message event, with a fresh reply token."""
        return {
            **_event_envelope("message", user_id, event_id=event_id, redelivery=redelivery),
            "replyToken": self.reply_token(user_id),
            "message": {
                "type": "text",
                "id": str(next(_MESSAGE_IDS)),
                "quoteToken": uuid.uuid4().hex,
                "text": text,
            },
        }

    def follow_event(self, user_id: str, *, following: bool = True) -> JSONDict:
        if not following:
            return _event_envelope("unfollow", user_id)
        return {
            **_event_envelope("follow", user_id),
            "replyToken": self.reply_token(user_id),
            "follow": {"isUnblocked": False},
        }

    def lose_next_push_answer(self) -> None:
        """Take the next push, but answer it with a 500, as if its answer was lost."""
        with self._cond:
            self._lose_push_answers += 1

    # ---- the API

    def _handle(self, method: str, path: str, headers: Message[str, str], body: bytes) -> Reply:
        if headers.get("Authorization") != f"Bearer {self.access_token}":
            return json_reply(401, {"message": "Authentication failed."})
        route = (method, path.split("?")[0])
        if route == ("GET", "/v2/bot/message/quota"):
            return json_reply(200, {"type": "limited", "value": self.quota})
        if route == ("GET", "/v2/bot/message/quota/consumption"):
            return json_reply(200, {"totalUsage": self.pushes + self.pushed_elsewhere})
        if method == "GET" and route[1].startswith("/v2/bot/profile/"):
            return self._profile(route[1].removeprefix("/v2/bot/profile/"))
        if route == ("POST", "/v2/bot/message/reply"):
            return self._reply(json.loads(body))
        if route == ("POST", "/v2/bot/message/push"):
            return self._push(json.loads(body), headers.get("X-Line-Retry-Key"))
        return json_reply(404, {"message": "Not found"})

    def _profile(self, user_id: str) -> Reply:
        with self._cond:
            self.profile_requests.append(user_id)
            profile = self.profiles.get(user_id)
            self._cond.notify_all()
        if profile is None:
            return json_reply(404, {"message": "Not found"})
        return json_reply(200, {"userId": user_id, **profile})

    def _reply(self, request: JSONDict) -> Reply:
        token = request.get("replyToken")
        with self._cond:
            user_id = self._tokens.get(token or "")
            if user_id is None or token in self._used_tokens:
                return json_reply(400, {"message": "Invalid reply token"})
            self._used_tokens.add(token)
            return self._record("reply", user_id, request["messages"])

    def _push(self, request: JSONDict, retry_key: str | None) -> Reply:
        with self._cond:
            if retry_key is not None and retry_key in self._retry_keys:
                return json_reply(
                    409,
                    {"message": "The retry key is already accepted"},
                    {"x-line-accepted-request-id": retry_key},
                )
            if self._pushes >= self.quota:
                return json_reply(429, {"message": "You have reached your monthly limit."})
            self._pushes += 1
            if retry_key is not None:
                self._retry_keys.add(retry_key)
            answer = self._record("push", request["to"], request["messages"])
            if self._lose_push_answers:
                self._lose_push_answers -= 1
                return json_reply(500, {"message": "An error occurred in the server."})
            return answer

    def _record(self, kind: Literal["reply", "push"], to: str, messages: list[JSONDict]) -> Reply:
        """Record `messages` (holding the condition) and answer as LINE does."""
        for message in messages:
            items = (message.get("quickReply") or {}).get("items", [])
            self._sent.append(
                LineSent(
                    kind=kind,
                    to=to,
                    text=message["text"],
                    quick_replies=[(i["action"]["label"], i["action"]["text"]) for i in items],
                )
            )
        self._cond.notify_all()
        sent = [{"id": str(next(_MESSAGE_IDS))} for _ in messages]
        return json_reply(200, {"sentMessages": sent})


def _event_envelope(
    kind: str, user_id: str, *, event_id: str | None = None, redelivery: bool = False
) -> JSONDict:
    return {
        "type": kind,
        "mode": "active",
        "timestamp": 1_764_550_000_000,
        "source": {"type": "user", "userId": user_id},
        "webhookEventId": event_id or uuid.uuid4().hex.upper()[:26],
        "deliveryContext": {"isRedelivery": redelivery},
    }


def webhook_body(*events: JSONDict) -> bytes:
    return json.dumps(
        {"destination": "U0000000000000000000000000000000", "events": list(events)},
        ensure_ascii=False,
    ).encode("utf-8")


def line_signature(body: bytes, secret: str = LINE_CHANNEL_SECRET) -> str:
    """The `X-Line-Signature` LINE sends with `body`."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def line_settings(fake: FakeLine) -> dict[str, Any]:
    """The settings that point a gateway at `fake`."""
    return {
        "line_channel_secret": LINE_CHANNEL_SECRET,
        "line_channel_access_token": fake.access_token,
        "line_api_base_url": fake.base_url,
        "line_monthly_quota": fake.quota,
    }
