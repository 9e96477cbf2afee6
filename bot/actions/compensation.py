"""The complaint script, steps 6 to 8: compensate, follow up, prevent (DESIGN.md).

6. offer the compensation the policy table gives for the complaint's severity and the
customer's tier (`ActionAskCompensationChoice`, `compensation_form`) and grant the
one chosen, with a coupon from `crm_store.coupons`; 7. schedule the follow-up survey;
8. record the root cause and resolve the ticket (`close_complaint`).
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.interfaces import Action, Tracker
from rasa_sdk.types import DomainDict

from bot.actions.context import Talk, talk
from bot.actions.handoff import current_ticket, said_last
from crm_store.coupons import issue_coupon
from crm_store.models import CouponPurpose, RecoveryStep, Ticket
from crm_store.policy import CompensationOption, load_policy
from crm_store.tickets import grant_compensation, record_step, resolve_ticket, schedule_survey
from crm_store.time_text import format_date


def compensation_options(current: Talk, ticket: Ticket) -> list[CompensationOption]:
    policy = load_policy()
    return policy.compensation_options(
        severity=policy.severity(ticket.category, ticket.description), tier=current.customer.tier
    )


def offered_compensation(tracker: Tracker) -> tuple[list[CompensationOption], list[str]]:
    """The options offered for the conversation's ticket, and how they read to the customer."""
    with talk(tracker) as current:
        ticket = current_ticket(current, tracker)
        options = compensation_options(current, ticket) if ticket else []
        labels = [load_policy().label(option, current.language) for option in options]
    return options, labels


class ActionAskCompensationChoice(Action):
    """Step 6: offer the compensation options, one button each."""

    def name(self) -> str:
        return "action_ask_compensation_choice"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        _, labels = offered_compensation(tracker)
        dispatcher.utter_message(
            response="utter_offer_compensation_choice",
            buttons=[
                {"title": f"{index}. {label}", "payload": str(index)}
                for index, label in enumerate(labels, start=1)
            ],
        )
        return []


def choose_option(text: str, options: list[CompensationOption], labels: list[str]) -> int | None:
    """Which option a reply picks: its number, or words of its label."""
    reply = text.strip().lower()
    digits = re.match(r"^\s*(\d)\b", reply)
    if digits and 1 <= int(digits.group(1)) <= len(options):
        return int(digits.group(1)) - 1
    hints = {
        "coupon": ("購物金", "credit", "coupon", "折價"),
        "free_shipping": ("免運", "shipping"),
    }
    for index, (option, label) in enumerate(zip(options, labels, strict=True)):
        if label.lower() in reply or any(h in reply for h in hints.get(option.kind, ())):
            return index
    return None


# Questions that interrupt the compensation choice; everything else is an answer to it.
INTERRUPTIONS = frozenset(
    {
        "delivery_info",
        "returns_policy",
        "store_info",
        "payment_methods",
        "order_status",
        "cancel_order",
        "change_order",
        "start_return",
        "opt_out",
        "opt_in",
        "greet",
        "goodbye",
        "thank",
        "request_human",
        "threaten",
    }
)


class ValidateCompensationForm(FormValidationAction):
    def name(self) -> str:
        return "validate_compensation_form"

    async def extract_compensation_choice(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "compensation_choice":
            return {}
        text = str(tracker.latest_message.get("text") or "")
        options, labels = offered_compensation(tracker)
        picked = choose_option(text, options, labels) is not None
        if not picked and tracker.get_intent_of_latest_message() in INTERRUPTIONS:
            return {}
        return {"compensation_choice": text}

    def validate_compensation_choice(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        options, labels = offered_compensation(tracker)
        index = choose_option(str(value or ""), options, labels)
        if index is None and options and said_last(tracker, domain, "utter_ask_compensation_again"):
            # Asked twice with no choice: never a third time; the first option, changeable.
            dispatcher.utter_message(response="utter_compensation_picked", compensation=labels[0])
            index = 0
        if index is None:
            dispatcher.utter_message(response="utter_ask_compensation_again")
            return {"compensation_choice": None}
        return {"compensation_choice": options[index].kind}


class ActionCloseComplaint(Action):
    """Steps 6 to 8 after the customer chose: grant, schedule the survey, record the cause."""

    def name(self) -> str:
        return "action_close_complaint"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        with talk(tracker) as current:
            ticket = current_ticket(current, tracker)
            if ticket is not None:
                options = compensation_options(current, ticket)
                chosen = next(
                    (o for o in options if o.kind == tracker.get_slot("compensation_choice")),
                    options[0] if options else None,
                )
                if chosen is not None:
                    close_complaint(dispatcher, current, ticket, chosen)
        return [SlotSet("complaint_stage", "closed")]


def close_complaint(
    dispatcher: CollectingDispatcher, current: Talk, ticket: Ticket, option: CompensationOption
) -> None:
    """Grant `option` (step 6), schedule the follow-up (7), record the root cause (8)."""
    policy = load_policy()
    code = issue_coupon(
        current.session,
        purpose=CouponPurpose.COMPLAINT,
        customer_id=ticket.customer_id,
        now=current.now,
        value=option.value,
        description=option.kind,
        ticket_id=ticket.id,
    ).code
    grant_compensation(ticket, kind=option.kind, value=option.value, coupon_code=code)
    label = policy.label(option, current.language)
    record_step(current.session, ticket, RecoveryStep.COMPENSATE, now=current.now, note=label)
    dispatcher.utter_message(
        response="utter_compensation_granted", compensation=label, coupon_code=code
    )

    survey = schedule_survey(current.session, ticket, due_at=current.now + policy.survey_after)
    record_step(
        current.session,
        ticket,
        RecoveryStep.FOLLOW_UP,
        now=current.now,
        note=f"survey due {survey.due_at.isoformat(timespec='minutes')}",
    )
    local_follow_up = survey.due_at.astimezone(current.settings.opening_hours.timezone)
    dispatcher.utter_message(
        response="utter_follow_up_scheduled",
        ticket_ref=ticket.reference,
        follow_up_date=format_date(local_follow_up.date(), current.language),
    )

    cause = policy.cause(ticket.category, ticket.description)
    resolve_ticket(ticket, root_cause=cause.name, now=current.now)
    record_step(current.session, ticket, RecoveryStep.PREVENT, now=current.now, note=cause.name)
    dispatcher.utter_message(response="utter_prevent")


__all__ = [
    "ActionAskCompensationChoice",
    "ActionCloseComplaint",
    "ValidateCompensationForm",
]
