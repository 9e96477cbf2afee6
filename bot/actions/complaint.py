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
from bot.actions.handoff import HANDED_OFF, current_ticket, hand_off, said_last
from bot.actions.order_choice import (
    amount_meant,
    lines_meant,
    order_in_question,
    own_order,
    product_names,
    recent,
    say_status,
)
from bot.actions.phrases import (
    about_staff,
    asks_status,
    category_in,
    more_to_tell,
    outcome_in,
    story_is_told,
)
from bot.actions.triggers import has_threat
from crm_store.customers import OPEN_TICKET_STATUSES
from crm_store.models import (
    ComplaintCategory,
    DesiredOutcome,
    HandoffReason,
    Order,
    RecoveryStep,
    Ticket,
)
from crm_store.policy import CompensationOption, Decision, PolicyRule, load_policy
from crm_store.tickets import (
    add_to_description,
    grant_compensation,
    is_repeat_complaint,
    open_ticket,
    record_step,
    resolve_ticket,
    schedule_survey,
)
from crm_store.time_text import format_date

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
COUPON_ALPHABET = string.ascii_uppercase + string.digits
# Intents that end the story when the bot asked "anything else?".
STORY_ENDERS = ("deny", "thank", "goodbye")
# Messages added to the story before the bot moves on by itself.
MOST_STORY_TURNS = 2


def _text(tracker: Tracker) -> str:
    return str(tracker.latest_message.get("text") or "")


def _order_number_in(text: str) -> str | None:
    numbers = catalogue().find(text).order_numbers
    return numbers[0] if numbers else None


def problem_statement(current: Talk, ticket: Ticket, order: Order | None) -> str:
    """The complaint restated in the bot's own words (step 4), with its order if any."""
    cause = load_policy().cause(ticket.category, ticket.description)
    phrase = cause.phrases[current.language.value]
    products = product_names(current, order, ticket.description)
    english = current.language.value == "en"
    if products:
        phrase = f"{phrase} ({products})" if english else f"{phrase}（{products}）"
    if order is None:
        return phrase
    return f"order {order.number}: {phrase}" if english else f"訂單 {order.number}，{phrase}"


def rate_severity(current: Talk, ticket: Ticket) -> None:
    """Severity from what was said and who said it; threats are always the highest."""
    policy = load_policy()
    ticket.severity = (
        policy.highest_severity
        if has_threat(ticket.description)
        else policy.severity(ticket.category, ticket.description, tier=current.customer.tier)
    )


def _story_turns(tracker: Tracker) -> int:
    """How many messages the bot has listened to since the complaint was opened."""
    turns = 0
    for event in reversed(tracker.events):
        if event.get("event") == "slot" and event.get("name") == "ticket_id":
            break
        if event.get("event") == "action" and event.get("name") == "action_listen_to_complaint":
            turns += 1
    return turns


class ActionListenToComplaint(Action):
    """Step 1: open the ticket or add to it, acknowledge the feelings, invite more; when
    the story is told, steps 2 and 3 (thank, apologise) and on to step 4 (the form)."""

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
            ongoing = ticket is not None and ticket.status in OPEN_TICKET_STATUSES
            if ongoing and tracker.get_slot("complaint_stage") in ("listening", "agreeing"):
                assert ticket is not None
                return self._story_goes_on(dispatcher, tracker, domain, current, ticket)
            if asks_status(text) and recent(current, limit=1):
                # "Where's my order?" read as a complaint: the answer is the order's status.
                order = order_in_question(current, tracker)
                assert order is not None
                say_status(dispatcher, current, order)
                return []
            ticket = open_ticket(
                current.session,
                customer=current.customer,
                conversation=current.conversation,
                category=_category(intent, text),
                language=current.language,
                text=text,
                now=current.now,
            )
            rate_severity(current, ticket)
            events += [SlotSet(slot, None) for slot in COMPLAINT_SLOTS]
            events.append(SlotSet("ticket_id", ticket.id))
            events += _details_in(current, tracker, text)
            reason = self._handoff_reason(current, ticket, text)
            if reason is not None:
                hand_off(dispatcher, current, reason=reason, ticket=ticket)
                return [*events, HANDED_OFF]
            dispatcher.utter_message(response="utter_complaint_empathise")
        return [*events, SlotSet("complaint_stage", "listening")]

    def _story_goes_on(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
        current: Talk,
        ticket: Ticket,
    ) -> list[EventType]:
        """The customer answered "anything else?": more of the story, or the end of it."""
        text = _text(tracker)
        intent = tracker.get_intent_of_latest_message() or ""
        details = _details_in(current, tracker, text)
        if intent not in STORY_ENDERS and not story_is_told(text) and not more_to_tell(text):
            add_to_description(ticket, text)
            if ticket.category is ComplaintCategory.OTHER:
                ticket.category = _category(intent, ticket.description)
            rate_severity(current, ticket)
        if has_threat(text):
            hand_off(dispatcher, current, reason=HandoffReason.ANGER_OR_THREAT, ticket=ticket)
            return [*details, HANDED_OFF]
        told = intent in STORY_ENDERS or story_is_told(text) or bool(details)
        if not told and more_to_tell(text):
            if not said_last(tracker, domain, "utter_go_on"):
                dispatcher.utter_message(response="utter_go_on")
                return [SlotSet("complaint_stage", "listening")]
            told = True
        if not told:
            turns = _story_turns(tracker)
            if turns <= MOST_STORY_TURNS:
                more = "utter_complaint_more_again" if turns % 2 else "utter_complaint_more"
                dispatcher.utter_message(response=more)
                return [*details, SlotSet("complaint_stage", "listening")]
            dispatcher.utter_message(response="utter_story_enough")
        record_step(current.session, ticket, RecoveryStep.THANK, now=current.now)
        record_step(current.session, ticket, RecoveryStep.APOLOGISE, now=current.now)
        dispatcher.utter_message(response="utter_thank_for_telling")
        dispatcher.utter_message(response="utter_apologise")
        return [*details, SlotSet("complaint_stage", "agreeing")]

    @staticmethod
    def _handoff_reason(current: Talk, ticket: Ticket, text: str) -> HandoffReason | None:
        if has_threat(text):
            return HandoffReason.ANGER_OR_THREAT
        if load_policy().is_high_value(current.customer, now=current.now):
            return HandoffReason.VIP_COMPLAINT
        if is_repeat_complaint(current.session, ticket, now=current.now):
            return HandoffReason.REPEAT_COMPLAINT
        return None


def _category(intent: str, text: str) -> ComplaintCategory:
    """Staff when a person is what went wrong; else the NLU's intent; else the words."""
    if about_staff(text):
        return ComplaintCategory.STAFF
    return CATEGORY_OF_INTENT.get(intent) or category_in(text)


def outcome_said(tracker: Tracker) -> DesiredOutcome | None:
    """The outcome the latest message asks for: the NLU's entity when it is a valid one
    (a button's payload), else the customer's own words."""
    for value in tracker.get_latest_entity_values("outcome"):
        cleaned = str(value).strip().lower()
        if cleaned in set(DesiredOutcome):
            return DesiredOutcome(cleaned)
    return outcome_in(_text(tracker))


def _details_in(current: Talk, tracker: Tracker, text: str) -> list[EventType]:
    """The order and the wanted outcome, when the customer names them while telling."""
    events: list[EventType] = []
    number = _order_number_in(text)
    if number and own_order(current, number):
        events.append(SlotSet("order_number", number))
    outcome = outcome_said(tracker)
    if outcome is not None:
        events.append(SlotSet("desired_outcome", outcome.value))
    return events


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
            if tracker.get_slot("complaint_stage") == "handed_off":
                return [HANDED_OFF]  # a person has it; nothing is granted by the bot
            order = own_order(current, tracker.get_slot("order_number"))
            wanted = tracker.get_slot("desired_outcome")
            outcome = ticket.desired_outcome or (
                DesiredOutcome(wanted) if wanted in set(DesiredOutcome) else None
            )
            if outcome is None:
                hand_off(
                    dispatcher,
                    current,
                    reason=HandoffReason.OTHER,
                    ticket=ticket,
                    note="no outcome was agreed",
                )
                return [HANDED_OFF]
            zone = current.settings.opening_hours.timezone
            amount = amount_meant(order, ticket.description) if order else None
            decision = policy.may_grant(
                category=ticket.category,
                outcome=outcome,
                tier=current.customer.tier,
                order_value=amount,
                delivered_on=order.delivered_at.astimezone(zone).date()
                if order and order.delivered_at
                else None,
                today=current.now.astimezone(zone).date(),
                cause=policy.cause(ticket.category, ticket.description).name,
            )
            if not decision.allowed:
                _explain_refusal(dispatcher, current, decision, order)
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
            ticket.agreed_action = _agreed_action(current, outcome, order, ticket.description)
            record_step(
                current.session,
                ticket,
                RecoveryStep.SOLVE,
                now=current.now,
                note=f"{ticket.agreed_action} by {due.isoformat()}",
            )
            dispatcher.utter_message(
                response=f"utter_resolution_{outcome.value}",
                amount=f"NT${amount:,.0f}" if amount is not None else "",
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


def _explain_refusal(
    dispatcher: CollectingDispatcher, current: Talk, decision: Decision, order: Order | None
) -> None:
    """Say why the bot will not grant this itself, before a person takes over."""
    if decision.rule is PolicyRule.WINDOW and order is not None and order.delivered_at:
        zone = current.settings.opening_hours.timezone
        dispatcher.utter_message(
            response="utter_outside_window",
            order_number=order.number,
            delivered_on=format_date(order.delivered_at.astimezone(zone).date(), current.language),
            days=load_policy().return_window_days,
        )
    elif decision.rule is PolicyRule.CHECK_FIRST:
        dispatcher.utter_message(response="utter_needs_check")
    else:
        dispatcher.utter_message(response="utter_cannot_grant")


def _agreed_action(
    current: Talk, outcome: DesiredOutcome, order: Order | None, description: str
) -> str:
    """What was agreed, per item and quantity when the customer named them."""
    if order is None:
        return f"{outcome.value}, no order"
    lines = ", ".join(f"{n} × {item.product.sku}" for item, n in lines_meant(order, description))
    return f"{outcome.value} for order {order.number}: {lines}"


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
        text = _text(tracker)
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
    "ActionAskCompensationChoice",
    "ActionCloseComplaint",
    "ActionListenToComplaint",
    "ActionResolveComplaint",
    "ValidateCompensationForm",
]
