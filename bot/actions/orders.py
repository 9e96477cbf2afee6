"""Order look-ups: status from the store, in the customer's language."""

from __future__ import annotations

from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import Action, Tracker
from rasa_sdk.types import DomainDict

from bot.actions.complaint import ActionListenToComplaint
from bot.actions.context import Talk, catalogue, talk
from bot.actions.texts import format_date
from crm_store.customers import recent_orders
from crm_store.models import Order
from crm_store.orders import find_order


def _say_status(dispatcher: CollectingDispatcher, current: Talk, order: Order) -> None:
    zone = current.settings.opening_hours.timezone
    dispatcher.utter_message(
        response=f"utter_order_status_{order.status.value}",
        order_number=order.number,
        carrier=order.carrier or "",
        tracking_number=order.tracking_number or "",
        expected_delivery=format_date(order.expected_delivery, current.language)
        if order.expected_delivery
        else "",
        delivered_on=format_date(order.delivered_at.astimezone(zone).date(), current.language)
        if order.delivered_at
        else "",
    )


class ActionOrderStatus(Action):
    """Where is my order: the one named, else the customer's most recent."""

    def name(self) -> str:
        return "action_order_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = str(tracker.latest_message.get("text") or "")
        number = next(tracker.get_latest_entity_values("order_number"), None)
        numbers = catalogue().find(text).order_numbers
        number = (numbers[0] if numbers else None) or number
        with talk(tracker) as current:
            if number:
                order = find_order(current.session, number)
                if order is None or order.customer_id != current.customer.id:
                    dispatcher.utter_message(response="utter_order_not_yours", order_number=number)
                    return []
                _say_status(dispatcher, current, order)
                return []
            latest = recent_orders(current.session, current.customer.id, limit=1)
            if not latest:
                dispatcher.utter_message(response="utter_ask_order_number_for_status")
                return []
            _say_status(dispatcher, current, latest[0])
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
