"""Order look-ups: status from the store, in the customer's language."""

from __future__ import annotations

from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import Action, Tracker
from rasa_sdk.types import DomainDict

from bot.actions.complaint import ActionListenToComplaint
from bot.actions.context import catalogue, talk
from bot.actions.order_choice import order_in_question, orders_meant, say_status
from bot.actions.phrases import describes_problem


class ActionOrderStatus(Action):
    """Where is my order: the one named, else the customer's most recent."""

    def name(self) -> str:
        return "action_order_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = str(tracker.latest_message.get("text") or "")
        if describes_problem(text):
            # "A1234567 arrived broken" names an order but is a complaint.
            return await ActionListenToComplaint().run(dispatcher, tracker, domain)
        named = next(tracker.get_latest_entity_values("order_number"), None)
        numbers = catalogue().find(text).order_numbers or ([str(named)] if named else [])
        with talk(tracker) as current:
            if numbers and not orders_meant(current, " ".join(numbers)):
                dispatcher.utter_message(response="utter_order_not_yours", order_number=numbers[0])
                return []
            order = order_in_question(current, tracker)
            if order is None:
                dispatcher.utter_message(response="utter_ask_order_number_for_status")
                return []
            say_status(dispatcher, current, order)
        return []


class ActionHandleOrderNumber(Action):
    """An order number on its own: part of the complaint being told, else a status query."""

    def name(self) -> str:
        return "action_handle_order_number"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if tracker.get_slot("complaint_stage") == "listening":
            return await ActionListenToComplaint().run(dispatcher, tracker, domain)
        return await ActionOrderStatus().run(dispatcher, tracker, domain)
