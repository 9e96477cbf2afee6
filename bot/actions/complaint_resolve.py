"""The complaint script, step 5: solve it, fast, within policy (DESIGN.md).

The outcome agreed in step 4 is granted when the policy allows it, with a concrete
date, and logged on the ticket; beyond the bot's authority, the customer is told why
and handed to a person. Then step 6 (`compensation`): one option is granted at once,
several are offered.
"""

from __future__ import annotations

from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import Action, Tracker
from rasa_sdk.types import DomainDict

from bot.actions.compensation import close_complaint, compensation_options
from bot.actions.context import Talk, talk
from bot.actions.handoff import HANDED_OFF, current_ticket, hand_off
from bot.actions.order_choice import amount_meant, lines_meant, own_order
from crm_store.models import DesiredOutcome, HandoffReason, Order, RecoveryStep
from crm_store.policy import Decision, PolicyRule, load_policy
from crm_store.tickets import record_step
from crm_store.time_text import format_date


class ActionResolveComplaint(Action):
    """Step 5: act on the agreed outcome within policy, with a date; then step 6."""

    def name(self) -> str:
        return "action_resolve_complaint"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        policy = load_policy()
        with talk(tracker) as current:
            ticket = current_ticket(current, tracker)
            if ticket is None:
                dispatcher.utter_message(response="utter_ask_rephrase")
                return []
            if tracker.get_slot("complaint_stage") == "handed_off":
                return [HANDED_OFF]  # a person has it; nothing is granted by the bot
            order = own_order(current, tracker.get_slot("order_number"))
            wanted = tracker.get_slot("desired_outcome")
            outcome = ticket.desired_outcome or (
                DesiredOutcome(wanted) if wanted in set(DesiredOutcome) else None
            )
            if outcome is None:
                hand_off(
                    dispatcher,
                    current,
                    reason=HandoffReason.OTHER,
                    ticket=ticket,
                    note="no outcome was agreed",
                )
                return [HANDED_OFF]
            zone = current.settings.opening_hours.timezone
            amount = amount_meant(order, ticket.description) if order else None
            decision = policy.may_grant(
                category=ticket.category,
                outcome=outcome,
                tier=current.customer.tier,
                order_value=amount,
                delivered_on=order.delivered_at.astimezone(zone).date()
                if order and order.delivered_at
                else None,
                today=current.now.astimezone(zone).date(),
                cause=policy.cause(ticket.category, ticket.description).name,
            )
            if not decision.allowed:
                _explain_refusal(dispatcher, current, decision, order)
                hand_off(
                    dispatcher,
                    current,
                    reason=HandoffReason.COMPENSATION_BEYOND_AUTHORITY,
                    ticket=ticket,
                    note=decision.reason,
                )
                return [HANDED_OFF]

            local_today = current.now.astimezone(current.settings.opening_hours.timezone).date()
            due = policy.due_date(outcome, start=local_today)
            ticket.action_due = due
            ticket.agreed_action = _agreed_action(current, outcome, order, ticket.description)
            record_step(
                current.session,
                ticket,
                RecoveryStep.SOLVE,
                now=current.now,
                note=f"{ticket.agreed_action} by {due.isoformat()}",
            )
            dispatcher.utter_message(
                response=f"utter_resolution_{outcome.value}",
                amount=f"NT${amount:,.0f}" if amount is not None else "",
                due_date=format_date(due, current.language),
            )

            options = compensation_options(current, ticket)
            if not options:
                hand_off(
                    dispatcher,
                    current,
                    reason=HandoffReason.COMPENSATION_BEYOND_AUTHORITY,
                    ticket=ticket,
                    note="compensation needs a person's decision",
                )
                return [HANDED_OFF]
            if len(options) > 1:
                return [SlotSet("complaint_stage", "compensating")]
            close_complaint(dispatcher, current, ticket, options[0])
        return [SlotSet("complaint_stage", "closed")]


def _explain_refusal(
    dispatcher: CollectingDispatcher, current: Talk, decision: Decision, order: Order | None
) -> None:
    """Say why the bot will not grant this itself, before a person takes over."""
    if decision.rule is PolicyRule.WINDOW and order is not None and order.delivered_at:
        zone = current.settings.opening_hours.timezone
        dispatcher.utter_message(
            response="utter_outside_window",
            order_number=order.number,
            delivered_on=format_date(order.delivered_at.astimezone(zone).date(), current.language),
            days=load_policy().return_window_days,
        )
    elif decision.rule is PolicyRule.CHECK_FIRST:
        dispatcher.utter_message(response="utter_needs_check")
    else:
        dispatcher.utter_message(response="utter_cannot_grant")


def _agreed_action(
    current: Talk, outcome: DesiredOutcome, order: Order | None, description: str
) -> str:
    """What was agreed, per item and quantity when the customer named them."""
    if order is None:
        return f"{outcome.value}, no order"
    lines = ", ".join(f"{n} × {item.product.sku}" for item, n in lines_meant(order, description))
    return f"{outcome.value} for order {order.number}: {lines}"


__all__ = ["ActionResolveComplaint"]
