"""Whole conversations through the real Rasa server and action server, on a real store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.models import (
    ComplaintCategory,
    DesiredOutcome,
    Handoff,
    HandoffReason,
    Language,
    RecoveryStep,
    SatisfactionSurvey,
    SurveyStatus,
    Ticket,
    TicketStatus,
)
from crm_store.tickets import steps_done
from tests.factories import make_customer_with_late_order
from tests.processes import ROOT, Assistant

pytestmark = pytest.mark.rasa

RESPONSES = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"]


def said(replies: list[str], response: str, language: Language) -> bool:
    """Whether one of the replies is a variant of `response` in `language`."""
    variants = [
        str(v["text"]).split("{")[0][:12]
        for v in RESPONSES[response]
        if ("condition" in v) == (language is Language.EN)
    ]
    return any(reply.startswith(tuple(variants)) for reply in replies)


def talk(assistant: Assistant, sender: str, text: str, language: Language) -> list[str]:
    return [m.text for m in assistant.client.send(sender, text, language=language)]


def ticket_of(store: Session, customer_id: int) -> Ticket:
    store.expire_all()
    return store.scalars(
        select(Ticket).where(Ticket.customer_id == customer_id).order_by(Ticket.id.desc())
    ).first()  # type: ignore[return-value]


def assert_recovered(store: Session, ticket: Ticket, outcome: DesiredOutcome) -> None:
    done = steps_done(ticket)
    assert sorted(done) == list(RecoveryStep), done
    times = [done[step] for step in RecoveryStep]
    assert times == sorted(times)
    assert ticket.category is ComplaintCategory.DELIVERY
    assert ticket.desired_outcome is outcome
    assert ticket.agreed_action and ticket.action_due is not None
    assert ticket.compensation_kind in ("coupon", "free_shipping")
    assert ticket.coupon_code and ticket.coupon_code.startswith("SORRY-")
    assert ticket.root_cause == "courier_delay"
    assert ticket.status is TicketStatus.RESOLVED
    survey = store.scalars(
        select(SatisfactionSurvey).where(SatisfactionSurvey.ticket_id == ticket.id)
    ).one()
    assert survey.status is SurveyStatus.SCHEDULED
    assert survey.due_at > datetime.now(UTC) + timedelta(days=2)


def test_delivery_complaint_in_traditional_chinese_goes_through_all_eight_steps(
    assistant: Assistant,
) -> None:
    zh = Language.ZH_TW
    with assistant.store() as store:
        customer_id, order_number = make_customer_with_late_order(
            store, chat_id="1001", language=zh, name="陳美玲"
        )
    sender = "telegram:1001"

    replies = talk(assistant, sender, f"我的包裹 {order_number} 已經超過三天了還沒到！！", zh)
    assert said(replies, "utter_complaint_empathise", zh), replies
    burst = ["黑貓的網站也一直查不到", "打客服電話也沒人接，真的很誇張"]
    # Several messages in quick succession reach Rasa as one, joined as the router joins
    # them, and are answered once.
    replies = [m.text for m in assistant.client.send(sender, "\n".join(burst), language=zh)]
    assert len(replies) == 1 and said(replies, "utter_complaint_more", zh), replies
    replies = talk(assistant, sender, "沒有了", zh)
    assert said(replies, "utter_thank_for_telling", zh), replies
    assert said(replies, "utter_apologise", zh), replies
    assert said(replies, "utter_ask_desired_outcome", zh), replies  # the order was named
    replies = talk(assistant, sender, "我要退款", zh)
    assert said(replies, "utter_confirm_refund", zh), replies
    assert any(order_number in reply and "包裹遲遲沒有送到" in reply for reply in replies)
    replies = talk(assistant, sender, "對", zh)
    assert said(replies, "utter_resolution_refund", zh), replies
    assert any("NT$690" in reply for reply in replies), replies
    assert said(replies, "utter_offer_compensation_choice", zh), replies
    replies = talk(assistant, sender, "1", zh)
    assert said(replies, "utter_compensation_granted", zh), replies
    assert said(replies, "utter_follow_up_scheduled", zh), replies
    assert said(replies, "utter_prevent", zh), replies

    with assistant.store() as store:
        ticket = ticket_of(store, customer_id)
        assert ticket.description.splitlines() == [
            f"我的包裹 {order_number} 已經超過三天了還沒到！！",
            "黑貓的網站也一直查不到",
            "打客服電話也沒人接，真的很誇張",
        ]
        assert ticket.order is not None and ticket.order.number == order_number
        assert ticket.compensation_kind == "coupon"
        assert any(ticket.reference in reply for reply in replies)
        assert_recovered(store, ticket, DesiredOutcome.REFUND)


def test_delivery_complaint_in_english_proposes_the_latest_order(assistant: Assistant) -> None:
    en = Language.EN
    with assistant.store() as store:
        customer_id, order_number = make_customer_with_late_order(
            store, chat_id="1002", language=en, name="John Smith"
        )
    sender = "telegram:1002"

    replies = talk(assistant, sender, "my parcel still hasn't arrived, it's been days!!", en)
    assert said(replies, "utter_complaint_empathise", en), replies
    replies = talk(assistant, sender, "no that's all", en)
    assert said(replies, "utter_thank_for_telling", en), replies
    assert said(replies, "utter_propose_order", en), replies
    assert any(order_number in reply for reply in replies)
    replies = talk(assistant, sender, "yes", en)
    assert said(replies, "utter_ask_desired_outcome", en), replies
    replies = talk(assistant, sender, "I'd like a replacement please", en)
    assert said(replies, "utter_confirm_replacement", en), replies
    replies = talk(assistant, sender, "yes, correct", en)
    assert said(replies, "utter_resolution_replacement", en), replies
    replies = talk(assistant, sender, "free shipping please", en)
    assert said(replies, "utter_compensation_granted", en), replies
    assert said(replies, "utter_follow_up_scheduled", en), replies

    with assistant.store() as store:
        ticket = ticket_of(store, customer_id)
        assert ticket.language is en
        assert ticket.compensation_kind == "free_shipping"
        assert_recovered(store, ticket, DesiredOutcome.REPLACEMENT)


def test_threat_to_go_to_the_media_is_handed_off_at_once(assistant: Assistant) -> None:
    zh = Language.ZH_TW
    with assistant.store() as store:
        customer_id, _ = make_customer_with_late_order(
            store, chat_id="1003", language=zh, name="林先生"
        )
    sender = "telegram:1003"

    replies = talk(assistant, sender, "東西寄來就是壞的，再不處理我就要上新聞爆料！", zh)
    assert said(replies, "utter_handoff_now", zh) or said(replies, "utter_handoff_later", zh)
    with assistant.store() as store:
        ticket = ticket_of(store, customer_id)
        handoff = store.scalars(select(Handoff).where(Handoff.ticket_id == ticket.id)).one()
        assert handoff.reason is HandoffReason.ANGER_OR_THREAT
        assert ticket.status is TicketStatus.HANDED_OFF
        assert any(ticket.reference in reply for reply in replies), replies
