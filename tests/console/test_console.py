"""The staff console over HTTP: claiming, replying, finishing, the queue and the transcript.

The console runs in the real gateway app (uvicorn on loopback); the customer writes
over the fake Telegram, and what the agent sends arrives there. Rasa is down here:
the bot's side is in test_browser.py. Who may open what is in test_console_access.py.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx
import pytest
from sqlalchemy import select

from crm_store.models import (
    AuditLog,
    ChannelIdentity,
    Conversation,
    ConversationMode,
    Handoff,
    HandoffStatus,
    MessagePurpose,
    OutboxMessage,
    OutboxStatus,
    SatisfactionSurvey,
    Ticket,
    TicketStatus,
)
from tests.channels.conftest import wait_until
from tests.console.conftest import CHAT, Console, csrf_of, customer_waiting, reply_id_of


def claim(agent: httpx.Client, handoff_id: int) -> tuple[str, str]:
    """Claim the handoff as `agent`: the conversation page's path, and the CSRF token."""
    token = csrf_of(agent.get("/console").text)
    claimed = agent.post(f"/console/handoffs/{handoff_id}/claim", data={"csrf_token": token})
    assert claimed.status_code == 303, claimed.text
    return claimed.headers["location"], token


def test_two_agents_claiming_at_once_exactly_one_wins(console: Console) -> None:
    handoff_id = customer_waiting(console)
    stack = ExitStack()
    agents = [
        stack.enter_context(console.signed_in(email))
        for email in ("agent@shop.test", "agent2@shop.test")
    ]
    tokens = [csrf_of(agent.get("/console").text) for agent in agents]
    start = threading.Barrier(2)
    results: list[httpx.Response] = [httpx.Response(0)] * 2

    def claim(index: int) -> None:
        start.wait()
        results[index] = agents[index].post(
            f"/console/handoffs/{handoff_id}/claim", data={"csrf_token": tokens[index]}
        )

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(response.status_code for response in results)
    assert statuses == [303, 409], [(r.status_code, r.text[-500:]) for r in results]
    winner = 0 if results[0].status_code == 303 else 1
    loser_page = results[1 - winner].text
    assert ("陳小美" if winner == 0 else "林大文") in loser_page  # who has the customer
    with console.running.store() as session:
        handoff = session.get_one(Handoff, handoff_id)
        winner_email = ["agent@shop.test", "agent2@shop.test"][winner]
        assert handoff.claimed_by == console.staff_ids[winner_email]
    stack.close()


def test_claim_reply_note_and_resolve_goes_out_over_telegram(console: Console) -> None:
    handoff_id = customer_waiting(console)
    running = console.running
    with console.signed_in("agent@shop.test") as agent:
        token = csrf_of(agent.get("/console").text)
        claimed = agent.post(f"/console/handoffs/{handoff_id}/claim", data={"csrf_token": token})
        assert claimed.status_code == 303
        page_url = claimed.headers["location"]
        conversation_id = int(page_url.rsplit("/", 1)[1])
        page = agent.get(page_url).text
        assert "東西壞了，我要找真人" in page and "C-0000" in page

        text = "您好，我是陳小美，我來幫您處理。"
        form = {"csrf_token": token, "text": text, "reply_id": reply_id_of(page)}
        sent = agent.post(f"{page_url}/reply", data=form)
        assert sent.status_code == 303
        replies = running.telegram.wait_for_sent(CHAT, 2)
        assert replies[-1]["text"] == text
        # The same form again (a double click, a retry after a dropped connection), and
        # twice at once: the reply is still sent once.
        assert agent.post(f"{page_url}/reply", data=form).status_code == 303
        with ThreadPoolExecutor(2) as pool:
            twice = list(pool.map(lambda _: agent.post(f"{page_url}/reply", data=form), "ab"))
        assert [response.status_code for response in twice] == [303, 303]
        assert agent.get(f"{page_url}/transcript").text.count(text) == 1
        noted = agent.post(f"{page_url}/notes", data={"csrf_token": token, "text": "VIP，小心處理"})
        assert noted.status_code == 303
        assert "VIP，小心處理" in agent.get(f"{page_url}/transcript").text

        # The customer answers while the agent has them: no bot, no holding reply.
        running.say_on_telegram(CHAT * 10 + 1, CHAT, "好的謝謝")
        wait_until(
            lambda: "好的謝謝" in agent.get(f"{page_url}/transcript").text, what="customer message"
        )

        finished = agent.post(
            f"{page_url}/finish",
            data={
                "csrf_token": token,
                "outcome": "replacement",
                "agreed_action": "寄出新品",
                "compensation_kind": "coupon",
                "compensation_value": "200",
                "root_cause": "product_defect",
            },
        )
        assert finished.status_code == 303
    handed_back = running.telegram.wait_for_sent(CHAT, 3)[-1]["text"]
    assert "陳小美" in handed_back and "機器人" in handed_back
    assert len(running.telegram.sent_to(CHAT)) == 3  # holding, reply, hand-back: nothing else

    with running.store() as session:
        handoff = session.get_one(Handoff, handoff_id)
        assert handoff.status is HandoffStatus.RETURNED_TO_BOT and handoff.finished_at
        conversation = session.get_one(Conversation, conversation_id)
        assert conversation.mode is ConversationMode.BOT
        ticket = session.scalars(select(Ticket)).one()
        assert ticket.status is TicketStatus.RESOLVED
        assert ticket.root_cause == "product_defect" and ticket.compensation_kind == "coupon"
        survey = session.scalars(select(SatisfactionSurvey)).one()
        assert survey.due_at > datetime.now(UTC) + timedelta(days=2)
        actions = list(session.scalars(select(AuditLog.action)))
    for action in ("staff.sign_in", "handoff.claim", "conversation.reply", "handoff.finish"):
        assert action in actions


def test_an_agent_cannot_reply_to_a_customer_another_agent_has(console: Console) -> None:
    handoff_id = customer_waiting(console)
    with console.signed_in("agent@shop.test") as first:
        page_url, token = claim(first, handoff_id)
    with console.signed_in("agent2@shop.test") as second:
        token = csrf_of(second.get("/console").text)
        refused = second.post(
            f"{page_url}/reply", data={"csrf_token": token, "text": "hi", "reply_id": uuid4().hex}
        )
        assert refused.status_code == 409
    assert len(console.running.telegram.sent_to(CHAT)) == 1  # only the holding reply


@pytest.mark.parametrize("path", ["/console", "/console/queue"])
def test_the_queue_lists_the_waiting_customer(console: Console, path: str) -> None:
    customer_waiting(console)
    with console.signed_in("agent@shop.test") as agent:
        page = agent.get(path).text
    assert "顧客要求真人" in page and "telegram" in page


def test_the_queue_shows_the_reply_by_time_in_the_shops_zone(console: Console) -> None:
    handoff_id = customer_waiting(console)
    with console.running.store() as session, session.begin():
        session.get_one(Handoff, handoff_id).due_at = datetime(2026, 12, 1, 1, 15, tzinfo=UTC)
    with console.signed_in("agent@shop.test") as agent:
        page = agent.get("/console/queue").text
    assert "需在 12-01 09:15 前回覆" in page  # Taipei, as the customer was told
    assert "01:15" not in page


def test_the_dashboard_charts_complaints_and_offers_the_numbers_as_csv(
    console: Console,
) -> None:
    customer_waiting(console)  # one quality complaint, handed off, still waiting
    with console.signed_in("marketer@shop.test") as marketer:
        page = marketer.get("/console/dashboard?weeks=4")
        assert page.status_code == 200
        assert page.text.count("<svg") == 3
        assert "quality" in page.text  # the category stack and its legend
        complaints = marketer.get("/console/dashboard/complaints.csv?weeks=4")
        assert complaints.headers["content-type"].startswith("text/csv")
        rows = complaints.content.decode("utf-8-sig").splitlines()
        assert rows[0].startswith("week,category,root_cause,count")
        assert rows[1].endswith(",quality,unknown,1")
        handoff_rows = marketer.get("/console/dashboard/handoffs.csv").text.splitlines()
        assert "still_waiting" in handoff_rows[0] and len(handoff_rows) == 2
        assert marketer.get("/console/dashboard/nothing.csv").status_code == 404


def test_an_agent_transfers_a_customer_to_a_colleague(console: Console) -> None:
    handoff_id = customer_waiting(console)
    with console.signed_in("agent@shop.test") as first:
        page_url, token = claim(first, handoff_id)
        colleague = console.staff_ids["agent2@shop.test"]
        moved = first.post(f"{page_url}/transfer", data={"csrf_token": token, "to": colleague})
        assert moved.status_code == 303
        refused = first.post(
            f"{page_url}/reply", data={"csrf_token": token, "text": "hi", "reply_id": uuid4().hex}
        )
        assert refused.status_code == 409
    with console.signed_in("agent2@shop.test") as second:
        token = csrf_of(second.get("/console").text)
        sent = second.post(
            f"{page_url}/reply",
            data={"csrf_token": token, "text": "我是林大文", "reply_id": uuid4().hex},
        )
        assert sent.status_code == 303
    assert console.running.telegram.wait_for_sent(CHAT, 2)[-1]["text"] == "我是林大文"
    actions = console.running.query(lambda s: list(s.scalars(select(AuditLog.action))))
    assert "handoff.transfer" in actions


def test_the_console_speaks_english_when_asked(console: Console) -> None:
    with console.signed_in("agent@shop.test") as agent:
        token = csrf_of(agent.get("/console").text)
        assert "待處理" in agent.get("/console").text
        switched = agent.post("/console/language", data={"csrf_token": token, "lang": "en"})
        assert switched.status_code == 303
        page = agent.get("/console").text
        assert "Queue" in page and "Nobody is waiting" in page and 'lang="en"' in page


def outreach(
    identity: ChannelIdentity, key: str, body: str, *, sent_at: datetime | None
) -> OutboxMessage:
    """A campaign message to `identity`: sent at `sent_at`, or still waiting if None."""
    created = (sent_at or datetime.now(UTC)) - timedelta(minutes=1)
    return OutboxMessage(
        idempotency_key=key,
        customer_id=identity.customer_id,
        identity_id=identity.id,
        channel=identity.channel,
        purpose=MessagePurpose.MARKETING,
        body=body,
        status=OutboxStatus.SENT if sent_at else OutboxStatus.PENDING,
        # A waiting one is due tomorrow, out of the running dispatcher's reach.
        not_before=created if sent_at else created + timedelta(days=1),
        created_at=created,
        sent_at=sent_at,
    )


def test_the_transcript_shows_what_the_shop_sent_outside_the_chat(console: Console) -> None:
    handoff_id = customer_waiting(console)
    earlier = datetime.now(UTC) - timedelta(hours=2)
    with console.running.store() as session, session.begin():
        identity = session.scalars(select(Conversation)).all()[-1].identity
        # The anniversary sale went out two hours before the customer wrote in; the
        # next campaign is still waiting for its time.
        session.add(outreach(identity, "campaign:1:1:x", "週年慶全館 85 折！", sent_at=earlier))
        session.add(outreach(identity, "campaign:2:1:x", "下週新品預告", sent_at=None))
    with console.signed_in("agent@shop.test") as agent:
        page_url, _ = claim(agent, handoff_id)
        fragment = agent.get(f"{page_url}/transcript").text
    assert "週年慶全館 85 折！" in fragment and "下週新品預告" not in fragment
    assert fragment.index("週年慶全館") < fragment.index("東西壞了，我要找真人")
    assert 'class="entry outreach marketing out"' in fragment


def test_an_open_transcript_hears_of_outreach_as_it_is_sent(console: Console) -> None:
    handoff_id = customer_waiting(console)
    with console.signed_in("agent@shop.test") as agent:
        page_url, _ = claim(agent, handoff_id)
        conversation_id = int(page_url.rstrip("/").rsplit("/", 1)[-1])
        live = f"/console/events?conversation={conversation_id}"
        with agent.stream("GET", live, timeout=10) as events:
            lines = events.iter_lines()
            assert next(lines) == "retry: 1000"  # the page's starting point is taken
            with console.running.store() as session, session.begin():
                identity = session.get_one(Conversation, conversation_id).identity
                session.add(
                    outreach(identity, "campaign:9:1:x", "限時優惠", sent_at=datetime.now(UTC))
                )
            # Nothing else happens in the conversation: without the outreach, no event
            # comes and the read times out.
            assert next(line for line in lines if line.startswith("event: ")) == ("event: messages")
        fragment = agent.get(f"{page_url}/transcript").text
    assert "限時優惠" in fragment
