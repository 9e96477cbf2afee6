"""The fake Twilio Messages API server."""

from __future__ import annotations

import base64
import binascii
import re
import time
import uuid
from collections import deque
from datetime import UTC, datetime
from email.message import Message
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from tests.fakes.loopback import JSONDict, LoopbackServer, Reply, form_fields, json_reply
from tests.fakes.twilio_wire import (
    API_ROOT,
    E164,
    TWILIO_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN,
    TWILIO_ERRORS,
    TWILIO_MAX_BODY,
    TwilioCall,
    TwilioFailure,
    TwilioSent,
    rfc2822,
    sms_segments,
)


class FakeTwilio(LoopbackServer):
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
        self._failures: list[TwilioFailure] = []
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
        return f"{self.base_url}{API_ROOT}/Accounts/{self.account_sid}/Messages.json"

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
        text = message or TWILIO_ERRORS.get(code) or HTTPStatus(status).phrase
        with self._cond:
            self._failures.append(TwilioFailure(status, code, text, to, times, retry_after))

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

    def _handle(self, method: str, path: str, headers: Message[str, str], body: bytes) -> Reply:
        url = urlsplit(path)
        fields = {name: values[0] for name, values in form_fields(body).items()}
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
    ) -> Reply:
        payload = {
            "code": code,
            "message": message or TWILIO_ERRORS.get(code, HTTPStatus(status).phrase),
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        if status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
        return json_reply(status, payload, headers)

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
    ) -> Reply:
        if not self._authorized(headers):
            return self._error(401, 20003)
        prefix = f"{API_ROOT}/Accounts/{self.account_sid}/Messages"
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
                return json_reply(200, resource)
        return self._error(404, 20404, f"The requested resource {path} was not found")

    def _programmed_failure(self, to: str | None) -> Reply | None:
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

    def _list_messages(self, prefix: str, fields: dict[str, str]) -> Reply:
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
        return json_reply(
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

    def _create_message(self, fields: dict[str, str]) -> Reply:
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
        if not E164.fullmatch(to):
            return self._error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if sender is None and service is None:
            return self._error(400, 21603)
        has_media = bool(fields.get("MediaUrl") or fields.get("ContentSid"))
        if not body and not has_media:
            return self._error(400, 21602)
        if len(body) > TWILIO_MAX_BODY:
            return self._error(400, 21617)
        sid = "SM" + uuid.uuid4().hex
        now = rfc2822(datetime.now(UTC))
        uri = f"{API_ROOT}/Accounts/{self.account_sid}/Messages/{sid}.json"
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
                "media": f"{API_ROOT}/Accounts/{self.account_sid}/Messages/{sid}/Media.json"
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
        return json_reply(201, resource)
