"""What the bot does when it did not understand: listen if the customer is unhappy,
ask to rephrase once, then hand off (DESIGN.md: two misunderstandings go to a person)."""

from __future__ import annotations

from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import Action, Tracker
from rasa_sdk.types import DomainDict

from bot.actions.complaint import ActionListenToComplaint
from bot.actions.handoff import not_understood_twice, said_last
from bot.actions.phrases import describes_problem, sounds_unhappy


class ActionHandleFallback(Action):
    """Not understood. A clearly unhappy message, or one that says something is wrong,
    starts a complaint (step 1: listen);
    otherwise ask to rephrase once, and after a second miss in a row hand off."""

    def name(self) -> str:
        return "action_handle_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = str(tracker.latest_message.get("text") or "")
        unhappy = sounds_unhappy(text) or describes_problem(text)
        if unhappy and tracker.get_slot("complaint_stage") != "listening":
            return await ActionListenToComplaint().run(dispatcher, tracker, domain)
        missed_before = said_last(tracker, domain, "utter_ask_rephrase")
        if not missed_before:
            dispatcher.utter_message(response="utter_ask_rephrase")
            return []
        return not_understood_twice(dispatcher, tracker)
