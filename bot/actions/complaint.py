"""The complaint script: the eight steps of service recovery (DESIGN.md).

1. listen (`ActionListenToComplaint`, once per burst), 2-3. thank and apologise
(`ActionAcknowledgeComplaint`), 4. find out what the customer wants (`complaint_form`:
the order, the outcome, a yes), 5. solve it within policy (`ActionResolveComplaint`),
6. compensate (`compensation_form`, `ActionCloseComplaint`), 7. schedule the follow-up
survey and 8. record the root cause. Each step is logged on the ticket with its time.
"""

from __future__ import annotations

import re
import secrets
import string
from typing import Any

from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.interfaces import Action, Tracker
from rasa_sdk.types import DomainDict
from sqlalchemy import select

from bot.actions.context import Talk, catalogue, talk
from bot.actions.handoff import HANDED_OFF, current_ticket, hand_off
from bot.actions.texts import format_date
from bot.actions.triggers import has_threat
from crm_store.customers import recent_orders
from crm_store.models import (
    ComplaintCategory,
    DesiredOutcome,
    HandoffReason,
    Order,
    RecoveryStep,
    Ticket,
    TicketStatus,
)
from crm_store.orders import find_order
from crm_store.policy import CompensationOption, load_policy
from crm_store.tickets import (
    add_to_description,
    agree_outcome,
    grant_compensation,
    is_repeat_complaint,
    open_ticket,
    record_step,
    resolve_ticket,
    schedule_survey,
)

CATEGORY_OF_INTENT = {
    "complain_order": ComplaintCategory.ORDER,
    "complain_delivery": ComplaintCategory.DELIVERY,
    "complain_quality": ComplaintCategory.QUALITY,
    "complain_billing": ComplaintCategory.BILLING,
    "complain_staff": ComplaintCategory.STAFF,
}
# Slots of one complaint, cleared when the next one starts.
COMPLAINT_SLOTS = (
    "order_number",
    "proposed_order",
    "desired_outcome",
    "outcome_confirmed",
    "compensation_choice",
)
PROPOSED = "proposed"
NOT_PROPOSED = "not_proposed"
DECLINED = ""  # proposed_order once the customer said the proposal was not it
ORDER_NUMBER = re.compile(r"[Aa]\d{7}")
COUPON_ALPHABET = string.ascii_uppercase + string.digits


def _text(tracker: Tracker) -> str:
    return str(tracker.latest_message.get("text") or "")


def _own_order(current: Talk, number: str) -> Order | None:
    order = find_order(current.session, number)
    return order if order is not None and order.customer_id == current.customer.id else None


def _order_number_in(text: str) -> str | None:
    numbers = catalogue().find(text).order_numbers
    return numbers[0] if numbers else None


def _product_names(current: Talk, order: Order | None, text: str) -> str:
    """The products the complaint is about: those named in it, else the order's."""
    mentioned = {mention.product_id for mention in catalogue().find(text).products}
    items = [item.product for item in order.items] if order else []
    chosen = [p for p in items if p.id in mentioned] or items
    names = [p.name_en if current.language.value == "en" else p.name_zh for p in chosen]
    return ", ".join(names[:3])


def _problem(current: Talk, ticket: Ticket, order: Order | None) -> str:
    """The complaint restated in the bot's own words (step 4)."""
    cause = load_policy().cause(ticket.category, ticket.description)
    phrase = cause.phrases[current.language.value]
    products = _product_names(current, order, ticket.description)
    if not products:
        return phrase
    return f"{phrase} ({products})" if current.language.value == "en" else f"{phrase}（{products}）"


class ActionListenToComplaint(Action):
    """Step 1: open the ticket or add to it, acknowledge the feelings, invite more."""

    def name(self) -> str:
        return "action_listen_to_complaint"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = _text(tracker)
        intent = tracker.get_intent_of_latest_message() or ""
        events: list[EventType] = []
        with talk(tracker) as current:
            ticket = current_ticket(current, tracker)
            listening = tracker.get_slot("complaint_stage") == "listening"
            if listening and ticket is not None and ticket.status is TicketStatus.OPEN:
                add_to_description(ticket, text)
                is_new = False
            else:
                ticket = open_ticket(
                    current.session,
                    customer=current.customer,
                    conversation=current.conversation,
                    category=CATEGORY_OF_INTENT.get(intent, ComplaintCategory.OTHER),
                    language=current.language,
                    text=text,
                    now=current.now,
                )
                is_new = True
                events += [SlotSet(slot, None) for slot in COMPLAINT_SLOTS]
                events.append(SlotSet("ticket_id", ticket.id))
            number = _order_number_in(text)
            if number and _own_order(current, number):
                events.append(SlotSet("order_number", number))
            outcome = next(tracker.get_latest_entity_values("outcome"), None)
            if outcome in DesiredOutcome.__members__.values():
                events.append(SlotSet("desired_outcome", outcome))

            reason = self._handoff_reason(current, ticket, text, is_new=is_new)
            if reason is not None:
                hand_off(dispatcher, current, reason=reason, ticket=ticket)
                return [*events, HANDED_OFF]
            response = "utter_complaint_empathise" if is_new else "utter_complaint_more"
            dispatcher.utter_message(response=response)
        return [*events, SlotSet("complaint_stage", "listening")]

    @staticmethod
    def _handoff_reason(
        current: Talk, ticket: Ticket, text: str, *, is_new: bool
    ) -> HandoffReason | None:
        if has_threat(text):
            return HandoffReason.ANGER_OR_THREAT
        if is_new and load_policy().is_high_value(current.customer, now=current.now):
            return HandoffReason.VIP_COMPLAINT
        if is_new and is_repeat_complaint(current.session, ticket, now=current.now):
            return HandoffReason.REPEAT_COMPLAINT
        return None


class ActionAcknowledgeComplaint(Action):
    """Steps 2 and 3: thank, saying why; apologise in the first person; promise action."""

    def name(self) -> str:
        return "action_acknowledge_complaint"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        with talk(tracker) as current:
            ticket = current_ticket(current, tracker)
            if ticket is not None:
                record_step(current.session, ticket, RecoveryStep.THANK, now=current.now)
                record_step(current.session, ticket, RecoveryStep.APOLOGISE, now=current.now)
        dispatcher.utter_message(response="utter_thank_for_telling")
        dispatcher.utter_message(response="utter_apologise")
        return [SlotSet("complaint_stage", "agreeing")]


class ActionAskOrderNumber(Action):
    """Propose the customer's most recent order, or ask for the number."""

    def name(self) -> str:
        return "action_ask_order_number"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if tracker.get_slot("proposed_order") == DECLINED:
            dispatcher.utter_message(response="utter_which_order")
            return []
        with talk(tracker) as current:
            latest = recent_orders(current.session, current.customer.id, limit=1)
            if not latest:
                dispatcher.utter_message(response="utter_which_order")
                return []
            order = latest[0]
            dispatcher.utter_message(
                response="utter_propose_order",
                order_number=order.number,
                order_date=format_date(
                    order.placed_at.astimezone(current.settings.opening_hours.timezone).date(),
                    current.language,
                ),
                order_items=_product_names(current, order, ""),
            )
        return [SlotSet("proposed_order", order.number)]


class ValidateComplaintForm(FormValidationAction):
    """Step 4: the order (validated against the store), the outcome, and a yes."""

    def name(self) -> str:
        return "validate_complaint_form"

    async def extract_order_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        # Order numbers typed inside a sentence the NLU did not tag.
        if tracker.get_slot("requested_slot") != "order_number":
            return {}
        number = _order_number_in(_text(tracker))
        return {"order_number": number} if number else {}

    def validate_order_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value == NOT_PROPOSED:
            return {"order_number": None, "proposed_order": DECLINED}
        number = tracker.get_slot("proposed_order") if value == PROPOSED else value
        if not number or not ORDER_NUMBER.fullmatch(str(number)):
            dispatcher.utter_message(response="utter_which_order")
            return {"order_number": None, "proposed_order": DECLINED}
        with talk(tracker) as current:
            order = _own_order(current, str(number))
        if order is None:
            dispatcher.utter_message(response="utter_order_not_found", order_number=number)
            return {"order_number": None, "proposed_order": DECLINED}
        return {"order_number": order.number}

    def validate_desired_outcome(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        # Entity values can come back with stray spaces from the Jieba tokenizer.
        outcome = str(value or "").strip().lower()
        if outcome in set(DesiredOutcome):
            return {"desired_outcome": outcome}
        return {"desired_outcome": None}

    def validate_outcome_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is not True:
            dispatcher.utter_message(response="utter_ask_outcome_again")
            return {"outcome_confirmed": None, "desired_outcome": None}
        with talk(tracker) as current:
            ticket = current_ticket(current, tracker)
            if ticket is not None:
                order = _own_order(current, str(tracker.get_slot("order_number")))
                outcome = DesiredOutcome(str(tracker.get_slot("desired_outcome")))
                agree_outcome(
                    ticket,
                    order=order,
                    problem_summary=_problem(current, ticket, order),
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


class ActionAskOutcomeConfirmed(Action):
    """Restate the problem and the outcome in the bot's own words, and ask for a yes."""

    def name(self) -> str:
        return "action_ask_outcome_confirmed"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        outcome = tracker.get_slot("desired_outcome")
        with talk(tracker) as current:
            ticket = current_ticket(current, tracker)
            order = _own_order(current, str(tracker.get_slot("order_number")))
            problem = _problem(current, ticket, order) if ticket else ""
        dispatcher.utter_message(
            response=f"utter_confirm_{outcome}",
            order_number=tracker.get_slot("order_number"),
            problem=problem,
        )
        return []


class ActionResolveComplaint(Action):
    """Step 5: act on the agreed outcome within policy, with a date; then step 6."""

    def name(self) -> str:
        return "action_resolve_complaint"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        policy = load_policy()
        with talk(tracker) as current:
            ticket = current_ticket(current, tracker)
            if ticket is None:
                dispatcher.utter_message(response="utter_ask_rephrase")
                return []
            order = _own_order(current, str(tracker.get_slot("order_number")))
            outcome = ticket.desired_outcome or DesiredOutcome(
                str(tracker.get_slot("desired_outcome"))
            )
            decision = policy.may_grant(
                category=ticket.category,
                outcome=outcome,
                tier=current.customer.tier,
                order_value=order.total if order else None,
            )
            if not decision.allowed:
                dispatcher.utter_message(response="utter_cannot_grant")
                hand_off(
                    dispatcher,
                    current,
                    reason=HandoffReason.COMPENSATION_BEYOND_AUTHORITY,
                    ticket=ticket,
                    note=decision.reason,
                )
                return [HANDED_OFF]

            local_today = current.now.astimezone(current.settings.opening_hours.timezone).date()
            due = policy.due_date(outcome, start=local_today)
            ticket.action_due = due
            ticket.agreed_action = f"{outcome.value} for order {order.number if order else '-'}"
            record_step(
                current.session,
                ticket,
                RecoveryStep.SOLVE,
                now=current.now,
                note=f"{ticket.agreed_action} by {due.isoformat()}",
            )
            dispatcher.utter_message(
                response=f"utter_resolution_{outcome.value}",
                amount=f"NT${order.total:,.0f}" if order else "",
                due_date=format_date(due, current.language),
            )

            options = compensation_options(current, ticket)
            if not options:
                hand_off(
                    dispatcher,
                    current,
                    reason=HandoffReason.COMPENSATION_BEYOND_AUTHORITY,
                    ticket=ticket,
                    note="compensation needs a person's decision",
                )
                return [HANDED_OFF]
            if len(options) > 1:
                return [SlotSet("complaint_stage", "compensating")]
            close_complaint(dispatcher, current, ticket, options[0])
        return [SlotSet("complaint_stage", "closed")]


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


class ValidateCompensationForm(FormValidationAction):
    def name(self) -> str:
        return "validate_compensation_form"

    def validate_compensation_choice(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        options, labels = offered_compensation(tracker)
        index = choose_option(str(value or ""), options, labels)
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


def _new_coupon_code(current: Talk) -> str:
    while True:
        code = "SORRY-" + "".join(secrets.choice(COUPON_ALPHABET) for _ in range(6))
        if current.session.scalar(select(Ticket.id).where(Ticket.coupon_code == code)) is None:
            return code


def close_complaint(
    dispatcher: CollectingDispatcher, current: Talk, ticket: Ticket, option: CompensationOption
) -> None:
    """Grant `option` (step 6), schedule the follow-up (7), record the root cause (8)."""
    policy = load_policy()
    code = _new_coupon_code(current)
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
    "ActionAcknowledgeComplaint",
    "ActionAskCompensationChoice",
    "ActionAskOrderNumber",
    "ActionAskOutcomeConfirmed",
    "ActionCloseComplaint",
    "ActionListenToComplaint",
    "ActionResolveComplaint",
    "ValidateCompensationForm",
    "ValidateComplaintForm",
]
