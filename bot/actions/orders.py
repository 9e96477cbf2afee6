"""Order look-ups: status from the store, in the customer's language."""

from __future__ import annotations

from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import Action, Tracker
from rasa_sdk.types import DomainDict

from bot.actions.complaint import ActionListenToComplaint
from bot.actions.context import Talk, catalogue, talk
from bot.actions.order_choice import orders_meant, recent
from crm_store.models import Language, Order, OrderStatus
from crm_store.time_text import format_date

# Taiwan's carriers as an English reply names them.
CARRIERS_IN_ENGLISH = {
    "黑貓宅急便": "T-Cat (Yamato)",
    "新竹物流": "Hsinchu Transport (HCT)",
    "中華郵政": "Chunghwa Post",
    "宅配通": "Pelican Express",
    "嘉里大榮": "Kerry TJ Logistics",
    "7-11": "7-Eleven",
    "全家": "FamilyMart",
}


def carrier_name(carrier: str | None, language: Language) -> str:
    if not carrier:
        return ""
    return CARRIERS_IN_ENGLISH.get(carrier, carrier) if language is Language.EN else carrier


def say_status(dispatcher: CollectingDispatcher, current: Talk, order: Order) -> None:
    """The order's status; a response with a date only when the store has that date."""
    zone = current.settings.opening_hours.timezone
    response = f"utter_order_status_{order.status.value}"
    if order.status in (OrderStatus.PAID, OrderStatus.SHIPPED) and not order.expected_delivery:
        response += "_undated"
    dispatcher.utter_message(
        response=response,
        order_number=order.number,
        carrier=carrier_name(order.carrier, current.language),
        tracking_number=order.tracking_number or "",
        expected_delivery=format_date(order.expected_delivery, current.language)
        if order.expected_delivery
        else "",
        delivered_on=format_date(order.delivered_at.astimezone(zone).date(), current.language)
        if order.delivered_at
        else "",
    )


def order_in_question(current: Talk, tracker: Tracker) -> Order | None:
    """The order a message is about: the one it names (number, product, month), else
    the customer's most recent one."""
    text = str(tracker.latest_message.get("text") or "")
    meant = orders_meant(current, text)
    if meant:
        return meant[0]
    latest = recent(current, limit=1)
    return latest[0] if latest else None


class ActionOrderStatus(Action):
    """Where is my order: the one named, else the customer's most recent."""

    def name(self) -> str:
        return "action_order_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = str(tracker.latest_message.get("text") or "")
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
