"""Benchmark of the staff console's live path, in a real browser.

    .venv/bin/python -m bench.handoff [--messages 30]

Starts the web process (gateway and console, uvicorn, as in the Procfile) on a fresh
SQLite store, a fake Telegram on loopback, and Debian's Chromium (Playwright) with an
agent signed in and a customer's conversation open. Then, `--messages` times:

- the customer writes over Telegram (a webhook as Telegram sends it), timed until the
  text shows in the agent's open page (server-sent events and a page update);
- the agent types an answer and presses Send, timed until the fake Telegram gets it
  (the outbox and the Telegram sender).

It prints p50/p95 of both against the target (under 1 s each). It never asserts.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright
from rich.console import Console
from rich.table import Table

from crm_store import handoffs, migrate
from crm_store.conversations import identity_for, open_conversation
from crm_store.db import make_engine, make_session_factory, session_scope
from crm_store.models import Channel, HandoffReason, Language, StaffRole
from crm_store.staff import create_staff_user
from crm_store.tickets import request_handoff
from tests.fakes import FakeTelegram, telegram_text_update
from tests.processes import free_port, running

SECRET = "bench-webhook-secret"
EMAIL, PASSWORD = "agent@bench.test", "benchmark password"
CHAT = 424242


def prepare(database_url: str) -> int:
    """An agent, and a Telegram customer handed off to them; the conversation's id."""
    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    now = datetime.now(UTC)
    with session_scope(make_session_factory(engine)) as session:
        agent = create_staff_user(
            session=session,
            email=EMAIL,
            display_name="Bench agent",
            role=StaffRole.AGENT,
            password=PASSWORD,
            actor="bench",
        )
        identity = identity_for(
            session,
            channel=Channel.TELEGRAM,
            address=str(CHAT),
            language=Language.ZH_TW,
            timezone="Asia/Taipei",
            now=now,
        )
        conversation = open_conversation(session, identity, now=now)
        handoff = request_handoff(
            session,
            conversation=conversation,
            customer=identity.customer,
            reason=HandoffReason.ASKED_FOR_PERSON,
            ticket=None,
            now=now,
        )
        handoffs.claim(session, handoff.id, agent=agent, now=now)
        conversation_id = conversation.id
    engine.dispose()
    return conversation_id


def shows(page: Page, text: str, timeout: float = 10) -> None:
    page.wait_for_function(
        "text => document.getElementById('transcript').innerText.includes(text)",
        arg=text,
        polling=5,
        timeout=timeout * 1000,
    )


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=30)
    args = parser.parse_args()
    console = Console()
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("Chromium is missing: `sudo apt-get install chromium`")

    with tempfile.TemporaryDirectory(prefix="bench-handoff-") as folder, ExitStack() as stack:
        database_url = f"sqlite:///{Path(folder) / 'crmbot.db'}"
        conversation_id = prepare(database_url)
        telegram = stack.enter_context(FakeTelegram())
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {
            "DATABASE_URL": database_url,
            "RASA_URL": "http://127.0.0.1:9",  # the agent has the customer: no bot needed
            "PUBLIC_BASE_URL": url,
            **telegram.settings_env(webhook_secret=SECRET),
            "BURST_WINDOW_SECONDS": "0",
        }
        command = [sys.executable, "-m", "uvicorn", "crmbot.web:create_app", "--factory"]
        command += ["--port", str(port), "--log-level", "warning"]
        with console.status("starting the web process and Chromium…"):
            stack.enter_context(
                running(command, ready_url=f"{url}/chat", log=Path(folder) / "web.log", env=env)
            )
            playwright = stack.enter_context(sync_playwright())
            browser = playwright.chromium.launch(executable_path=chromium, headless=True)
            stack.callback(browser.close)
            page = browser.new_page()
            page.goto(f"{url}/console/login")
            page.fill("input[name=email]", EMAIL)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{url}/console")
            page.goto(f"{url}/console/conversations/{conversation_id}")

        to_page: list[float] = []
        to_channel: list[float] = []
        http = stack.enter_context(httpx.Client(base_url=url, timeout=30))
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        for i in range(args.messages):
            text = f"顧客訊息 {i}"
            started = time.perf_counter()
            update = telegram_text_update(1000 + i, CHAT, text)
            http.post("/telegram/webhook", json=update, headers=headers).raise_for_status()
            shows(page, text)
            to_page.append(time.perf_counter() - started)

            answer = f"客服回覆 {i}"
            page.fill("#reply-text", answer)
            started = time.monotonic()
            page.click("form#reply button[type=submit]")
            sent = telegram.wait_for_sent(CHAT, i + 1, timeout=10)[-1]
            to_channel.append(sent["at"] - started)
            # Telegram allows about one message a second per chat; stay a customer's pace.
            time.sleep(max(0.0, 1.1 - (time.monotonic() - started)))

    table = Table(title=f"{args.messages} messages each way")
    for column in ("path", "p50 ms", "p95 ms", "target"):
        table.add_column(column, justify="left" if column == "path" else "right")
    for name, values in (
        ("customer message → agent's open page", to_page),
        ("agent's Send → fake Telegram", to_channel),
    ):
        p95 = percentile(values, 95)
        verdict = "met" if p95 < 1000 else "missed"
        table.add_row(name, f"{percentile(values, 50):.0f}", f"{p95:.0f}", f"< 1000 ({verdict})")
    console.print(table)


if __name__ == "__main__":
    main()
