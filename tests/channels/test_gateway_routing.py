"""The gateway's routing to the staff inbox, its health and metrics, and the web chat."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from crm_store.models import (
    Channel,
    Conversation,
    ConversationMode,
    Message,
)
from tests.channels.conftest import RunningGateway, wait_until
from tests.channels.gateway_helpers import (
    HOLDING_ZH,
    messages,
)


def test_messages_to_a_conversation_with_staff_wait_for_the_inbox(gateway: RunningGateway) -> None:
    gateway.say_on_telegram(600, 5010, "first")
    gateway.telegram.wait_for_sent(5010)  # the holding reply: Rasa is down
    with gateway.store() as session, session.begin():
        conversation = session.scalars(select(Conversation)).one()
        conversation.mode = ConversationMode.HUMAN
        for message in session.scalars(select(Message)):
            message.handled_at = message.created_at
    gateway.say_on_telegram(601, 5010, "are you there?")
    wait_until(
        lambda: all(
            m.handled_at for m in gateway.query(lambda s: messages(s, Channel.TELEGRAM, "5010"))
        ),
        what="delivered to the inbox",
    )
    assert len(gateway.telegram.sent_to(5010)) == 1  # no holding reply: staff have it


def test_healthz_reports_rasa_down_and_metrics_count_messages(gateway: RunningGateway) -> None:
    health = gateway.http.get("/healthz")
    assert health.status_code == 503
    assert health.json()["database"] == "ok" and health.json()["rasa"].startswith("error")
    gateway.post_telegram({"update_id": "x"})
    gateway.say_on_telegram(700, 5011, "hi")
    metrics = gateway.http.get("/metrics").text
    assert 'crmbot_inbound_messages_total{channel="telegram",outcome="stored"} 1.0' in metrics
    assert 'crmbot_webhook_rejections_total{endpoint="telegram",status="400"} 1.0' in metrics


def test_web_chat_page_takes_messages_through_the_same_routing(gateway: RunningGateway) -> None:
    page = gateway.http.get("/chat")
    assert page.status_code == 200 and "<form" in page.text
    assert gateway.http.cookies.get("crmbot_chat")
    client_id = str(uuid.uuid4())
    posted = gateway.http.post("/chat/messages", json={"text": "你好", "client_id": client_id})
    assert posted.status_code == 202
    again = gateway.http.post("/chat/messages", json={"text": "你好", "client_id": client_id})
    assert again.json()["duplicate"] is True

    def transcript() -> list[dict[str, str]]:
        rows: list[dict[str, str]] = gateway.http.get("/chat/messages").json()["messages"]
        return rows if len(rows) >= 2 else []

    rows = wait_until(transcript, what="holding reply in the transcript")
    assert rows[0]["text"] == "你好" and rows[0]["direction"] == "in"
    assert rows[1]["direction"] == "out" and rows[1]["text"].startswith(HOLDING_ZH)
    assert gateway.http.post("/chat/messages", json={"text": ""}).status_code == 400
    assert gateway.http.post("/chat/messages", content=b"nope").status_code == 400
