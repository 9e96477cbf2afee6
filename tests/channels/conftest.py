"""The gateway running for real (uvicorn on loopback) between fake Telegram and Twilio."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from channels.gateway import Gateway, create_app
from crm_store.db import make_engine, make_session_factory
from crm_store.models import Base
from crm_store.settings import Settings
from tests.fakes import (
    TELEGRAM_BOT_TOKEN,
    FakeTelegram,
    FakeTwilio,
    telegram_text_update,
    twilio_signature,
    twilio_sms_form,
)
from tests.fakes.line import FakeLine
from tests.processes import Assistant, free_port

WEBHOOK_SECRET = "telegram-webhook-secret"
SHOP_NUMBER = "+15005550006"
CLOSED_PORT_URL = "http://127.0.0.1:9"  # nothing listens: Rasa is "down"

T = TypeVar("T")


@dataclass
class RunningGateway:
    url: str
    app: FastAPI
    settings: Settings
    http: httpx.Client
    store: sessionmaker[Session]
    telegram: FakeTelegram
    twilio: FakeTwilio

    @property
    def gateway(self) -> Gateway:
        gateway: Gateway = self.app.state.gateway
        return gateway

    def post_telegram(self, update: Any, *, secret: str | None = WEBHOOK_SECRET) -> httpx.Response:
        headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
        return self.http.post("/telegram/webhook", json=update, headers=headers)

    def say_on_telegram(self, update_id: int, chat_id: int, text: str, **kw: Any) -> None:
        response = self.post_telegram(telegram_text_update(update_id, chat_id, text, **kw))
        assert response.status_code == 200, response.text

    def post_sms(
        self, form: dict[str, str], *, path: str = "/sms/twilio", sign: bool = True
    ) -> httpx.Response:
        headers = self.twilio_signature_header(path, form) if sign else {}
        return self.http.post(path, data=form, headers=headers)

    def twilio_signature_header(self, path: str, params: Mapping[str, str]) -> dict[str, str]:
        """The header Twilio signs a post of `params` to `path` with."""
        url = self.settings.public_base_url + path
        return {"X-Twilio-Signature": twilio_signature(url, params, self.twilio.auth_token)}

    def text_in(self, sid: str, phone: str, body: str) -> None:
        form = twilio_sms_form(sid, phone, SHOP_NUMBER, body, account_sid=self.twilio.account_sid)
        response = self.post_sms(form)
        assert response.status_code == 200, response.text
        assert "<Response></Response>" in response.text

    def count(self, model: type[Base]) -> int:
        with self.store() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)

    def query(self, work: Callable[[Session], T]) -> T:
        with self.store() as session:
            return work(session)


def wait_until(condition: Callable[[], T], *, timeout: float = 15, what: str = "") -> T:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        time.sleep(0.05)


def gateway_settings(
    database_url: str,
    *,
    port: int,
    rasa_url: str,
    telegram: FakeTelegram,
    twilio: FakeTwilio,
    **overrides: Any,
) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": database_url,
        "rasa_url": rasa_url,
        "public_base_url": f"http://127.0.0.1:{port}",
        "gateway_port": port,
        "telegram_bot_token": TELEGRAM_BOT_TOKEN,
        "telegram_webhook_secret": WEBHOOK_SECRET,
        "telegram_api_base_url": telegram.base_url,
        "telegram_mode": "webhook",
        "twilio_account_sid": twilio.account_sid,
        "twilio_auth_token": twilio.auth_token,
        "twilio_from_number": SHOP_NUMBER,
        "twilio_api_base_url": twilio.base_url,
        "burst_window_seconds": 0,
        "holding_reply_after_seconds": 5,
        "rasa_timeout_seconds": 30,
        # These tests queue notices and campaign messages too, with no scheduler running.
        "gateway_sends_everything": True,
        "quiet_hours": "00:00-00:00",  # none
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@contextmanager
def running_gateway(
    database_url: str,
    *,
    telegram: FakeTelegram,
    twilio: FakeTwilio,
    rasa_url: str = CLOSED_PORT_URL,
    app_factory: Callable[[Settings], FastAPI] = create_app,
    **overrides: Any,
) -> Iterator[RunningGateway]:
    port = free_port()
    settings = gateway_settings(
        database_url, port=port, rasa_url=rasa_url, telegram=telegram, twilio=twilio, **overrides
    )
    app = app_factory(settings)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="gateway", daemon=True)
    thread.start()
    engine = make_engine(database_url)
    try:
        wait_until(lambda: server.started or not thread.is_alive(), timeout=30, what="gateway")
        assert server.started, "the gateway did not start"
        with httpx.Client(base_url=settings.public_base_url, timeout=30) as http:
            yield RunningGateway(
                url=settings.public_base_url,
                app=app,
                settings=settings,
                http=http,
                store=make_session_factory(engine),
                telegram=telegram,
                twilio=twilio,
            )
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        engine.dispose()


@pytest.fixture
def gateway(
    database_url: str, fake_telegram: FakeTelegram, fake_twilio: FakeTwilio
) -> Iterator[RunningGateway]:
    """The gateway with Rasa down: for everything that happens before or without the bot."""
    with running_gateway(database_url, telegram=fake_telegram, twilio=fake_twilio) as running:
        yield running


@pytest.fixture
def fake_line() -> Iterator[FakeLine]:
    """LINE's Messaging API, faked on loopback (a module may give its own, with a quota)."""
    with FakeLine() as line:
        yield line


@pytest.fixture
def line_shop(
    database_url: str, fake_line: FakeLine, fake_telegram: FakeTelegram, fake_twilio: FakeTwilio
) -> Iterator[RunningGateway]:
    """The gateway with LINE set up and Rasa down."""
    from tests.channels.line_helpers import line_gateway  # it builds on this module

    with line_gateway(
        database_url, line=fake_line, telegram=fake_telegram, twilio=fake_twilio
    ) as running:
        yield running


@pytest.fixture
def line_assistant(
    assistant: Assistant, fake_line: FakeLine, fake_telegram: FakeTelegram, fake_twilio: FakeTwilio
) -> Iterator[RunningGateway]:
    """The gateway with LINE, the real Rasa and action server on their (shared) store."""
    from tests.channels.line_helpers import line_gateway
    from tests.channels.test_conversations import WARM_UP

    with line_gateway(
        assistant.database_url,
        line=fake_line,
        telegram=fake_telegram,
        twilio=fake_twilio,
        rasa_url=assistant.rasa_url,
        holding_reply_after_seconds=WARM_UP,
    ) as gateway:
        yield gateway
