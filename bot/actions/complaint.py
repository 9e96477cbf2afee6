"""The complaint script, steps 1 to 3: listen, thank, apologise (DESIGN.md).

1. listen (`ActionListenToComplaint`, once per burst), 2-3. thank and apologise, then
on to step 4, `complaint_form` (the order, the outcome, a yes). Step 5 is
`complaint_resolve`, steps 6 to 8 `compensation`. Each step is logged on the ticket
with its time. What the three share about a complaint (its restatement, its severity,
the outcome asked for) is here.
"""

from __future__ import annotations

from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import Action, Tracker
from rasa_sdk.types import DomainDict

from bot.actions.context import Talk, catalogue, talk
from bot.actions.handoff import HANDED_OFF, current_ticket, hand_off, said_last
from bot.actions.order_choice import order_in_question, own_order, product_names, recent, say_status
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
from crm_store.policy import load_policy
from crm_store.tickets import add_to_description, is_repeat_complaint, open_ticket, record_step

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


__all__ = ["ActionListenToComplaint"]
