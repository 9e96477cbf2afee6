"""Staff correcting a customer's details in the console, over HTTP (個資法 更正).

The customer asks over the fake Telegram through the real gateway; the agent opens
the request's form, corrects the details, and saves (confirming the request or not).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.customers import forget_customer
from crm_store.models import (
    AuditLog,
    Channel,
    Conversation,
    Customer,
    DataRequest,
    DataRequestStatus,
    Language,
)
from tests.channels.conftest import wait_until
from tests.console.conftest import Console, csrf_of
from tests.factories import make_customer

FORM = {
    "name": "王小明",
    "language": "zh-TW",
    "birthday": "",
    "email": "",
    "timezone": "Asia/Taipei",
    "phone": "0912 348 001",
}


def customer_asking(
    console: Console, chat: int, words: str, *, name: str = "王小明"
) -> tuple[int, int]:
    """A Telegram customer (phone +886912348 and the chat's last three digits) who asked
    to correct their data; returns their id and the request's."""
    running = console.running
    with running.store() as session, session.begin():
        customer = make_customer(
            session, name=name, telegram_chat_id=str(chat), phone=f"+886912348{chat % 1000:03d}"
        )
        customer_id = customer.id
    running.say_on_telegram(chat * 10, chat, words)
    running.telegram.wait_for_sent(chat)
    request_id = wait_until(
        lambda: running.query(lambda s: s.scalars(select(DataRequest.id)).first()),
        what="the request stored",
    )
    assert request_id is not None
    return customer_id, request_id


def save(agent: httpx.Client, customer_id: int, page: str, **fields: str | int) -> httpx.Response:
    return agent.post(
        f"/console/customers/{customer_id}/details",
        data={**FORM, "csrf_token": csrf_of(page), **fields},
    )


def held(console: Console, customer_id: int) -> tuple[str, str | None, list[str]]:
    """The customer's name, e-mail and SMS numbers, as stored."""

    def read(session: Session) -> tuple[str, str | None, list[str]]:
        customer = session.get_one(Customer, customer_id)
        phones = [i.address for i in customer.identities if i.channel is Channel.SMS]
        return customer.name, customer.email, phones

    return console.running.query(read)


def corrections_logged(console: Console) -> Sequence[AuditLog]:
    return console.running.query(
        lambda s: s.scalars(select(AuditLog).where(AuditLog.action == "customer.correct")).all()
    )


def test_an_agent_corrects_the_data_from_the_request_and_confirms_it_in_one_step(
    console: Console,
) -> None:
    customer_id, request_id = customer_asking(
        console, 8001, "我的名字登記錯了 要改成王曉明，電話也換了是0912000801"
    )
    with console.signed_in("agent@shop.test") as agent:
        requests = agent.get("/console/requests").text
        link = f"/console/customers/{customer_id}/details?request={request_id}"
        assert f'href="{link}"' in requests and "更正資料" in requests
        form = agent.get(link)
        assert form.status_code == 200
        assert "要改成王曉明" in form.text and 'value="+886912348001"' in form.text
        saved = save(
            agent,
            customer_id,
            form.text,
            name="王曉明",
            phone="0912-000-801",
            request=request_id,
            confirm="true",
        )
        assert saved.status_code == 303 and saved.headers["location"] == "/console/requests"
        assert "最近處理" in agent.get("/console/requests").text

    assert held(console, customer_id) == ("王曉明", None, ["+886912000801"])
    request = console.running.query(lambda s: s.get_one(DataRequest, request_id))
    assert request.status is DataRequestStatus.DONE
    [logged] = corrections_logged(console)
    assert logged.actor == "agent@shop.test" and logged.details is not None
    assert logged.details["changes"]["phone"] == {"old": "+886912348001", "new": "+886912000801"}
    told = console.running.telegram.wait_for_sent(8001, count=2)[1]["text"]
    assert "已經更新好了" in told


def test_saving_without_confirming_leaves_the_request_pending(console: Console) -> None:
    customer_id, request_id = customer_asking(console, 8002, "我的資料有錯 名字是王曉明")
    with console.signed_in("agent@shop.test") as agent:
        link = f"/console/customers/{customer_id}/details?request={request_id}"
        saved = save(agent, customer_id, agent.get(link).text, name="王曉明", request=request_id)
        assert saved.status_code == 303
        page = agent.get(saved.headers["location"]).text
        assert "已儲存" in page and f'name="request" value="{request_id}"' in page
    assert held(console, customer_id)[0] == "王曉明"
    request = console.running.query(lambda s: s.get_one(DataRequest, request_id))
    assert request.status is DataRequestStatus.PENDING


def test_bad_input_shows_the_form_again_with_the_errors_and_changes_nothing(
    console: Console,
) -> None:
    customer_id, request_id = customer_asking(console, 8003, "please correct my name", name="Amy")
    with console.signed_in("agent@shop.test") as agent:
        link = f"/console/customers/{customer_id}/details?request={request_id}"
        page = agent.get(link).text
        agent.post("/console/language", data={"csrf_token": csrf_of(page), "lang": "en"})
        refused = save(
            agent,
            customer_id,
            page,
            name="Amy Chan",
            email="amy at example.com",
            phone="12345",
            request=request_id,
            confirm="true",
        )
        assert refused.status_code == 400
        assert "nothing has been changed" in refused.text
        assert "“12345” is not a valid phone number." in refused.text
        assert "“amy at example.com” is not an e-mail address." in refused.text
        assert 'value="Amy Chan"' in refused.text  # what was typed stays
        assert re.search(r'name="confirm" value="true"\s+checked', refused.text)
    assert held(console, customer_id) == ("Amy", None, ["+886912348003"])
    assert corrections_logged(console) == []
    request = console.running.query(lambda s: s.get_one(DataRequest, request_id))
    assert request.status is DataRequestStatus.PENDING


def test_another_customers_phone_is_refused_with_a_clear_message(console: Console) -> None:
    with console.running.store() as session, session.begin():
        other = make_customer(session, name="陳大同", phone="+886912348100").id
        customer_id = make_customer(session, phone="+886912348101").id
    with console.signed_in("agent@shop.test") as agent:
        page = agent.get(f"/console/customers/{customer_id}/details").text
        refused = save(agent, customer_id, page, phone="0912348100")
        assert refused.status_code == 400
        assert f"+886912348100 已經是另一位顧客（#{other}）的號碼" in refused.text
    assert held(console, customer_id)[2] == ["+886912348101"]


def test_the_profile_in_a_conversation_links_to_the_form(console: Console) -> None:
    running = console.running
    with running.store() as session, session.begin():
        make_customer(session, name="林美華", telegram_chat_id="8004", language=Language.ZH_TW)
    running.say_on_telegram(80040, 8004, "我要找真人")
    running.telegram.wait_for_sent(8004)
    customer_id, conversation_id = running.query(
        lambda s: s.execute(select(Conversation.customer_id, Conversation.id)).one()
    )
    with console.signed_in("agent@shop.test") as agent:
        page = agent.get(f"/console/conversations/{conversation_id}").text
        assert f'href="/console/customers/{customer_id}/details"' in page
        form = agent.get(f"/console/customers/{customer_id}/details").text
        saved = save(agent, customer_id, form, name="林美樺", phone="0912348104")
        assert saved.headers["location"] == f"/console/customers/{customer_id}/details?saved=true"
    # A customer known by a chat alone gets the phone number as a new SMS identity.
    assert held(console, customer_id) == ("林美樺", None, ["+886912348104"])


def test_only_signed_in_agents_with_the_token_may_correct(console: Console) -> None:
    with console.running.store() as session, session.begin():
        customer_id = make_customer(session, name="王小明", phone="+886912348105").id
    url = f"/console/customers/{customer_id}/details"
    with console.browser() as stranger:
        assert stranger.get(url).headers["location"] == "/console/login"
        assert stranger.post(url, data={**FORM, "name": "X"}).status_code == 401
    with console.signed_in("marketer@shop.test") as marketer:
        assert marketer.get(url).status_code == 403
    with console.signed_in("agent@shop.test") as agent:
        assert agent.post(url, data={**FORM, "name": "王曉明"}).status_code == 403  # no token
        page = agent.get(url).text
        assert agent.get("/console/customers/999999/details").status_code == 404
        assert save(agent, customer_id, page, request=999999, confirm="true").status_code == 404
    assert held(console, customer_id)[0] == "王小明"


def test_an_erased_customer_has_no_form(console: Console) -> None:
    with console.running.store() as session, session.begin():
        customer_id = make_customer(session, phone="+886912348106").id
        forget_customer(session, customer_id, actor="test")
    with console.signed_in("admin@shop.test") as admin:
        assert admin.get(f"/console/customers/{customer_id}/details").status_code == 404
