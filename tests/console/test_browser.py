"""The console in a real browser (Debian's Chromium, driven by Playwright).

An agent signs in; a customer on the fake Telegram asks for a person and the real
bot hands them off; the handoff appears live in the agent's queue; the agent claims it,
answers (the fake Telegram receives it), sees the customer's answer arrive live, hands
the customer back, and the bot answers the customer's next message. Screenshots of the
queue and the conversation go to var/screenshots/.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from crm_store.db import make_engine, make_session_factory, session_scope
from crm_store.models import StaffRole
from crm_store.staff import create_staff_user
from crmbot.web import create_app
from tests.channels.conftest import RunningGateway, running_gateway
from tests.console.conftest import PASSWORD, screenshot, sign_in
from tests.fakes import FakeTelegram, FakeTwilio
from tests.processes import Assistant

pytestmark = pytest.mark.rasa

_chats = itertools.count(3001)


@pytest.fixture
def console_with_bot(
    assistant: Assistant, fake_telegram: FakeTelegram, fake_twilio: FakeTwilio
) -> Iterator[tuple[RunningGateway, str]]:
    chat = next(_chats)
    email = f"agent{chat}@shop.test"
    engine = make_engine(assistant.database_url)
    with session_scope(make_session_factory(engine)) as session:
        create_staff_user(
            session=session,
            email=email,
            display_name="陳小美",
            role=StaffRole.AGENT,
            password=PASSWORD,
            actor="test",
        )
    engine.dispose()
    with running_gateway(
        assistant.database_url,
        telegram=fake_telegram,
        twilio=fake_twilio,
        rasa_url=assistant.rasa_url,
        app_factory=create_app,
        holding_reply_after_seconds=30,
        business_hours="mon-sun 00:00-23:59",
    ) as running:
        yield running, email


def test_an_agent_takes_a_handoff_live_answers_and_hands_back_to_the_bot(
    browser: Browser, console_with_bot: tuple[RunningGateway, str]
) -> None:
    running, email = console_with_bot
    chat = int(email.removeprefix("agent").split("@")[0])
    telegram = running.telegram
    update_ids = itertools.count(chat * 100)
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    sign_in(page, running.url, email)
    # The store is shared with other tests, whose customers may be waiting too.
    mine = page.locator("[data-handoff]", has_text="王小姐")
    expect(mine).to_have_count(0)

    # The customer asks for a person over Telegram; the bot hands off.
    running.say_on_telegram(next(update_ids), chat, "我要找真人客服", first_name="王小姐")
    handed_off = telegram.wait_for_sent(chat, timeout=60)[-1]["text"]
    assert "同事" in handed_off, handed_off

    # It appears in the open queue page by itself, and the title shows a badge.
    entry = mine
    expect(entry).to_be_visible(timeout=10_000)
    expect(page).to_have_title(re.compile(r"^\(\d+\) 待處理$"))
    assert screenshot(page, "console-queue").stat().st_size > 10_000

    entry.get_by_role("button", name="接手").click()
    expect(page.locator("h1")).to_contain_text("王小姐")
    expect(page.locator("#transcript")).to_contain_text("我要找真人客服")

    page.fill("#reply-text", "您好，我是陳小美，請問有什麼可以幫您？")
    page.get_by_role("button", name="送出").dblclick()  # an impatient double click
    sent = telegram.wait_for_sent(chat, 2, timeout=10)[-1]["text"]
    assert sent == "您好，我是陳小美，請問有什麼可以幫您？"
    expect(page.locator("#transcript")).to_contain_text("請問有什麼可以幫您")

    # The customer's answer shows up live in the agent's page.
    running.say_on_telegram(next(update_ids), chat, "我想改收件地址")
    expect(page.locator("#transcript")).to_contain_text("我想改收件地址", timeout=10_000)
    # The double click sent one message, and the bot stays quiet while the agent has it.
    assert len(telegram.sent_to(chat)) == 2
    page.fill("#reply-text", "好的，我幫您改，請稍等。")
    page.get_by_role("button", name="送出").click()  # a new reply goes out as well
    assert telegram.wait_for_sent(chat, 3, timeout=10)[-1]["text"] == "好的，我幫您改，請稍等。"
    screenshot(page, "console-conversation")

    page.get_by_role("button", name="交還機器人").click()
    expect(page).to_have_url(f"{running.url}/console")
    handed_back = telegram.wait_for_sent(chat, 4, timeout=10)[-1]["text"]
    assert "陳小美" in handed_back

    # The bot answers the customer's next message again.
    running.say_on_telegram(next(update_ids), chat, "你們幾點開門？")
    answer = telegram.wait_for_sent(chat, 5, timeout=60)[-1]["text"]
    assert "11:00" in answer, answer
    page.close()


def test_the_console_fits_a_phone_screen(
    browser: Browser, console_with_bot: tuple[RunningGateway, str]
) -> None:
    running, email = console_with_bot
    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    sign_in(phone, running.url, email)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the queue page is {width}px wide on a 390px phone"
    screenshot(phone, "console-queue-phone")
    phone.close()
