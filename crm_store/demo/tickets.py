"""The demo's complaint tickets, at every stage of the service-recovery script.

Ten to twenty tickets (about one per sixty orders), each about one of the customer's
orders and started when that order could have gone wrong: some open, some handed off,
one resolved and waiting for the survey, one reopened by a low score, the rest closed
with a root cause.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from crm_store.coupons import issue_coupon
from crm_store.customers import zone
from crm_store.demo.catalogue import CONSUMABLES
from crm_store.demo.context import TAIPEI, Demo, taipei_date
from crm_store.demo.orders import Built
from crm_store.demo.scenarios import SCENARIOS
from crm_store.models import (
    CouponPurpose,
    Language,
    Order,
    OrderStatus,
    Ticket,
    TicketStatus,
    TicketStep,
    Tier,
)

_STAFF = ("staff:陳雅婷", "staff:林志明", "staff:Kevin Lin")


class TicketMaker:
    """Adds complaint tickets about recorded orders."""

    def __init__(self, demo: Demo) -> None:
        self.demo = demo

    def make(self, built: Sequence[Built]) -> int:
        """Add tickets about some of the `built` orders; how many were made."""
        rng = self.demo.rng
        count = len(built)
        if count == 0:
            return 0
        total = min(20, max(10, len(built) // 60), count)
        plan = (
            [TicketStatus.OPEN] * max(2, round(total * 0.2))
            + [TicketStatus.HANDED_OFF] * max(1, round(total * 0.15))
            + [TicketStatus.REOPENED, TicketStatus.RESOLVED]
        )
        plan += [TicketStatus.CLOSED] * max(0, total - len(plan))
        windows = {
            TicketStatus.OPEN: (0.1, 3.0),
            TicketStatus.HANDED_OFF: (0.5, 6.0),
            TicketStatus.RESOLVED: (8.0, 14.0),
            TicketStatus.REOPENED: (25.0, 120.0),
            TicketStatus.CLOSED: (20.0, 600.0),
        }
        # Ages of the moments a complaint could start, worked out once for every order.
        ages = [
            (index, self._age(_anchor(entry.order)))
            for index, entry in enumerate(built)
            if entry.order.status is not OrderStatus.CANCELLED
        ]
        taken: set[int] = set()
        made = 0
        for planned_status in plan[:total]:
            status = planned_status
            low, high = windows[status]
            candidates = [i for i, age in ages if low <= age <= high and i not in taken]
            if not candidates:
                status = TicketStatus.CLOSED
                low = windows[status][0]
                candidates = [i for i, age in ages if age >= low and i not in taken]
            if not candidates:
                continue
            index = rng.choice(candidates)
            taken.add(index)
            self._ticket(built[index], status)
            made += 1
        return made

    def _age(self, moment: datetime) -> float:
        return (self.demo.now - moment).total_seconds() / 86400

    def _ticket(self, entry: Built, status: TicketStatus) -> None:
        rng = self.demo.rng
        order, customer = entry.order, entry.profile.customer
        product = rng.choice(order.items).product
        if order.status is OrderStatus.SHIPPED or _late(order):
            scenario = SCENARIOS[0]
        elif order.shipped_at is None:
            scenario = next(item for item in SCENARIOS if item.root_cause == "billing_error")
        else:
            scenario = rng.choice(
                [
                    item
                    for item in SCENARIOS[1:]
                    if not item.durables_only or product.sku not in CONSUMABLES
                ]
            )
        zh = customer.language is Language.ZH_TW
        fields = {"product": product.name_zh if zh else product.name_en, "number": order.number}
        anchor = _anchor(order)
        # Open tickets' steps so far take minutes, so they all lie before `now`.
        latest = self.demo.now - timedelta(hours=1)
        if order.delivered_at is not None and _late(order):
            latest = min(latest, order.delivered_at - timedelta(minutes=30))
        created = max(anchor, min(anchor + timedelta(minutes=rng.randint(60, 60 * 48)), latest))
        severity = min(3, scenario.severity + (1 if customer.tier is Tier.VIP else 0))
        ticket = Ticket(
            customer_id=customer.id,
            order=order,
            category=scenario.category,
            status=status,
            language=customer.language,
            severity=severity,
            description=(scenario.description_zh if zh else scenario.description_en).format(
                **fields
            ),
            created_at=created,
            due_at=created + timedelta(hours=24),
        )
        steps = {
            TicketStatus.OPEN: rng.choice((2, 3)),
            TicketStatus.HANDED_OFF: 4,
            TicketStatus.RESOLVED: 6,
            TicketStatus.REOPENED: 7,
            TicketStatus.CLOSED: 8,
        }[status]
        gaps = [
            timedelta(0),
            timedelta(seconds=rng.randint(40, 180)),
            timedelta(seconds=rng.randint(30, 120)),
            timedelta(minutes=rng.randint(2, 10)),
            timedelta(minutes=rng.randint(60, 60 * 40)),
            timedelta(minutes=rng.randint(1, 30)),
            timedelta(hours=rng.randint(3 * 24, 7 * 24)),
            timedelta(hours=rng.randint(1, 72)),
        ]
        staff = rng.choice(_STAFF)
        when = created
        for step in range(1, steps + 1):
            when += gaps[step - 1]
            actor = "bot" if step <= 4 else "scheduler" if step == 7 else staff
            ticket.steps.append(TicketStep(step=step, done_at=when, actor=actor, note=None))
        if steps >= 3:
            ticket.problem_summary = (scenario.summary_zh if zh else scenario.summary_en).format(
                **fields
            )
        if steps >= 4:
            ticket.desired_outcome = scenario.outcome
            ticket.steps[3].note = f"wants {scenario.outcome.value}"
        if steps >= 6:
            ticket.agreed_action = (scenario.action_zh if zh else scenario.action_en).format(
                **fields
            )
            ticket.action_due = taipei_date(ticket.steps[4].done_at) + timedelta(
                days=rng.randint(1, 3)
            )
            kind, value = self._compensation(severity, customer.tier)
            ticket.compensation_kind = kind
            ticket.compensation_value = value
            if kind == "coupon":
                self.demo.session.add(ticket)
                self.demo.session.flush()  # the coupon names its ticket
                ticket.coupon_code = issue_coupon(
                    self.demo.session,
                    purpose=CouponPurpose.COMPLAINT,
                    customer_id=customer.id,
                    now=ticket.steps[5].done_at,
                    value=value,
                    ticket_id=ticket.id,
                    choice=rng.choice,
                ).code
            ticket.steps[5].note = f"{kind} NT${value}"
            ticket.resolved_at = ticket.steps[5].done_at
        if steps >= 7:
            score = (
                rng.choice((1, 2))
                if status is TicketStatus.REOPENED
                else rng.choices((3, 4, 5), (2, 4, 5))[0]
            )
            ticket.satisfaction_score = score
            ticket.steps[6].note = f"score {score}"
        if steps >= 8:
            ticket.root_cause = scenario.root_cause
            ticket.steps[7].note = f"root cause {scenario.root_cause}"
            ticket.closed_at = ticket.steps[7].done_at
        self.demo.session.add(ticket)

    def _compensation(self, severity: int, tier: Tier) -> tuple[str, Decimal]:
        """A kind and value of compensation, more for worse trouble and better customers."""
        if severity >= 3 or tier in (Tier.VIP, Tier.GOLD):
            return "coupon", Decimal(500 if severity >= 3 else 300)
        if self.demo.rng.random() < 0.3:
            return "gift", Decimal(290)  # a bamboo fibre towel, at its price
        if self.demo.rng.random() < 0.3:
            return "shipping_refund", Decimal(100)
        return "coupon", Decimal(100 * severity)


def _late(order: Order) -> bool:
    """Whether `order` was delivered after the day it was expected."""
    return (
        order.delivered_at is not None
        and order.expected_delivery is not None
        and taipei_date(order.delivered_at) > order.expected_delivery
    )


def _anchor(order: Order) -> datetime:
    """The moment a complaint about `order` can start.

    A late parcel is complained about while it is still on its way; otherwise after
    delivery, after shipping, or, for an order not yet shipped, after purchase.
    """
    if order.delivered_at is not None and order.expected_delivery is not None and _late(order):
        overdue = datetime.combine(
            order.expected_delivery + timedelta(days=1), time(9), tzinfo=zone(TAIPEI)
        )
        return min(overdue.astimezone(UTC), order.delivered_at - timedelta(hours=1))
    return order.delivered_at or order.shipped_at or order.placed_at
