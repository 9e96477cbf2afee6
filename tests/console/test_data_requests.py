"""Staff deciding customers' personal-data requests (個資法) in the console, over HTTP.

The customer asks over the fake Telegram or Twilio through the real gateway; the
agent sees the request on the queue and its page, and confirms or refuses it there.
"""

from __future__ import annotations

import httpx
from sqlalchemy import select

from crm_store.customers import ERASED_NAME
from crm_store.models import (
    AuditLog,
    Customer,
    DataRequest,
    DataRequestStatus,
    Language,
)
from tests.channels.conftest import wait_until
from tests.console.conftest import Console, csrf_of
from tests.factories import make_customer


def decide(agent: httpx.Client, request_id: int, decision: str) -> httpx.Response:
    token = csrf_of(agent.get("/console/requests").text)
    return agent.post(
        f"/console/requests/{request_id}/decide",
        data={"csrf_token": token, "decision": decision},
    )


def only_request(console: Console) -> DataRequest:
    return console.running.query(lambda s: s.scalars(select(DataRequest)).one())


def audit(console: Console) -> list[tuple[str, str]]:
    rows = console.running.query(lambda s: s.scalars(select(AuditLog).order_by(AuditLog.id)).all())
    return [(row.actor, row.action) for row in rows]


def test_an_agent_confirms_a_deletion_and_the_customer_is_erased(console: Console) -> None:
    running = console.running
    with running.store() as session, session.begin():
        make_customer(session, name="林美華", telegram_chat_id="7301", phone="+886912347301")
    running.say_on_telegram(73010, 7301, "幫我刪掉我的資料")
    running.telegram.wait_for_sent(7301)
    request_id = wait_until(lambda: only_request(console).id, what="the request stored")
    with console.signed_in("agent@shop.test") as agent:
        assert "1 件個資請求待處理" in agent.get("/console").text
        page = agent.get("/console/requests").text
        assert "林美華" in page and "幫我刪掉我的資料" in page and "確認刪除" in page
        confirmed = decide(agent, request_id, "confirm")
        assert confirmed.status_code == 303
        assert decide(agent, request_id, "confirm").status_code == 409  # once only
        assert "件個資請求待處理" not in agent.get("/console").text
    request = only_request(console)
    assert request.status is DataRequestStatus.DONE and request.decided_at is not None
    customer = running.query(lambda s: s.scalars(select(Customer)).one())
    assert customer.name == ERASED_NAME and customer.erased_at is not None
    actions = audit(console)
    assert (f"customer:{customer.id}", "data_request.deletion") in actions
    assert ("agent@shop.test", "data_request.deletion.confirmed") in actions
    assert ("agent@shop.test", "customer.forget") in actions


def test_an_agent_refuses_a_deletion_and_the_customer_is_told_in_english(
    console: Console,
) -> None:
    running, phone = console.running, "+886912347302"
    with running.store() as session, session.begin():
        make_customer(session, name="Amy Chen", phone=phone, language=Language.EN)
    running.text_in("SM" + "73" * 16, phone, "delete my data pls")
    running.twilio.wait_for_sent(phone)
    request_id = wait_until(lambda: only_request(console).id, what="the request stored")
    with console.signed_in("agent@shop.test") as agent:
        assert decide(agent, request_id, "refuse").status_code == 303
    refusal = running.twilio.wait_for_sent(phone, count=2)[1]["body"]
    assert "can't carry out your request (deletion)" in refusal
    assert only_request(console).status is DataRequestStatus.REFUSED
    assert running.query(lambda s: s.scalars(select(Customer.erased_at)).one()) is None
    assert ("agent@shop.test", "data_request.deletion.refused") in audit(console)


def test_a_correction_marked_done_is_confirmed_to_the_customer(console: Console) -> None:
    running = console.running
    with running.store() as session, session.begin():
        make_customer(session, telegram_chat_id="7303")
    running.say_on_telegram(73030, 7303, "我的生日登記錯了 要改 是3月5號")
    running.telegram.wait_for_sent(7303)
    request_id = wait_until(lambda: only_request(console).id, what="the request stored")
    with console.signed_in("admin@shop.test") as admin:
        page = admin.get("/console/requests").text
        assert "更正" in page and "是3月5號" in page
        assert decide(admin, request_id, "confirm").status_code == 303
        assert "最近處理" in admin.get("/console/requests").text
    done = running.telegram.wait_for_sent(7303, count=2)[1]["text"]
    assert "已經更新好了" in done


def test_a_marketer_cannot_open_or_decide_data_requests(console: Console) -> None:
    with console.signed_in("marketer@shop.test") as marketer:
        assert marketer.get("/console/requests").status_code == 403
        token = csrf_of(marketer.get("/console/campaigns").text)
        decided = marketer.post(
            "/console/requests/1/decide", data={"csrf_token": token, "decision": "confirm"}
        )
        assert decided.status_code == 403


def test_an_unknown_decision_or_request_is_refused(console: Console) -> None:
    with console.signed_in("agent@shop.test") as agent:
        assert decide(agent, 999, "confirm").status_code == 404
        token = csrf_of(agent.get("/console/requests").text)
        odd = agent.post("/console/requests/1/decide", data={"csrf_token": token, "decision": "x"})
        assert odd.status_code in (400, 422)
