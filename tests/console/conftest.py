"""The console running for real in the gateway app, with staff of every role."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import select

from crm_store.db import make_engine, make_session_factory, session_scope
from crm_store.models import (
    ComplaintCategory,
    Conversation,
    HandoffReason,
    Language,
    StaffRole,
)
from crm_store.staff import create_staff_user
from crm_store.tickets import open_ticket, request_handoff
from crmbot.web import create_app
from tests.channels.conftest import RunningGateway, running_gateway
from tests.fakes import FakeTelegram, FakeTwilio
from tests.processes import ROOT

PASSWORD = "correct horse battery staple"
SCREENSHOTS = ROOT / "var" / "screenshots"
STAFF = {
    "agent@shop.test": ("陳小美", StaffRole.AGENT),
    "agent2@shop.test": ("林大文", StaffRole.AGENT),
    "marketer@shop.test": ("Mark Lee", StaffRole.MARKETER),
    "admin@shop.test": ("王店長", StaffRole.ADMIN),
}


@dataclass
class Console:
    running: RunningGateway
    staff_ids: dict[str, int]

    @property
    def url(self) -> str:
        return self.running.url

    def browser(self) -> httpx.Client:
        """A fresh client with its own cookie jar, like a browser nobody signed in to."""
        return httpx.Client(base_url=self.url, timeout=30, headers={"Accept": "text/html"})

    @contextmanager
    def signed_in(self, email: str) -> Iterator[httpx.Client]:
        with self.browser() as client:
            token = csrf_of(client.get("/console/login").text)
            response = client.post(
                "/console/login", data={"email": email, "password": PASSWORD, "csrf_token": token}
            )
            assert response.status_code == 303, response.text
            yield client


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def reply_id_of(html: str) -> str:
    match = re.search(r'name="reply_id" value="([0-9a-f]{32})"', html)
    assert match, "no reply form on the page"
    return match.group(1)


CHAT = 7001  # the Telegram chat of the customer `customer_waiting` hands to staff


def customer_waiting(console: Console, chat_id: int = CHAT, *, with_ticket: bool = True) -> int:
    """A Telegram customer who wrote in and was handed to staff; returns the handoff id."""
    running = console.running
    running.say_on_telegram(chat_id * 10, chat_id, "東西壞了，我要找真人")
    running.telegram.wait_for_sent(chat_id, timeout=30)  # the holding reply: Rasa is down
    now = datetime.now(UTC)
    with running.store() as session, session.begin():
        conversation = session.scalars(select(Conversation)).all()[-1]
        customer = conversation.identity.customer
        ticket = None
        if with_ticket:
            ticket = open_ticket(
                session,
                customer=customer,
                conversation=conversation,
                category=ComplaintCategory.QUALITY,
                language=Language.ZH_TW,
                text="東西壞了",
                now=now,
            )
        handoff = request_handoff(
            session,
            conversation=conversation,
            customer=customer,
            reason=HandoffReason.ASKED_FOR_PERSON,
            ticket=ticket,
            now=now,
        )
        return handoff.id


def add_staff(database_url: str) -> dict[str, int]:
    engine = make_engine(database_url)
    ids = {}
    with session_scope(make_session_factory(engine)) as session:
        for email, (name, role) in STAFF.items():
            user = create_staff_user(
                session=session,
                email=email,
                display_name=name,
                role=role,
                password=PASSWORD,
                actor="test",
            )
            ids[email] = user.id
    engine.dispose()
    return ids


@pytest.fixture
def console(
    database_url: str, fake_telegram: FakeTelegram, fake_twilio: FakeTwilio
) -> Iterator[Console]:
    staff_ids = add_staff(database_url)
    with running_gateway(
        database_url, telegram=fake_telegram, twilio=fake_twilio, app_factory=create_app
    ) as running:
        yield Console(running=running, staff_ids=staff_ids)


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path, "Chromium is missing: `sudo apt-get install chromium` (.ci/run does this)"
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright; one a test module."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), headless=True)
        yield browser
        browser.close()


def sign_in(page: Page, url: str, email: str) -> None:
    """Sign `email` in on the console's login page, as staff do."""
    page.goto(f"{url}/console/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{url}/console")


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
