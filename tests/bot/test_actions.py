"""Actions run directly from tracker fixtures, with a CollectingDispatcher, on a real store."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import yaml
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import Action, Tracker
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.actions.compensation import ActionCloseComplaint, ValidateCompensationForm, choose_option
from bot.actions.complaint import ActionListenToComplaint
from bot.actions.complaint_form import ValidateComplaintForm
from bot.actions.consent import ActionOptIn, ActionOptOut
from bot.actions.context import use_store
from bot.actions.fallback import ActionHandleFallback
from bot.actions.handoff import ActionHandOff
from bot.actions.orders import ActionOrderStatus
from bot.actions.survey import ActionRecordScore
from crm_store.models import (
    ChannelIdentity,
    ComplaintCategory,
    Coupon,
    CouponPurpose,
    Customer,
    Handoff,
    HandoffReason,
    Language,
    OrderStatus,
    RecoveryStep,
    SatisfactionSurvey,
    SurveyStatus,
    Ticket,
    TicketStatus,
    Tier,
)
from crm_store.policy import CompensationOption
from crm_store.tickets import steps_done
from tests.factories import make_customer, make_order, make_product, make_ticket
from tests.processes import ROOT

SENDER = "telegram:4242"
HANDOFF_RESPONSES = {"utter_handoff_now", "utter_handoff_later"}


@pytest.fixture(autouse=True)
def store(session_factory: sessionmaker[Session]) -> Iterator[sessionmaker[Session]]:
    use_store(session_factory)
    yield session_factory
    use_store(None)


def tracker(
    text: str,
    intent: str,
    *,
    slots: dict[str, Any] | None = None,
    entities: list[dict[str, Any]] | None = None,
    events: list[dict[str, Any]] | None = None,
) -> Tracker:
    ranking = [{"name": intent, "confidence": 0.9}]
    message = {
        "text": text,
        "intent": ranking[0],
        "intent_ranking": ranking,
        "entities": entities or [],
    }
    return Tracker(
        SENDER,
        slots or {},
        message,
        events or [{"event": "user", "text": text, "parse_data": message}],
        False,
        None,
        {},
        "action_listen",
    )


DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


def run(action: Action, current: Tracker) -> tuple[list[str], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, current, DOMAIN))
    return [m["response"] for m in dispatcher.messages], events


def slot(events: list[dict[str, Any]], name: str) -> Any:
    values = [e["value"] for e in events if e.get("event") == "slot" and e.get("name") == name]
    return values[-1] if values else None


def customer(session: Session, **options: Any) -> Customer:
    found = make_customer(session, telegram_chat_id="4242", **options)
    session.commit()
    return found


def test_listening_opens_a_ticket_then_adds_to_it(store: sessionmaker[Session]) -> None:
    with store() as session:
        customer(session)
    responses, events = run(ActionListenToComplaint(), tracker("包裹還沒到", "complain_delivery"))
    assert responses == ["utter_complaint_empathise"]
    assert slot(events, "complaint_stage") == "listening"
    ticket_id = slot(events, "ticket_id")

    responses, events = run(
        ActionListenToComplaint(),
        tracker(
            "而且客服都不回",
            "complain_staff",
            slots={"ticket_id": ticket_id, "complaint_stage": "listening"},
        ),
    )
    assert responses == ["utter_complaint_more"]
    assert slot(events, "ticket_id") is None  # the same ticket goes on
    with store() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        assert ticket.description == "包裹還沒到\n而且客服都不回"
        assert ticket.category.value == "delivery"
        assert list(steps_done(ticket)) == [RecoveryStep.EMPATHISE]


@pytest.mark.parametrize(
    ("setup", "text", "reason"),
    [
        ("threat", "再不處理我就找消保官", HandoffReason.ANGER_OR_THREAT),
        ("vip", "the package is late", HandoffReason.VIP_COMPLAINT),
        ("high value", "the package is late", HandoffReason.VIP_COMPLAINT),
        ("repeat", "again it's late", HandoffReason.REPEAT_COMPLAINT),
    ],
)
def test_complaints_that_go_straight_to_a_person(
    store: sessionmaker[Session], setup: str, text: str, reason: HandoffReason
) -> None:
    with store() as session:
        found = customer(session, tier=Tier.VIP if setup == "vip" else Tier.STANDARD)
        if setup == "high value":  # 10 orders a year of 1,200: about 36,000 over 3 years
            found.order_count, found.total_spent = 10, Decimal(12_000)
            found.first_order_at = datetime.now(UTC) - timedelta(days=365)
            session.commit()
        if setup == "repeat":
            earlier = make_ticket(
                session,
                found,
                category=ComplaintCategory.DELIVERY,
                language=Language.EN,
                text="late",
                now=datetime.now(UTC) - timedelta(days=10),
            )
            earlier.status = TicketStatus.RESOLVED
            session.commit()
    responses, events = run(ActionListenToComplaint(), tracker(text, "complain_delivery"))
    assert HANDOFF_RESPONSES & set(responses)
    assert responses[-1] == "utter_ticket_reference"
    assert slot(events, "complaint_stage") == "handed_off"
    with store() as session:
        handoff = session.scalars(select(Handoff)).one()
        assert handoff.reason is reason
        ticket = session.get(Ticket, slot(events, "ticket_id"))
        assert ticket is not None and ticket.status is TicketStatus.HANDED_OFF


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("no", "deny"),
        ("沒有了 謝謝", "thank"),
        ("that's it", "nlu_fallback"),
        ("ok", "affirm"),
        ("就這樣", "out_of_scope"),
        ("nope thats all thx", "deny"),
    ],
)
def test_ending_the_story_any_ordinary_way_thanks_and_apologises(
    store: sessionmaker[Session], text: str, intent: str
) -> None:
    _, events = run(ActionListenToComplaint(), tracker("It broke", "complain_quality"))
    responses, events = run(
        ActionListenToComplaint(),
        tracker(
            text,
            intent,
            slots={"ticket_id": slot(events, "ticket_id"), "complaint_stage": "listening"},
        ),
    )
    assert responses == ["utter_thank_for_telling", "utter_apologise"]
    assert slot(events, "complaint_stage") == "agreeing"
    with store() as session:
        ticket = session.scalars(select(Ticket)).one()
        assert ticket.description == "It broke"
        assert set(steps_done(ticket)) == {
            RecoveryStep.EMPATHISE,
            RecoveryStep.THANK,
            RecoveryStep.APOLOGISE,
        }


def test_a_restated_outcome_while_listening_belongs_to_the_same_ticket(
    store: sessionmaker[Session],
) -> None:
    _, events = run(ActionListenToComplaint(), tracker("被扣了兩次錢", "complain_billing"))
    ticket_id = slot(events, "ticket_id")
    _, events = run(
        ActionListenToComplaint(),
        tracker(
            "多扣的那筆退給我啊",
            "complain_billing",
            slots={"ticket_id": ticket_id, "complaint_stage": "listening"},
        ),
    )
    assert slot(events, "desired_outcome") == "refund"
    assert slot(events, "ticket_id") is None  # no new ticket
    assert slot(events, "complaint_stage") == "agreeing"
    with store() as session:
        assert session.scalars(select(Ticket.id)).all() == [ticket_id]


def test_the_story_moves_on_by_itself_after_a_few_messages(store: sessionmaker[Session]) -> None:
    _, events = run(ActionListenToComplaint(), tracker("the mug is chipped", "complain_quality"))
    listened = {"event": "action", "name": "action_listen_to_complaint"}
    slots = {"ticket_id": slot(events, "ticket_id"), "complaint_stage": "listening"}
    said = []
    for turn, text in enumerate(["and the box was wet", "and it smelled", "also late", "ugh"]):
        history = [{"event": "slot", "name": "ticket_id"}, *[listened] * turn]
        responses, events = run(
            ActionListenToComplaint(),
            tracker(text, "complain_quality", slots=slots, events=history),
        )
        said.append(responses[0])
    assert said[:3] == [
        "utter_complaint_more",
        "utter_complaint_more_again",
        "utter_complaint_more",
    ]
    assert said[3] == "utter_story_enough"
    assert slot(events, "complaint_stage") == "agreeing"


def test_asking_for_a_person_hands_off_without_a_ticket(store: sessionmaker[Session]) -> None:
    responses, events = run(ActionHandOff(), tracker("真人客服", "request_human"))
    assert slot(events, "complaint_stage") == "handed_off"
    assert HANDOFF_RESPONSES & set(responses)
    assert "utter_ticket_reference" not in responses
    with store() as session:
        assert session.scalars(select(Handoff.reason)).one() is HandoffReason.ASKED_FOR_PERSON


def test_second_fallback_in_a_row_hands_off(store: sessionmaker[Session]) -> None:
    first = {"event": "user", "text": "asdf", "parse_data": {"intent": {"name": "nlu_fallback"}}}
    asked = {"event": "bot", "text": DOMAIN["responses"]["utter_ask_rephrase"][0]["text"]}
    second = {"event": "user", "text": "qwer", "parse_data": {"intent": {"name": "nlu_fallback"}}}
    responses, _ = run(ActionHandleFallback(), tracker("asdf", "nlu_fallback", events=[first]))
    assert responses == ["utter_ask_rephrase"]
    responses, _ = run(
        ActionHandleFallback(), tracker("qwer", "nlu_fallback", events=[first, asked, second])
    )
    assert HANDOFF_RESPONSES & set(responses)
    with store() as session:
        assert session.scalars(select(Handoff.reason)).one() is HandoffReason.REPEATED_FALLBACK


def test_an_unhappy_message_the_model_missed_is_listened_to(store: sessionmaker[Session]) -> None:
    responses, events = run(
        ActionHandleFallback(), tracker("seriously?? 3rd time this happens 🙄", "nlu_fallback")
    )
    assert responses == ["utter_complaint_empathise"]
    assert slot(events, "complaint_stage") == "listening"


def test_opting_out_in_a_chat_stops_marketing_only(store: sessionmaker[Session]) -> None:
    with store() as session:
        customer(session)
    assert run(ActionOptOut(), tracker("stop texting me promos", "opt_out"))[0] == [
        "utter_opted_out"
    ]
    with store() as session:
        identity = session.scalars(select(ChannelIdentity)).one()
        assert not identity.marketing_consent
        assert not identity.opted_out  # service answers keep flowing
    assert run(ActionOptIn(), tracker("我要訂閱", "opt_in"))[0] == ["utter_opted_in"]
    with store() as session:
        identity = session.scalars(select(ChannelIdentity)).one()
        assert not identity.opted_out and identity.marketing_consent


def test_a_question_about_a_cancelled_order_is_not_an_opt_out(
    store: sessionmaker[Session],
) -> None:
    with store() as session:
        mine = customer(session)
        make_order(session, mine, placed_at=datetime.now(UTC), status=OrderStatus.CANCELLED)
        session.commit()
    responses, _ = run(ActionOptOut(), tracker("所以訂單是取消了對吧？不會再寄來吧", "opt_out"))
    assert responses == ["utter_already_cancelled"]
    with store() as session:
        identity = session.scalars(select(ChannelIdentity)).one()
        assert identity.marketing_consent and not identity.opted_out


def test_order_status_of_the_named_order_only_if_it_is_theirs(
    store: sessionmaker[Session],
) -> None:
    with store() as session:
        mine = customer(session)
        make_order(session, mine, placed_at=datetime.now(UTC), status=OrderStatus.SHIPPED)
        other = make_customer(session, name="other", telegram_chat_id="999")
        make_order(session, other, placed_at=datetime.now(UTC))
        session.commit()
        my_number = mine.orders[0].number
        their_number = other.orders[0].number
    entity = [{"entity": "order_number", "value": my_number}]
    assert run(
        ActionOrderStatus(), tracker(f"{my_number} 到哪了", "order_status", entities=entity)
    )[0] == ["utter_order_status_shipped_undated"]
    assert run(ActionOrderStatus(), tracker(f"where is {their_number}", "order_status"))[0] == [
        "utter_order_not_yours"
    ]
    assert run(ActionOrderStatus(), tracker("where is my order", "order_status"))[0] == [
        "utter_order_status_shipped_undated"
    ]


def sent_survey(store: sessionmaker[Session]) -> None:
    with store() as session:
        found = customer(session)
        ticket = make_ticket(
            session,
            found,
            category=ComplaintCategory.DELIVERY,
            language=Language.ZH_TW,
            text="late",
            now=datetime.now(UTC),
        )
        ticket.status = TicketStatus.RESOLVED
        session.add(
            SatisfactionSurvey(
                ticket_id=ticket.id,
                customer_id=found.id,
                due_at=datetime.now(UTC),
                status=SurveyStatus.SENT,
                sent_at=datetime.now(UTC),
            )
        )
        session.commit()


def test_low_score_reopens_the_ticket_and_hands_off(store: sessionmaker[Session]) -> None:
    sent_survey(store)
    responses, _ = run(
        ActionRecordScore(),
        tracker("2分", "give_score", entities=[{"entity": "score", "value": "2"}]),
    )
    assert responses[0] == "utter_sorry_for_score"
    assert HANDOFF_RESPONSES & set(responses)
    with store() as session:
        reopened = session.scalars(select(Ticket)).one()
        assert (reopened.status, reopened.satisfaction_score) == (TicketStatus.HANDED_OFF, 2)
        assert session.scalars(select(Handoff.reason)).one() is HandoffReason.LOW_SATISFACTION


def test_high_score_is_thanked_and_stored(store: sessionmaker[Session]) -> None:
    sent_survey(store)
    responses, _ = run(ActionRecordScore(), tracker("⭐⭐⭐⭐⭐ 5", "give_score"))
    assert responses == ["utter_thanks_for_score"]
    with store() as session:
        survey = session.scalars(select(SatisfactionSurvey)).one()
        assert (survey.score, survey.status) == (5, SurveyStatus.ANSWERED)


def test_a_number_without_a_survey_is_not_taken_as_a_rating(
    store: sessionmaker[Session],
) -> None:
    responses, _ = run(ActionRecordScore(), tracker("1", "give_score"))
    assert responses == ["utter_ask_rephrase"]


def test_compensation_choice_by_number_or_words() -> None:
    options = [
        CompensationOption("coupon", Decimal(100)),
        CompensationOption("free_shipping", Decimal(100)),
    ]
    labels = ["NT$100 購物金", "下一筆訂單免運費"]
    assert choose_option("1", options, labels) == 0
    assert choose_option("2.", options, labels) == 1
    assert choose_option("免運好了", options, labels) == 1
    assert choose_option("store credit please", options, labels) == 0
    assert choose_option("3", options, labels) is None
    assert choose_option("隨便", options, labels) is None


def test_compensation_form_refuses_an_unclear_answer(store: sessionmaker[Session]) -> None:
    with store() as session:
        found = customer(session)
        make_product(session)
        ticket = make_ticket(
            session,
            found,
            category=ComplaintCategory.DELIVERY,
            language=Language.ZH_TW,
            text="還沒到",
            now=datetime.now(UTC),
        )
        session.commit()
        ticket_id = ticket.id
    dispatcher = CollectingDispatcher()
    result = ValidateCompensationForm().validate_compensation_choice(
        "隨便", dispatcher, tracker("隨便", "out_of_scope", slots={"ticket_id": ticket_id}), {}
    )
    assert result == {"compensation_choice": None}
    assert dispatcher.messages[0]["response"] == "utter_ask_compensation_again"
    result = ValidateCompensationForm().validate_compensation_choice(
        "2", CollectingDispatcher(), tracker("2", "give_score", slots={"ticket_id": ticket_id}), {}
    )
    assert result == {"compensation_choice": "free_shipping"}


def test_the_compensation_granted_is_a_stored_coupon_of_the_ticket(
    store: sessionmaker[Session],
) -> None:
    with store() as session:
        found = customer(session)
        ticket = make_ticket(session, found, text="還沒到", now=datetime.now(UTC))
        session.commit()
        ticket_id = ticket.id
    chosen = tracker(
        "1", "give_score", slots={"ticket_id": ticket_id, "compensation_choice": "coupon"}
    )
    responses, _ = run(ActionCloseComplaint(), chosen)
    assert "utter_compensation_granted" in responses
    with store() as session:
        ticket = session.get_one(Ticket, ticket_id)
        coupon = session.scalars(select(Coupon)).one()
        assert ticket.coupon_code == coupon.code and coupon.code.startswith("SORRY-")
        assert (coupon.purpose, coupon.ticket_id, coupon.customer_id) == (
            CouponPurpose.COMPLAINT,
            ticket_id,
            ticket.customer_id,
        )
        assert (coupon.description, coupon.value) == ("coupon", ticket.compensation_value)


def test_outcome_entity_values_are_cleaned_and_checked() -> None:
    form = ValidateComplaintForm()
    check = form.validate_desired_outcome
    empty = tracker("", "choose_outcome")
    assert check(" Refund ", CollectingDispatcher(), empty, {}) == {"desired_outcome": "refund"}
    assert check("money", CollectingDispatcher(), empty, {}) == {"desired_outcome": None}
