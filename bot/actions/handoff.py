"""Handing a customer over to a person, and the fallback that leads there."""

from __future__ import annotations

from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import Action, Tracker
from rasa_sdk.types import DomainDict

from bot.actions.context import Talk, talk
from bot.actions.texts import format_business_hours, format_datetime
from crm_store.models import ComplaintCategory, HandoffReason, Ticket
from crm_store.tickets import get_ticket, open_ticket, request_handoff

HANDED_OFF = SlotSet("complaint_stage", "handed_off")


def hand_off(
    dispatcher: CollectingDispatcher,
    current: Talk,
    *,
    reason: HandoffReason,
    ticket: Ticket | None,
    note: str | None = None,
) -> None:
    """Queue the conversation for staff and tell the customer who takes over, and when."""
    request_handoff(
        current.session,
        conversation=current.conversation,
        customer=current.customer,
        reason=reason,
        ticket=ticket,
        now=current.now,
        note=note,
    )
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
    ticket_id = tracker.get_slot("ticket_id")
    if ticket_id is None:
        return None
    ticket = get_ticket(current.session, int(ticket_id))
    return ticket if ticket.customer_id == current.customer.id else None


class ActionHandOff(Action):
    """The customer asked for a person, or is angry or threatening: hand off now."""

    def name(self) -> str:
        return "action_hand_off"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        intent = tracker.get_intent_of_latest_message()
        events: list[EventType] = [HANDED_OFF]
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
                    events.append(SlotSet("ticket_id", ticket.id))
            else:
                reason = HandoffReason.ASKED_FOR_PERSON
            hand_off(dispatcher, current, reason=reason, ticket=ticket)
        return events


class ActionHandleFallback(Action):
    """Ask to rephrase once; after a second miss in a row, hand off."""

    def name(self) -> str:
        return "action_handle_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        user_turns = [event for event in tracker.events if event.get("event") == "user"]
        previous = user_turns[-2] if len(user_turns) > 1 else None
        previous_intent = ((previous or {}).get("parse_data") or {}).get("intent") or {}
        if previous_intent.get("name") != "nlu_fallback":
            dispatcher.utter_message(response="utter_ask_rephrase")
            return []
        with talk(tracker) as current:
            hand_off(
                dispatcher,
                current,
                reason=HandoffReason.REPEATED_FALLBACK,
                ticket=current_ticket(current, tracker),
            )
        return []
