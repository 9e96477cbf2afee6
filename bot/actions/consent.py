"""Opting out of and back into marketing messages, from a chat.

What the assistant takes for "stop" stops the promotions only: the carrier's exact
keywords (channels/keywords.py) are the only way to stop every SMS. A message that is
about stopping or cancelling an order is not an opt-out at all.
"""

from __future__ import annotations

from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import Action, Tracker
from rasa_sdk.types import DomainDict

from bot.actions.context import talk
from bot.actions.phrases import is_about_marketing
from bot.actions.requests import ActionCancelOrder
from crm_store.consent import set_consent


class ActionOptOut(Action):
    def name(self) -> str:
        return "action_opt_out"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = str(tracker.latest_message.get("text") or "")
        if not is_about_marketing(text):
            return await ActionCancelOrder().run(dispatcher, tracker, domain)
        with talk(tracker) as current:
            set_consent(
                current.session,
                current.identity,
                opted_in=False,
                now=current.now,
                actor="bot",
                details={"text": text},
                marketing_only=True,
            )
        dispatcher.utter_message(response="utter_opted_out")
        return []


class ActionOptIn(Action):
    def name(self) -> str:
        return "action_opt_in"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        with talk(tracker) as current:
            set_consent(
                current.session,
                current.identity,
                opted_in=True,
                now=current.now,
                actor="bot",
                marketing_only=True,
            )
        dispatcher.utter_message(response="utter_opted_in")
        return []
