"""A LINE user writing to the running gateway, as LINE posts their events."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx

from crm_store import line_usage
from crm_store.models import Channel
from tests.channels.conftest import RunningGateway, running_gateway
from tests.channels.gateway_helpers import identity
from tests.fakes import FakeTelegram, FakeTwilio
from tests.fakes.line import FakeLine, line_settings, line_signature, webhook_body
from tests.fakes.loopback import JSONDict


@contextmanager
def line_gateway(
    database_url: str,
    *,
    line: FakeLine,
    telegram: FakeTelegram,
    twilio: FakeTwilio,
    **overrides: Any,
) -> Iterator[RunningGateway]:
    """The running gateway (Rasa down unless `rasa_url` is given) with LINE set up."""
    with running_gateway(
        database_url, telegram=telegram, twilio=twilio, **line_settings(line), **overrides
    ) as gateway:
        yield gateway


def pushes_counted(gateway: RunningGateway) -> int:
    """The month's LINE pushes as the store counted them."""
    timezone = gateway.settings.default_timezone
    return gateway.query(
        lambda s: line_usage.pushes_in_month(s, now=datetime.now(UTC), timezone=timezone)
    )


def post_line(
    gateway: RunningGateway, *events: JSONDict, signature: str | None = "sign"
) -> httpx.Response:
    """Post `events` as LINE does; `signature` "sign" signs them, None leaves it out."""
    body = webhook_body(*events)
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Line-Signature"] = line_signature(body) if signature == "sign" else signature
    return gateway.http.post("/line/webhook", content=body, headers=headers)


class LineUser:
    """One LINE user of the shop's account; what they got is the fake's record."""

    def __init__(self, gateway: RunningGateway, line: FakeLine, user_id: str) -> None:
        self.gateway, self.line, self.user_id = gateway, line, user_id

    def writes(self, text: str, **event: Any) -> None:
        response = post_line(self.gateway, self.line.text_event(self.user_id, text, **event))
        assert response.status_code == 200, response.text

    def says(self, text: str, *, timeout: float = 60) -> str:
        """Write `text` and return the answer (all the bot's replies, as one message)."""
        before = len(self.line.sent_to(self.user_id))
        self.writes(text)
        return self.line.wait_for_sent(self.user_id, before + 1, timeout=timeout)[-1]["text"]

    def quick_replies(self) -> list[str]:
        """The titles of the options under the last message (what tapping one sends)."""
        return [text for _, text in self.line.sent_to(self.user_id)[-1]["quick_replies"]]

    @property
    def customer_id(self) -> int:
        return self.gateway.query(lambda s: identity(s, Channel.LINE, self.user_id).customer_id)
