"""Whole conversations through the gateway: fake Telegram / Twilio, real Rasa and actions.

The customer writes over the channel (a webhook the way Telegram or Twilio posts it);
the answer is what the fake Telegram or Twilio server receives from the real client.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import select

from crm_store import migrate
from crm_store.models import (
    DesiredOutcome,
    Direction,
    Language,
    Message,
    RecoveryStep,
    Ticket,
    TicketStatus,
)
from crm_store.tickets import steps_done
from tests.bot.test_complaint_conversations import said
from tests.channels.conftest import RunningGateway, running_gateway, wait_until
from tests.factories import make_customer_with_late_order
from tests.fakes import FakeTelegram, FakeTwilio
from tests.processes import MODEL, Assistant, action_server, free_port, rasa_server

pytestmark = pytest.mark.rasa

# A fresh Rasa takes several seconds over its first answers; no holding reply for that.
WARM_UP = 30
_update_ids = itertools.count(10_000)
_sids = itertools.count(1)


@pytest.fixture
def through_gateway(
    assistant: Assistant, fake_telegram: FakeTelegram, fake_twilio: FakeTwilio
) -> Iterator[RunningGateway]:
    with running_gateway(
        assistant.database_url,
        telegram=fake_telegram,
        twilio=fake_twilio,
        rasa_url=assistant.rasa_url,
        holding_reply_after_seconds=WARM_UP,
    ) as gateway:
        yield gateway


class TelegramCustomer:
    def __init__(self, gateway: RunningGateway, chat_id: int) -> None:
        self.gateway, self.chat_id = gateway, chat_id

    def says(self, text: str) -> str:
        """Send `text` and return the bot's answer (all its replies, as one message)."""
        before = len(self.gateway.telegram.sent_to(self.chat_id))
        self.gateway.say_on_telegram(next(_update_ids), self.chat_id, text)
        return self.gateway.telegram.wait_for_sent(self.chat_id, before + 1, timeout=60)[-1]["text"]

    def keyboard(self) -> list[str]:
        markup = self.gateway.telegram.sent_to(self.chat_id)[-1]["reply_markup"] or {}
        return [row[0]["text"] for row in markup.get("keyboard", [])]


class SmsCustomer:
    def __init__(self, gateway: RunningGateway, phone: str) -> None:
        self.gateway, self.phone = gateway, phone

    def says(self, text: str) -> str:
        before = len(self.gateway.twilio.sent_to(self.phone))
        self.gateway.text_in(f"SM{next(_sids):032x}", self.phone, text)
        return self.gateway.twilio.wait_for_sent(self.phone, before + 1, timeout=60)[-1]["body"]


def replies_of(answer: str) -> list[str]:
    return answer.split("\n\n")


def latest_ticket(gateway: RunningGateway, customer_id: int) -> Ticket:
    return gateway.query(
        lambda s: s.scalars(
            select(Ticket).where(Ticket.customer_id == customer_id).order_by(Ticket.id.desc())
        ).first()
    )  # type: ignore[return-value]


def test_a_complaint_over_telegram_in_chinese_with_a_tapped_button(
    through_gateway: RunningGateway,
) -> None:
    zh = Language.ZH_TW
    with through_gateway.store() as session:
        customer_id, order_number = make_customer_with_late_order(
            session, chat_id="2001", language=zh, name="張雅琪"
        )
    customer = TelegramCustomer(through_gateway, 2001)

    answer = customer.says(f"我的包裹 {order_number} 已經超過三天了還沒到！！")
    assert said(replies_of(answer), "utter_complaint_empathise", zh), answer
    answer = customer.says("沒有了")
    assert said(replies_of(answer), "utter_apologise", zh), answer
    assert said(replies_of(answer), "utter_ask_desired_outcome", zh), answer
    assert "退款" in customer.keyboard()
    answer = customer.says("退款")  # tapping the button sends its title
    assert said(replies_of(answer), "utter_confirm_refund", zh), answer
    answer = customer.says("對")
    assert said(replies_of(answer), "utter_resolution_refund", zh), answer
    answer = customer.says("1")
    assert said(replies_of(answer), "utter_compensation_granted", zh), answer

    ticket = latest_ticket(through_gateway, customer_id)
    assert ticket.desired_outcome is DesiredOutcome.REFUND
    assert ticket.status is TicketStatus.RESOLVED
    assert sorted(through_gateway.query(lambda s: steps_done(s.merge(ticket)))) == list(
        RecoveryStep
    )
    transcript = through_gateway.query(
        lambda s: list(
            s.scalars(select(Message).where(Message.conversation_id == ticket.conversation_id))
        )
    )
    inbound = [m for m in transcript if m.direction is Direction.INBOUND]
    outbound = [m for m in transcript if m.direction is Direction.OUTBOUND]
    assert len(inbound) == len(outbound) == 5
    assert all(m.handled_at is not None for m in inbound)


def test_a_complaint_over_sms_in_english(through_gateway: RunningGateway) -> None:
    en = Language.EN
    phone = "+886912002002"
    with through_gateway.store() as session:
        customer_id, order_number = make_customer_with_late_order(
            session, phone=phone, language=en, name="Amy Lin"
        )
    customer = SmsCustomer(through_gateway, phone)

    answer = customer.says("my parcel still hasn't arrived, it's been days!!")
    assert said(replies_of(answer), "utter_complaint_empathise", en), answer
    answer = customer.says("no that's all")
    assert order_number in answer and said(replies_of(answer), "utter_propose_order", en)
    answer = customer.says("Yes")  # the button title, typed
    assert said(replies_of(answer), "utter_ask_desired_outcome", en), answer
    answer = customer.says("I'd like a replacement please")
    assert said(replies_of(answer), "utter_confirm_replacement", en), answer
    answer = customer.says("yes, correct")
    assert said(replies_of(answer), "utter_resolution_replacement", en), answer
    answer = customer.says("free shipping please")
    assert said(replies_of(answer), "utter_compensation_granted", en), answer

    ticket = latest_ticket(through_gateway, customer_id)
    assert ticket.desired_outcome is DesiredOutcome.REPLACEMENT
    assert ticket.status is TicketStatus.RESOLVED
    assert all(len(sms["body"]) <= 1600 for sms in through_gateway.twilio.sent_to(phone))


def test_quick_messages_get_one_answer(
    assistant: Assistant, fake_telegram: FakeTelegram, fake_twilio: FakeTwilio
) -> None:
    with running_gateway(
        assistant.database_url,
        telegram=fake_telegram,
        twilio=fake_twilio,
        rasa_url=assistant.rasa_url,
        burst_window_seconds=1.5,
        holding_reply_after_seconds=WARM_UP,
    ) as gateway:
        for text in ("我的包裹還沒到", "已經等一個禮拜了", "客服電話也打不通"):
            gateway.say_on_telegram(next(_update_ids), 2003, text)
        fake_telegram.wait_for_sent(2003, timeout=60)
        wait_until(lambda: gateway.gateway.workers.busy == 0, timeout=30, what="routing done")
        assert len(fake_telegram.sent_to(2003)) == 1


def test_rasa_stopped_mid_conversation_gets_a_holding_reply_then_the_real_answer(
    tmp_path: Path, fake_telegram: FakeTelegram, fake_twilio: FakeTwilio
) -> None:
    database_url = f"sqlite:///{tmp_path / 'crmbot.db'}"
    migrate.upgrade(database_url)
    rasa_port = free_port()
    with (
        action_server(folder=tmp_path, database_url=database_url) as action_url,
        ExitStack() as rasa,
    ):
        rasa_url = rasa.enter_context(
            rasa_server(model=MODEL, folder=tmp_path, action_url=action_url, port=rasa_port)
        )
        with running_gateway(
            database_url,
            telegram=fake_telegram,
            twilio=fake_twilio,
            rasa_url=rasa_url,
            holding_reply_after_seconds=WARM_UP,
        ) as gateway:
            customer = TelegramCustomer(gateway, 2004)
            assert said(replies_of(customer.says("你好")), "utter_greet", Language.ZH_TW)
            rasa.close()  # Rasa stops mid-conversation
            holding = customer.says("請問你們幾點開門？")
            assert holding.startswith("收到您的訊息了")
            before = len(fake_telegram.sent_to(2004))
            with rasa_server(
                model=MODEL,
                folder=tmp_path,
                action_url=action_url,
                port=rasa_port,
                log_name="rasa-restarted.log",
            ):
                answer = fake_telegram.wait_for_sent(2004, before + 1, timeout=60)[-1]["text"]
            assert said(replies_of(answer), "utter_store_info", Language.ZH_TW), answer
            wait_until(lambda: gateway.gateway.workers.busy == 0, what="routing done")
            texts = [sent["text"] for sent in fake_telegram.sent_to(2004)]
            assert len(texts) == 3  # greeting, holding reply, answer: nothing twice
