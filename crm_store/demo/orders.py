"""The demo's orders: two years of them, placed, paid, shipped, delivered or returned.

Each buyer's orders are planned first (when, what, to which address), then all are
numbered and recorded in the order they were placed, so order numbers rise with time.
Orders also settle when each customer signed up: before their first order.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from crm_store.demo.addresses import taiwan_address
from crm_store.demo.catalogue import DISCONTINUED_AFTER_DAYS, PRODUCTS
from crm_store.demo.context import HISTORY_DAYS, Demo, taipei_date
from crm_store.demo.customers import Profile
from crm_store.models import Channel, Order, OrderStatus, Product
from crm_store.orders import order_number, record_order

# Local hour an order is placed at: quiet at night, busy at lunch and in the evening.
_HOURS = list(range(24))
_HOUR_WEIGHTS = [1, 1, 0.5, 0.2, 0.2, 0.3, 0.5, 1, 2, 3, 3, 3, 5, 4, 3, 3, 3, 3, 3, 4, 6, 7, 6, 3]

_CARRIERS = ("黑貓宅急便", "新竹物流", "中華郵政")
_CARRIER_WEIGHTS = (50, 30, 20)


@dataclass
class _PlannedOrder:
    profile: Profile
    placed_at: datetime
    lines: list[tuple[Product, int]]
    address: str
    international: bool


@dataclass
class Built:
    """An order as recorded, with the profile of the customer who placed it."""

    order: Order
    profile: Profile


class OrderMaker:
    """Plans and records every buyer's orders, never reusing a tracking number."""

    def __init__(self, demo: Demo) -> None:
        self.demo = demo
        self.used_tracking: set[str] = set()

    def make(self, profiles: Sequence[Profile], products: Sequence[Product]) -> list[Built]:
        """Add the orders of every buyer and settle every customer's sign-up dates."""
        rng = self.demo.rng
        weights = [spec.weight for spec in PRODUCTS]
        planned: list[_PlannedOrder] = []
        for profile in profiles:
            ages = self._order_ages(profile) if profile.buyer else []
            placed: list[datetime] = []
            for age in ages:
                placed_at = self._placed_at(self.demo.now - timedelta(days=age), profile.zone)
                lines = self._lines(products, weights, placed_at)
                gift = rng.random() < 0.1
                profile.gift_buyer = profile.gift_buyer or (gift and not profile.abroad)
                address = (
                    taiwan_address(rng, profile.customer.language) if gift else profile.address
                )
                international = profile.abroad and not gift and rng.random() < 0.7
                if profile.abroad and not international and not gift:
                    address = taiwan_address(rng, profile.customer.language)
                planned.append(_PlannedOrder(profile, placed_at, lines, address, international))
                placed.append(placed_at)
            self._sign_up_dates(profile, placed)

        planned.sort(key=lambda order: order.placed_at)
        number = 1_000_000 + rng.randint(0, 40_000)
        built: list[Built] = []
        for plan in planned:
            number += rng.randint(1, 6)
            order = self._record(plan, order_number(number))
            built.append(Built(order, plan.profile))
        return built

    def _order_ages(self, profile: Profile) -> list[float]:
        """Ages in days of a buyer's orders; the first is the newest."""
        rng = self.demo.rng
        if profile.lapsed:
            last = rng.uniform(200, HISTORY_DAYS - 30)
        elif profile.recent:
            last = rng.uniform(0, 4)
        else:
            last = rng.uniform(5, 170)
        count = rng.choices((1, 2, 3, 4, 5, 6, 8, 12), (35, 20, 15, 9, 7, 5, 6, 3))[0]
        if count == 1:
            return [last]
        span = min(HISTORY_DAYS - 5 - last, rng.uniform(20, 120) * (count - 1))
        return [last, *(last + rng.uniform(0, span) for _ in range(count - 2)), last + span]

    def _placed_at(self, moment: datetime, customer_zone: ZoneInfo) -> datetime:
        rng = self.demo.rng
        local = moment.astimezone(customer_zone)
        hour = rng.choices(_HOURS, _HOUR_WEIGHTS)[0]
        placed = local.replace(
            hour=hour, minute=rng.randrange(60), second=rng.randrange(60), microsecond=0
        ).astimezone(UTC)
        if placed > self.demo.now - timedelta(minutes=5):
            placed = self.demo.now - timedelta(minutes=rng.randint(5, 240))
        return placed

    def _lines(
        self, products: Sequence[Product], weights: Sequence[int], placed_at: datetime
    ) -> list[tuple[Product, int]]:
        rng = self.demo.rng
        available = placed_at < self.demo.now - timedelta(days=DISCONTINUED_AFTER_DAYS)
        wanted = rng.choices((1, 2, 3), (60, 28, 12))[0]
        chosen: list[Product] = []
        while len(chosen) < wanted:
            product = rng.choices(products, weights)[0]
            if product in chosen or not (product.active or available):
                continue
            chosen.append(product)
        return [(product, rng.choices((1, 2, 3, 4), (80, 15, 4, 1))[0]) for product in chosen]

    def _sign_up_dates(self, profile: Profile, placed: Sequence[datetime]) -> None:
        """Sign-up and identity dates: before the first order, or any time for non-buyers."""
        rng = self.demo.rng
        customer = profile.customer
        if placed:
            created = min(placed) - timedelta(minutes=rng.randint(5, 60 * 24 * 45))
        else:
            created = self.demo.now - timedelta(minutes=rng.randint(60, 60 * 24 * HISTORY_DAYS))
        customer.created_at = created
        customer.updated_at = max([created, *placed])
        headroom = int((self.demo.now - created).total_seconds() // 60) - 1
        for identity in customer.identities:
            identity.created_at = created + timedelta(minutes=rng.randint(0, min(30, headroom)))
            identity.consent_changed_at = (
                identity.created_at if identity.marketing_consent else None
            )
            since = max(1, int((self.demo.now - identity.created_at).total_seconds() // 60))
            if identity.opted_out:
                identity.opted_out_at = identity.created_at + timedelta(
                    minutes=rng.randint(1, since)
                )
                identity.consent_changed_at = identity.opted_out_at
            if identity.channel is Channel.TELEGRAM:
                identity.last_seen_at = self.demo.now - timedelta(
                    minutes=rng.randint(0, min(since, 60 * 24 * 120) - 1)
                )

    def _record(self, plan: _PlannedOrder, number: str) -> Order:
        rng = self.demo.rng
        card = rng.random() < 0.75
        paid_at = plan.placed_at + (
            timedelta(minutes=rng.randint(1, 10))
            if card
            else timedelta(minutes=rng.randint(30, 60 * 36))
        )
        old = plan.placed_at < self.demo.now - timedelta(days=4)
        details: dict[str, object] = {"shipping_address": plan.address}
        if old and rng.random() < 0.03:
            return record_order(
                self.demo.session,
                customer=plan.profile.customer,
                number=number,
                placed_at=plan.placed_at,
                lines=plan.lines,
                status=OrderStatus.CANCELLED,
                **details,
            )
        shipped_at = paid_at + timedelta(minutes=rng.randint(6 * 60, 40 * 60))
        if plan.international:
            carrier = "中華郵政"
            tracking = self._tracking(carrier, international=True)
            expected = taipei_date(shipped_at) + timedelta(days=7)
            delivered_at = shipped_at + timedelta(hours=rng.randint(4 * 24, 9 * 24))
        else:
            carrier = rng.choices(_CARRIERS, _CARRIER_WEIGHTS)[0]
            tracking = self._tracking(carrier, international=False)
            expected = taipei_date(shipped_at) + timedelta(days=2 if carrier == "中華郵政" else 1)
            late = rng.random() < 0.04
            delivered_at = shipped_at + timedelta(
                hours=rng.randint(3 * 24, 6 * 24) if late else rng.randint(14, 44)
            )
        if delivered_at <= self.demo.now:
            returned = delivered_at < self.demo.now - timedelta(days=10) and rng.random() < 0.02
            status = OrderStatus.RETURNED if returned else OrderStatus.DELIVERED
        elif shipped_at <= self.demo.now:
            status = OrderStatus.SHIPPED
        elif paid_at <= self.demo.now:
            status = OrderStatus.PAID
        else:
            status = OrderStatus.PLACED
        if status not in (OrderStatus.PLACED, OrderStatus.PAID):
            details.update(
                shipped_at=shipped_at,
                carrier=carrier,
                tracking_number=tracking,
                expected_delivery=expected,
            )
        if status in (OrderStatus.DELIVERED, OrderStatus.RETURNED):
            details["delivered_at"] = delivered_at
        return record_order(
            self.demo.session,
            customer=plan.profile.customer,
            number=number,
            placed_at=plan.placed_at,
            lines=plan.lines,
            status=status,
            **details,
        )

    def _tracking(self, carrier: str, *, international: bool) -> str:
        rng = self.demo.rng

        def digits(count: int) -> str:
            return "".join(rng.choice(string.digits) for _ in range(count))

        while True:
            if international:
                serial = digits(8)
                tracking = f"E{rng.choice('ABE')}{serial}{_s10_check_digit(serial)}TW"
            elif carrier == "黑貓宅急便":
                tracking = digits(12)
            elif carrier == "新竹物流":
                tracking = digits(10)
            else:
                tracking = digits(14)
            if tracking not in self.used_tracking:
                self.used_tracking.add(tracking)
                return tracking


def _s10_check_digit(serial: str) -> int:
    """The UPU S10 check digit of an eight-digit item serial (EMS tracking numbers)."""
    total = sum(
        int(digit) * weight for digit, weight in zip(serial, (8, 6, 4, 2, 3, 5, 9, 7), strict=True)
    )
    check = 11 - total % 11
    return {10: 0, 11: 5}.get(check, check)
