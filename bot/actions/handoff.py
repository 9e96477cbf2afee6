"""Handing a customer over to a person, and the fallback that leads there."""

from __future__ import annotations

import re

from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import Action, Tracker
from rasa_sdk.types import DomainDict

from bot.actions.context import Talk, talk
from contract import rasa as contract
from crm_store.customers import open_tickets
from crm_store.models import ComplaintCategory, HandoffReason, Ticket
from crm_store.tickets import get_ticket, open_ticket, request_handoff
from crm_store.time_text import format_business_hours, format_datetime

_PLACEHOLDER = re.compile(r"\{\w+\}")
# A hand-off ends whatever the script was asking: no stale question follows it.
HANDED_OFF = SlotSet(contract.COMPLAINT_STAGE, "handed_off")
END_SCRIPT: list[EventType] = [
    ActiveLoop(None),
    SlotSet(contract.REQUESTED_SLOT, None),
    HANDED_OFF,
]


def hand_off(
    dispatcher: CollectingDispatcher,
    current: Talk,
    *,
    reason: HandoffReason,
    ticket: Ticket | None,
    note: str | None = None,
) -> None:
    """Queue the conversation for staff and tell the customer who takes over, when, and
    the reference; an angry customer hears an apology first."""
    if ticket is None:
        open_ones = open_tickets(current.session, current.customer.id)
        ticket = open_ones[0] if open_ones else None
    request_handoff(
        current.session,
        conversation=current.conversation,
        customer=current.customer,
        reason=reason,
        ticket=ticket,
        now=current.now,
        note=note,
    )
    if reason is HandoffReason.ANGER_OR_THREAT:
        dispatcher.utter_message(response="utter_sorry_upset")
    hours = current.settings.opening_hours
    if hours.is_open(current.now):
        dispatcher.utter_message(
            response="utter_handoff_now", wait_minutes=current.settings.handoff_wait_minutes
        )
    else:
        dispatcher.utter_message(
            response="utter_handoff_later",
            business_hours=format_business_hours(hours, current.language),
            opening=format_datetime(hours.next_opening(current.now), current.language),
        )
    if ticket is not None:
        dispatcher.utter_message(response="utter_ticket_reference", ticket_ref=ticket.reference)


def current_ticket(current: Talk, tracker: Tracker) -> Ticket | None:
    ticket_id = tracker.get_slot(contract.TICKET_ID)
    if ticket_id is None:
        return None
    ticket = get_ticket(current.session, int(ticket_id))
    return ticket if ticket.customer_id == current.customer.id else None


def last_bot_text(tracker: Tracker) -> str:
    """What the bot said last in this conversation ("" if nothing yet)."""
    for event in reversed(tracker.events):
        if event.get("event") == "bot":
            return str(event.get("text") or "")
    return ""


def said_this_turn(tracker: Tracker) -> bool:
    """Whether the bot has already said something since the customer's latest message."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "bot":
            return True
    return False


def said_last(tracker: Tracker, domain: DomainDict, response: str) -> bool:
    """Whether the bot's previous message was a variant of `response` (any values)."""
    last = last_bot_text(tracker)
    return any(
        re.fullmatch(
            ".*?".join(re.escape(part) for part in _PLACEHOLDER.split(str(variant["text"]))),
            last,
            re.DOTALL,
        )
        for variant in domain.get("responses", {}).get(response, [])
        if variant.get("text")
    )


def not_understood_twice(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    *,
    note: str | None = None,
    in_form: bool = False,
) -> list[EventType]:
    """Two misunderstandings in a row: a person takes over (DESIGN.md).

    Inside a form's question (`in_form`) the form stays active: ending it there would
    read to Rasa as the form completed, and the script's next step would run. The
    customer's next messages go to staff, and handing back clears the form.
    """
    with talk(tracker) as current:
        hand_off(
            dispatcher,
            current,
            reason=HandoffReason.REPEATED_FALLBACK,
            ticket=current_ticket(current, tracker),
            note=note,
        )
    return [HANDED_OFF] if in_form else list(END_SCRIPT)


class ActionHandOff(Action):
    """The customer asked for a person, or is angry or threatening: hand off now."""

    def name(self) -> str:
        return "action_hand_off"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        intent = tracker.get_intent_of_latest_message()
        events: list[EventType] = list(END_SCRIPT)
        with talk(tracker) as current:
            ticket = current_ticket(current, tracker)
            if intent == "threaten":
                reason = HandoffReason.ANGER_OR_THREAT
                if ticket is None:
                    ticket = open_ticket(
                        current.session,
                        customer=current.customer,
                        conversation=current.conversation,
                        category=ComplaintCategory.OTHER,
                        language=current.language,
                        text=tracker.latest_message.get("text") or "",
                        now=current.now,
                    )
                    events.append(SlotSet(contract.TICKET_ID, ticket.id))
                ticket.severity = max(ticket.severity or 1, 3)
            else:
                reason = HandoffReason.ASKED_FOR_PERSON
            hand_off(dispatcher, current, reason=reason, ticket=ticket)
        return events
