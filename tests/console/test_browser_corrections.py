"""A correction request handled in a real browser (Debian's Chromium, by Playwright).

A customer on the fake Telegram asks to have their name and phone number corrected;
an agent opens the pending request, first types a phone number that is no number (the
form says so and nothing changes), then the right one, saves and confirms in one step.
The customer's record, the audit log and the request show it, and the customer is told.
"""

from __future__ import annotations

from playwright.sync_api import Browser, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.models import AuditLog, Channel, Customer, DataRequest, DataRequestStatus
from tests.channels.conftest import wait_until
from tests.console.conftest import Console, screenshot, sign_in
from tests.factories import make_customer

CHAT = 8101
WORDS = "我的名字登記錯了 要改成王曉明，電話也換了是0912000811"


def stored(console: Console) -> tuple[str, list[str], DataRequestStatus, list[AuditLog]]:
    """The customer's name and SMS numbers, the request's status, the corrections logged."""

    def read(session: Session) -> tuple[str, list[str], DataRequestStatus, list[AuditLog]]:
        customer = session.scalars(select(Customer)).one()
        phones = [i.address for i in customer.identities if i.channel is Channel.SMS]
        status = session.scalars(select(DataRequest.status)).one()
        logged = session.scalars(
            select(AuditLog).where(AuditLog.action == "customer.correct")
        ).all()
        return customer.name, phones, status, list(logged)

    return console.running.query(read)


def test_an_agent_corrects_name_and_phone_from_the_request_and_confirms_it(
    browser: Browser, console: Console
) -> None:
    running = console.running
    with running.store() as session, session.begin():
        make_customer(session, name="王小明", telegram_chat_id=str(CHAT), phone="+886912348111")
    running.say_on_telegram(CHAT * 10, CHAT, WORDS)
    running.telegram.wait_for_sent(CHAT)
    request_id = wait_until(
        lambda: running.query(lambda s: s.scalars(select(DataRequest.id)).first()),
        what="the request stored",
    )

    page = browser.new_page(viewport={"width": 1280, "height": 860})
    sign_in(page, running.url, "agent@shop.test")
    page.get_by_role("link", name="1 件個資請求待處理").click()  # the queue's notice
    row = page.locator(f"tr[data-request='{request_id}']")
    expect(row).to_contain_text("更正")
    row.get_by_role("link", name="更正資料").click()
    expect(page.locator("h1")).to_contain_text("王小明")
    expect(page.locator("blockquote")).to_contain_text("要改成王曉明")
    expect(page.get_by_label("簡訊手機號碼")).to_have_value("+886912348111")

    # A number with digits missing: the form says so, keeps what was typed, changes nothing.
    page.get_by_label("姓名").fill("王曉明")
    page.get_by_label("簡訊手機號碼").fill("0912-000")
    page.get_by_role("button", name="儲存").click()
    expect(page.get_by_role("alert").first).to_contain_text("資料都還沒有變更")
    expect(page.locator("#details")).to_contain_text("「0912-000」不是有效的電話號碼。")
    expect(page.get_by_label("姓名")).to_have_value("王曉明")
    assert stored(console) == ("王小明", ["+886912348111"], DataRequestStatus.PENDING, [])

    page.get_by_label("簡訊手機號碼").fill("0912-000-811")
    expect(page.get_by_label("同時標記這個請求「已更正」並通知顧客")).to_be_checked()
    screenshot(page, "console-correction")
    page.get_by_role("button", name="儲存").click()
    expect(page).to_have_url(f"{running.url}/console/requests")
    decided = page.locator(f"tr[data-request='{request_id}']")
    expect(decided).to_contain_text("已完成")
    expect(decided).to_contain_text("王曉明")
    page.close()

    name, phones, status, [logged] = stored(console)
    assert (name, phones, status) == ("王曉明", ["+886912000811"], DataRequestStatus.DONE)
    assert logged.actor == "agent@shop.test" and logged.details is not None
    assert logged.details["changes"] == {
        "name": {"old": "王小明", "new": "王曉明"},
        "phone": {"old": "+886912348111", "new": "+886912000811"},
    }
    assert "已經更新好了" in running.telegram.wait_for_sent(CHAT, count=2)[1]["text"]
