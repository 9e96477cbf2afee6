"""A new session starts in the customer's own language, with earlier slots kept."""

from __future__ import annotations

from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import Action, Tracker
from rasa_sdk.types import DomainDict

from bot.actions.context import talk
from contract import rasa as contract


class ActionSessionStart(Action):
    def name(self) -> str:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        carried = [
            SlotSet(name, value)
            for name, value in tracker.current_slot_values().items()
            if value is not None and name != contract.LANGUAGE
        ]
        language = tracker.get_slot(contract.LANGUAGE)
        if language is None:
            with talk(tracker) as current:
                language = current.customer.language.value
        return [
            SessionStarted(),
            *carried,
            SlotSet(contract.LANGUAGE, language),
            ActionExecuted("action_listen"),
        ]
