"""What the bot does when it did not understand: listen if the customer is unhappy,
ask to rephrase once, then hand off (DESIGN.md: two misunderstandings go to a person)."""

from __future__ import annotations

from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import Action, Tracker
from rasa_sdk.types import DomainDict

from bot.actions.complaint import ActionListenToComplaint
from bot.actions.context import talk
from bot.actions.handoff import END_SCRIPT, current_ticket, hand_off
from bot.actions.phrases import sounds_unhappy
from crm_store.models import HandoffReason


def _turns_back(tracker: Tracker) -> list[dict]:  # type: ignore[type-arg]
    """The events of the customer's previous turn (between their last two messages)."""
    users = [i for i, event in enumerate(tracker.events) if event.get("event") == "user"]
    if len(users) < 2:
        return []
    return list(tracker.events[users[-2] : users[-1]])


class ActionHandleFallback(Action):
    """Not understood. A clearly unhappy message starts a complaint (step 1: listen);
    otherwise ask to rephrase once, and after a second miss in a row hand off."""

    def name(self) -> str:
        return "action_handle_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = str(tracker.latest_message.get("text") or "")
        if sounds_unhappy(text) and tracker.get_slot("complaint_stage") != "listening":
            return await ActionListenToComplaint().run(dispatcher, tracker, domain)
        missed_before = any(
            event.get("event") == "action" and event.get("name") == self.name()
            for event in _turns_back(tracker)
        )
        if not missed_before:
            dispatcher.utter_message(response="utter_ask_rephrase")
            return []
        with talk(tracker) as current:
            hand_off(
                dispatcher,
                current,
                reason=HandoffReason.REPEATED_FALLBACK,
                ticket=current_ticket(current, tracker),
            )
        return list(END_SCRIPT)
