"""The complaint actions run from tracker fixtures, on a real store: listening, handing a
complaint straight to a person, the story moving on, and the compensation chosen and granted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.actions.compensation import ActionCloseComplaint, ValidateCompensationForm, choose_option
from bot.actions.complaint import ActionListenToComplaint
from bot.actions.complaint_form import ValidateComplaintForm
from crm_store.models import (
    ComplaintCategory,
    Coupon,
    CouponPurpose,
    Handoff,
    HandoffReason,
    Language,
    RecoveryStep,
    Ticket,
    TicketStatus,
    Tier,
)
from crm_store.policy import CompensationOption
from crm_store.tickets import steps_done
from tests.bot.action_helpers import HANDOFF_RESPONSES, customer, run, slot, tracker
from tests.factories import make_product, make_ticket

pytestmark = pytest.mark.usefixtures("store")


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
