"""Step 4 of the script: which order, which outcome, and a yes, however they are said.

The form claims everything the customer says while it runs, except what has its own
rule (a question in between, asking for a person, a threat): a complaint restated, an
outcome said in words or corrected, an order named by product or month all belong to
the complaint being agreed, never to a new one. A question it asked and did not get an
answer to is asked differently the second time.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.interfaces import Action, Tracker
from rasa_sdk.types import DomainDict

from bot.actions.complaint import outcome_said, problem_statement, rate_severity
from bot.actions.context import catalogue, talk
from bot.actions.handoff import (
    current_ticket,
    last_bot_text,
    not_understood_twice,
    said_last,
    said_this_turn,
)
from bot.actions.order_choice import order_label, orders_meant, own_order, recent
from bot.actions.phrases import confirms, no_order_meant, outcome_in
from contract.rasa import intent_payload
from crm_store.models import ComplaintCategory, DesiredOutcome, RecoveryStep
from crm_store.orders import ORDER_NUMBER
from crm_store.tickets import add_to_description, agree_outcome, record_step
from crm_store.time_text import format_date

PROPOSED = "proposed"
NOT_PROPOSED = "not_proposed"
DECLINED = ""  # proposed_order once the customer said the proposal was not it
NO_ORDER = "none"  # order_number of a complaint about a person, the shop or the website
ASKED_TWICE = "no answer to the same question twice"
# What the customer may say during the form that belongs to the complaint.
COMPLAINT_TALK = frozenset(
    {
        "complain_order",
        "complain_delivery",
        "complain_quality",
        "complain_billing",
        "complain_staff",
        "complain_other",
        "choose_outcome",
        "provide_order_number",
        "affirm",
        "deny",
        "nlu_fallback",
        "out_of_scope",
        "give_score",
    }
)


def _text(tracker: Tracker) -> str:
    return str(tracker.latest_message.get("text") or "")


class ActionAskOrderNumber(Action):
    """Propose the order the customer means (named product or month, else the latest);
    when it was not that one, list the recent orders to choose from."""

    def name(self) -> str:
        return "action_ask_order_number"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if said_last(tracker, domain, "utter_which_order"):
            return not_understood_twice(dispatcher, tracker, note=ASKED_TWICE, in_form=True)
        proposed = tracker.get_slot("proposed_order")
        with talk(tracker) as current:
            orders = recent(current)
            # The same order proposed again would be the same question twice in a row.
            repeating = said_last(tracker, domain, "utter_propose_order") and bool(
                proposed and proposed in last_bot_text(tracker)
            )
            if (proposed == DECLINED or repeating) and len(orders) > 1:
                if said_last(tracker, domain, "utter_choose_order"):
                    dispatcher.utter_message(response="utter_which_order")
                    return []
                dispatcher.utter_message(
                    response="utter_choose_order",
                    buttons=[
                        {
                            "title": order_label(current, order),
                            "payload": intent_payload(
                                "provide_order_number", {"order_number": order.number}
                            ),
                        }
                        for order in orders
                    ],
                )
                return [SlotSet("proposed_order", DECLINED)]
            order = own_order(current, proposed) if proposed and proposed != DECLINED else None
            if order is None and proposed != DECLINED:
                ticket = current_ticket(current, tracker)
                meant = orders_meant(current, ticket.description) if ticket else []
                order = meant[0] if meant else (orders[0] if orders else None)
            if order is None or repeating:
                dispatcher.utter_message(response="utter_which_order")
                return []
            zone = current.settings.opening_hours.timezone
            dispatcher.utter_message(
                response="utter_propose_order",
                order_number=order.number,
                order_date=format_date(order.placed_at.astimezone(zone).date(), current.language),
                order_items=order_label(current, order).split(" · ", 2)[-1],
            )
        return [SlotSet("proposed_order", order.number)]


class ActionAskDesiredOutcome(Action):
    """Ask what the customer wants; asked again, in other words and with the choices."""

    def name(self) -> str:
        return "action_ask_desired_outcome"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if said_last(tracker, domain, "utter_ask_outcome_again") and said_this_turn(tracker):
            return []  # "What would you like us to do?" was just asked, with the choices
        if said_last(tracker, domain, "utter_ask_desired_outcome_again"):
            return not_understood_twice(dispatcher, tracker, note=ASKED_TWICE, in_form=True)
        again = said_last(tracker, domain, "utter_ask_desired_outcome")
        dispatcher.utter_message(
            response="utter_ask_desired_outcome_again" if again else "utter_ask_desired_outcome"
        )
        return []


class ActionAskOutcomeConfirmed(Action):
    """Restate the problem and the outcome in the bot's own words, and ask for a yes."""

    def name(self) -> str:
        return "action_ask_outcome_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        outcome = tracker.get_slot("desired_outcome")
        if said_last(tracker, domain, f"utter_confirm_{outcome}"):
            # Neither yes nor no: ask for the outcome again rather than the same question.
            dispatcher.utter_message(response="utter_ask_outcome_again")
            return [SlotSet("desired_outcome", None)]
        with talk(tracker) as current:
            ticket = current_ticket(current, tracker)
            order = own_order(current, tracker.get_slot("order_number"))
            problem = problem_statement(current, ticket, order) if ticket else ""
        dispatcher.utter_message(response=f"utter_confirm_{outcome}", problem=problem)
        return []


class ValidateComplaintForm(FormValidationAction):
    """Step 4: the order (validated against the store), the outcome, and a yes."""

    def name(self) -> str:
        return "validate_complaint_form"

    async def extract_order_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot("order_number"):
            return {}
        text = _text(tracker)
        numbers = catalogue().find(text).order_numbers
        if numbers:
            return {"order_number": numbers[0]}
        requested = tracker.get_slot("requested_slot")
        if requested is None:
            # The form starts: a complaint about a person or the shop needs no order.
            with talk(tracker) as current:
                ticket = current_ticket(current, tracker)
                if ticket is not None and (
                    ticket.category is ComplaintCategory.STAFF or no_order_meant(ticket.description)
                ):
                    return {"order_number": NO_ORDER}
            return {}
        if requested != "order_number":
            return {}
        if no_order_meant(text):
            return {"order_number": NO_ORDER}
        intent = tracker.get_intent_of_latest_message()
        if intent in ("affirm", "deny"):
            return {}
        with talk(tracker) as current:
            meant = orders_meant(current, text)
        if len(meant) == 1:
            return {"order_number": meant[0].number}
        return {"order_number": NOT_PROPOSED} if meant else {}

    def validate_order_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value == NO_ORDER:
            if tracker.get_slot("requested_slot") == "order_number":
                dispatcher.utter_message(response="utter_no_order_needed")
            return {"order_number": NO_ORDER}
        proposed = tracker.get_slot("proposed_order")
        if value == NOT_PROPOSED:
            with talk(tracker) as current:
                meant = orders_meant(current, _text(tracker), excluding={proposed or ""})
            if meant:
                return {"order_number": None, "proposed_order": meant[0].number}
            return {"order_number": None, "proposed_order": DECLINED}
        number = proposed if value == PROPOSED else value
        if not number or not ORDER_NUMBER.fullmatch(str(number)):
            return {"order_number": None, "proposed_order": DECLINED}
        with talk(tracker) as current:
            order = own_order(current, str(number))
        if order is None:
            dispatcher.utter_message(response="utter_order_not_found", order_number=number)
            return {"order_number": None, "proposed_order": DECLINED}
        return {"order_number": order.number}

    async def extract_desired_outcome(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = _text(tracker)
        said = outcome_said(tracker)
        if said:
            return {"desired_outcome": said.value}
        intent = tracker.get_intent_of_latest_message()
        requested = tracker.get_slot("requested_slot")
        if requested is None or intent not in COMPLAINT_TALK:
            return {}
        if intent in ("affirm", "deny") and requested != "desired_outcome":
            return {}  # the yes or no answers the order or the confirmation
        if intent not in ("affirm", "deny", "provide_order_number"):
            # More of the story while agreeing: it belongs to this complaint's ticket.
            with talk(tracker) as current:
                ticket = current_ticket(current, tracker)
                if ticket is not None:
                    add_to_description(ticket, text)
                    rate_severity(current, ticket)
        # Claiming the turn keeps the form (and this complaint) going.
        return {"desired_outcome": tracker.get_slot("desired_outcome")}

    def validate_desired_outcome(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        # Entity values can come back with stray spaces from the Jieba tokenizer.
        outcome = str(value or "").strip().lower()
        if outcome in set(DesiredOutcome):
            return {"desired_outcome": outcome}
        return {"desired_outcome": None}

    async def extract_outcome_confirmed(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        # Read here, not by the NLU alone: "that's it" is a no to "anything else?".
        if tracker.get_slot("requested_slot") == "outcome_confirmed" and confirms(_text(tracker)):
            return {"outcome_confirmed": True}
        return {}

    def validate_outcome_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is not True:
            # "No, I said replacement": the correction is the answer.
            corrected = outcome_in(_text(tracker))
            if corrected is not None and corrected != tracker.get_slot("desired_outcome"):
                return {"outcome_confirmed": None, "desired_outcome": corrected.value}
            dispatcher.utter_message(response="utter_ask_outcome_again")
            return {"outcome_confirmed": None, "desired_outcome": None}
        if tracker.get_slot("desired_outcome") not in set(DesiredOutcome):
            return {"outcome_confirmed": None}
        with talk(tracker) as current:
            ticket = current_ticket(current, tracker)
            if ticket is not None:
                order = own_order(current, tracker.get_slot("order_number"))
                outcome = DesiredOutcome(str(tracker.get_slot("desired_outcome")))
                agree_outcome(
                    ticket,
                    order=order,
                    problem_summary=problem_statement(current, ticket, order),
                    desired_outcome=outcome,
                )
                record_step(
                    current.session,
                    ticket,
                    RecoveryStep.FIND_OUT_WANTS,
                    now=current.now,
                    note=f"order {order.number if order else '-'}, wants {outcome.value}",
                )
        return {"outcome_confirmed": True}


__all__ = [
    "ActionAskDesiredOutcome",
    "ActionAskOrderNumber",
    "ActionAskOutcomeConfirmed",
    "ValidateComplaintForm",
]
