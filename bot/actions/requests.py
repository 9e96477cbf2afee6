"""Requests that are not complaints: cancel an order, change it, send it back.

Each is answered from the store and `bot/policy.yml`: an order that has not shipped can
be cancelled (after a yes) or changed (by a colleague); one that has shipped cannot, and
the bot offers the return instead; a return within the window is started at once.
"""

from __future__ import annotations

from datetime import date

from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import Action, Tracker
from rasa_sdk.types import DomainDict

from bot.actions.context import Talk, talk
from bot.actions.handoff import END_SCRIPT, hand_off, said_last
from bot.actions.order_choice import order_in_question, order_label
from crm_store.audit import record_audit
from crm_store.models import ComplaintCategory, DesiredOutcome, HandoffReason, Order, OrderStatus
from crm_store.orders import set_order_status
from crm_store.policy import load_policy
from crm_store.tickets import open_ticket
from crm_store.time_text import format_date

ENDED = (OrderStatus.CANCELLED, OrderStatus.RETURNED)
# What the bot offered and waits for a yes to: "cancel:A1234567" or "return:A1234567".
CANCEL, RETURN = "cancel", "return"


def _offer(kind: str, order: Order) -> EventType:
    return SlotSet("pending_offer", f"{kind}:{order.number}")


def _local_today(current: Talk) -> date:
    return current.now.astimezone(current.settings.opening_hours.timezone).date()


def cancel(dispatcher: CollectingDispatcher, current: Talk, order: Order) -> None:
    """Cancel an order that has not shipped; a paid one is refunded in full."""
    policy = load_policy()
    was_paid = order.status is OrderStatus.PAID
    set_order_status(current.session, order, OrderStatus.CANCELLED)
    record_audit(
        current.session,
        actor=f"bot:{current.identity.channel}:{current.identity.address}",
        action="order.cancel",
        entity="order",
        entity_id=order.id,
        details={"number": order.number, "refund": str(order.total) if was_paid else None},
    )
    dispatcher.utter_message(response="utter_order_cancelled", order_number=order.number)
    if was_paid:
        due = policy.due_date(DesiredOutcome.REFUND, start=_local_today(current))
        dispatcher.utter_message(
            response="utter_cancel_refund_note",
            amount=f"NT${order.total:,.0f}",
            due_date=format_date(due, current.language),
        )


def start_return(dispatcher: CollectingDispatcher, current: Talk, order: Order) -> bool:
    """Start the return of a delivered order within the window; False when it is not."""
    policy = load_policy()
    zone = current.settings.opening_hours.timezone
    if order.delivered_at is None:
        return False
    delivered_on = order.delivered_at.astimezone(zone).date()
    today = _local_today(current)
    if (today - delivered_on).days > policy.return_window_days:
        dispatcher.utter_message(
            response="utter_return_window_passed",
            order_number=order.number,
            delivered_on=format_date(delivered_on, current.language),
            days=policy.return_window_days,
        )
        hand_off(
            dispatcher,
            current,
            reason=HandoffReason.OTHER,
            ticket=None,
            note=f"return asked for {order.number}, delivered {delivered_on.isoformat()}",
        )
        return True
    ticket = open_ticket(
        current.session,
        customer=current.customer,
        conversation=current.conversation,
        category=ComplaintCategory.ORDER,
        language=current.language,
        text=f"return of {order.number}",
        now=current.now,
    )
    due = policy.pickup_date(start=today)
    ticket.order_id = order.id
    ticket.agreed_action = f"return for order {order.number}"
    ticket.action_due = due
    dispatcher.utter_message(
        response="utter_return_started",
        order_number=order.number,
        ticket_ref=ticket.reference,
        due_date=format_date(due, current.language),
    )
    return True


def live_order(dispatcher: CollectingDispatcher, current: Talk, tracker: Tracker) -> Order | None:
    """The order the request is about while it is still live; otherwise say why not
    (no order found: ask for the number; cancelled or returned: say so) and None."""
    order = order_in_question(current, tracker)
    if order is None:
        dispatcher.utter_message(response="utter_ask_order_number_for_status")
    elif order.status in ENDED:
        dispatcher.utter_message(response="utter_already_cancelled", order_number=order.number)
        return None
    return order


class ActionCancelOrder(Action):
    """Cancel while not shipped, after a yes; otherwise explain and offer the return."""

    def name(self) -> str:
        return "action_cancel_order"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        with talk(tracker) as current:
            order = live_order(dispatcher, current, tracker)
            if order is None:
                return [SlotSet("pending_offer", None)]
            if order.status in load_policy().cancellable:
                dispatcher.utter_message(
                    response="utter_confirm_cancel",
                    order_number=order.number,
                    order=order_label(current, order),
                )
                return [_offer(CANCEL, order)]
            dispatcher.utter_message(
                response="utter_cannot_cancel_shipped", order_number=order.number
            )
        return [_offer(RETURN, order)]


class ActionChangeOrder(Action):
    """A change to an order that has not shipped goes to a colleague; otherwise explain."""

    def name(self) -> str:
        return "action_change_order"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = str(tracker.latest_message.get("text") or "")
        with talk(tracker) as current:
            order = order_in_question(current, tracker)
            if order is None:
                dispatcher.utter_message(response="utter_ask_order_number_for_status")
                return []
            if order.status not in load_policy().cancellable:
                dispatcher.utter_message(
                    response="utter_cannot_change_shipped", order_number=order.number
                )
                return []
            dispatcher.utter_message(response="utter_order_change_noted", order_number=order.number)
            hand_off(
                dispatcher,
                current,
                reason=HandoffReason.OTHER,
                ticket=None,
                note=f"change to {order.number}: {text}",
            )
        return list(END_SCRIPT)


class ActionStartReturn(Action):
    """Start the return of the delivered order the customer means ("I want to return it")."""

    def name(self) -> str:
        return "action_start_return"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        with talk(tracker) as current:
            order = live_order(dispatcher, current, tracker)
            if order is None:
                return []
            if start_return(dispatcher, current, order):
                return [SlotSet("pending_offer", None)]
            dispatcher.utter_message(
                response="utter_return_not_delivered", order_number=order.number
            )
            if order.status in load_policy().cancellable:
                return [_offer(CANCEL, order)]
        return []


class ActionAnswerYesNo(Action):
    """A yes or no outside the complaint script: to the cancellation or return the bot
    just offered, else an invitation to say what they need."""

    def name(self) -> str:
        return "action_answer_yes_no"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        yes = tracker.get_intent_of_latest_message() == "affirm"
        kind, _, number = str(tracker.get_slot("pending_offer") or "").partition(":")
        offered = {CANCEL: "utter_confirm_cancel", RETURN: "utter_cannot_cancel_shipped"}
        if not (yes and kind in offered and said_last(tracker, domain, offered[kind])):
            answer = "utter_how_can_i_help" if yes else "utter_no_problem"
            if said_last(tracker, domain, answer):
                answer = "utter_here_when_needed"  # never the same line twice in a row
            dispatcher.utter_message(response=answer)
            return [SlotSet("pending_offer", None)]
        with talk(tracker) as current:
            order = next((o for o in _own_orders(current) if o.number == number), None)
            if order is None:
                dispatcher.utter_message(response="utter_how_can_i_help")
            elif kind == CANCEL and order.status in load_policy().cancellable:
                cancel(dispatcher, current, order)
            elif kind == RETURN and start_return(dispatcher, current, order):
                pass
            else:
                dispatcher.utter_message(response="utter_return_not_delivered", order_number=number)
        return [SlotSet("pending_offer", None)]


def _own_orders(current: Talk) -> list[Order]:
    return list(current.customer.orders)
