"""A slow Rasa holds up only the turns waiting for it.

A turn blocks a thread until Rasa answers. The gateway's store work (storing webhooks,
the dispatcher renewing its claims and recording what it sent) runs on other threads:
sharing them, a Rasa slower than the send lease let a reply's claim run out while the
reply was going out, and another gateway sent it a second time.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import cast

from sqlalchemy.orm import Session, sessionmaker

from channels.metrics import Metrics
from channels.rasa_client import BotMessage, RasaClient
from channels.routing import Router
from channels.workers import ConversationWorkers
from crm_store.models import Channel, Language
from tests.channels.test_turn_failures import SETTINGS, Customer, now


class StuckRasa:
    """Answers only once the test lets it."""

    def __init__(self) -> None:
        self.asked = threading.Event()
        self.may_answer = threading.Event()

    def send(
        self, sender_id: str, text: str, *, language: Language | None = None, detect: bool = True
    ) -> list[BotMessage]:
        self.asked.set()
        assert self.may_answer.wait(10)
        return [BotMessage(text="我們早上 10 點開門，晚上 9 點打烊")]


def test_messages_are_stored_while_rasa_takes_its_time(
    session_factory: sessionmaker[Session],
) -> None:
    rasa = StuckRasa()
    router = Router(
        session_factory, cast(RasaClient, rasa), settings=SETTINGS, metrics=Metrics(), clock=now
    )
    workers = ConversationWorkers(
        router,
        on_outbox=lambda: None,
        send_taken=lambda identity, rows: None,
        burst_window=0,
        holding_after=60,
    )
    shopper = Customer(session_factory, Channel.TELEGRAM, open_ticket=False)
    conversation_id = shopper.writes("請問幾點開門")

    async def while_rasa_thinks() -> int:
        # No more threads for store work than there are turns waiting on Rasa.
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=1))
        workers.submit(conversation_id)
        try:
            while not rasa.asked.is_set():
                await asyncio.sleep(0.01)
            return await asyncio.wait_for(
                asyncio.to_thread(shopper.writes, "還有 運費多少?"), timeout=5
            )
        finally:
            rasa.may_answer.set()
            await workers.drain()
            workers.close()

    assert asyncio.run(while_rasa_thinks()) == conversation_id
    assert [reply.text for reply in shopper.replies(conversation_id)] == [
        "我們早上 10 點開門，晚上 9 點打烊"
    ]
