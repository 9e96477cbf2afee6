"""What the demo shop holds: valid phone numbers, a mix of customers, sales that add up,
orders whose statuses fit their age, and complaint tickets that follow the recovery script."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from crm_store.demo import DemoSummary, load_demo_data
from crm_store.models import (
    Channel,
    ChannelIdentity,
    Customer,
    Language,
    Order,
    OrderItem,
    OrderStatus,
    Ticket,
    TicketStatus,
    Tier,
)
from crm_store.orders import NOT_SALES
from crm_store.phones import normalize_phone
from tests.crm_store.demo_helpers import NOW

CARRIERS = {"黑貓宅急便", "新竹物流", "中華郵政"}
CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_phone_number_is_valid_e164(session: Session, summary: DemoSummary) -> None:
    identities = session.scalars(
        select(ChannelIdentity).options(selectinload(ChannelIdentity.customer))
    ).all()
    phones = [identity for identity in identities if identity.channel is Channel.SMS]
    chats = [identity for identity in identities if identity.channel is Channel.TELEGRAM]

    for identity in phones:
        assert normalize_phone(identity.address, "TW") == identity.address
        assert identity.address.startswith("+")
        if identity.customer.timezone == "Asia/Taipei":
            assert re.fullmatch(r"\+8869\d{8}", identity.address), identity.address
    for identity in chats:
        assert identity.address.isdigit() and int(identity.address) > 0
    taiwanese = sum(1 for identity in phones if identity.address.startswith("+8869"))
    assert taiwanese >= 0.6 * summary.customers
    for country_code in ("+886", "+1", "+44", "+81"):
        assert any(identity.address.startswith(country_code) for identity in phones)
    assert len(chats) >= 0.3 * summary.customers
    assert {identity.customer_id for identity in identities} == set(
        session.scalars(select(Customer.id))
    )


def test_home_numbers_follow_the_default_region(session: Session) -> None:
    load_demo_data(session, now=NOW, customers=40, default_region="US")
    session.commit()

    numbers = session.scalars(
        select(ChannelIdentity.address)
        .join(Customer)
        .where(ChannelIdentity.channel == Channel.SMS, Customer.timezone == "Asia/Taipei")
    ).all()

    assert numbers
    assert all(normalize_phone(number, "US") == number for number in numbers)
    assert all(number.startswith("+1") for number in numbers)


def test_customer_totals_equal_their_sales(session: Session, summary: DemoSummary) -> None:
    sales = {
        customer_id: (count, total, first, last)
        for customer_id, count, total, first, last in session.execute(
            select(
                Order.customer_id,
                func.count(Order.id),
                func.sum(Order.total),
                func.min(Order.placed_at),
                func.max(Order.placed_at),
            )
            .where(Order.status.not_in(NOT_SALES))
            .group_by(Order.customer_id)
        )
    }

    for customer in session.scalars(select(Customer)):
        count, total, first, last = sales.get(customer.id, (0, Decimal(0), None, None))
        assert customer.order_count == count, customer.id
        assert customer.total_spent == Decimal(total).quantize(Decimal("0.01")), customer.id
        if first is not None:
            # SQLite hands back aggregates of timestamps as text.
            first = datetime.fromisoformat(str(first)).replace(tzinfo=UTC)
            last = datetime.fromisoformat(str(last)).replace(tzinfo=UTC)
        assert customer.first_order_at == first
        assert customer.last_order_at == last


def test_order_totals_are_the_sum_of_their_lines(session: Session, summary: DemoSummary) -> None:
    line_totals = {
        order_id: total
        for order_id, total in session.execute(
            select(
                OrderItem.order_id, func.sum(OrderItem.unit_price * OrderItem.quantity)
            ).group_by(OrderItem.order_id)
        )
    }
    orders = session.scalars(select(Order)).all()
    line_counts = Counter(session.scalars(select(OrderItem.order_id)))

    for order in orders:
        assert order.total == Decimal(line_totals[order.id]).quantize(Decimal("0.01"))
        assert 1 <= line_counts[order.id] <= 3


def test_orders_have_unique_numbers_and_statuses_that_fit_their_age(
    session: Session, summary: DemoSummary
) -> None:
    orders = session.scalars(select(Order)).all()
    statuses = Counter(order.status for order in orders)

    assert len({order.number for order in orders}) == len(orders) == summary.orders
    for order in orders:
        assert re.fullmatch(r"A\d{7}", order.number)
        assert NOW - timedelta(days=731) <= order.placed_at <= NOW
        assert order.shipping_address
        if order.placed_at < NOW - timedelta(days=14):
            assert order.status in (
                OrderStatus.DELIVERED,
                OrderStatus.CANCELLED,
                OrderStatus.RETURNED,
            ), order.number
        if order.status in (OrderStatus.PLACED, OrderStatus.PAID, OrderStatus.CANCELLED):
            assert order.shipped_at is None and order.carrier is None
            assert order.delivered_at is None
        else:
            assert order.shipped_at is not None and order.placed_at < order.shipped_at <= NOW
            assert order.carrier in CARRIERS
            assert order.tracking_number and order.expected_delivery
        if order.status in (OrderStatus.DELIVERED, OrderStatus.RETURNED):
            assert order.shipped_at is not None and order.delivered_at is not None
            assert order.shipped_at < order.delivered_at <= NOW
        if order.status is OrderStatus.SHIPPED:
            assert order.delivered_at is None
    in_progress = [
        order
        for order in orders
        if order.placed_at >= NOW - timedelta(days=5)
        and order.status in (OrderStatus.PLACED, OrderStatus.PAID, OrderStatus.SHIPPED)
    ]
    assert len(in_progress) >= 3
    assert statuses[OrderStatus.CANCELLED] and statuses[OrderStatus.RETURNED]


def test_customers_mix_languages_zones_tiers_and_consent(
    session: Session, summary: DemoSummary
) -> None:
    customers = session.scalars(select(Customer)).all()
    languages = Counter(customer.language for customer in customers)
    zones = Counter(customer.timezone for customer in customers)
    tiers = Counter(customer.tier for customer in customers)
    identities = session.scalars(select(ChannelIdentity)).all()

    assert 0.65 <= languages[Language.ZH_TW] / len(customers) <= 0.85
    assert zones["Asia/Taipei"] > len(customers) / 2
    assert {"America/Los_Angeles", "Europe/London", "Asia/Tokyo"} <= set(zones)
    assert tiers[Tier.STANDARD] > tiers[Tier.SILVER] > tiers[Tier.GOLD] > tiers[Tier.VIP] > 0
    assert sum(1 for customer in customers if customer.email) > len(customers) / 3
    for customer in customers:
        if customer.language is Language.ZH_TW:
            assert CJK.search(customer.name), customer.name
        else:
            assert not CJK.search(customer.name), customer.name
        assert customer.created_at <= NOW
    consenting = sum(1 for identity in identities if identity.marketing_consent)
    assert consenting > 0.6 * len(identities)
    opted_out = [identity for identity in identities if identity.opted_out]
    assert opted_out
    for identity in opted_out:
        assert not identity.marketing_consent
        assert identity.opted_out_at is not None
        assert identity.created_at <= identity.opted_out_at <= NOW
    unreachable = [identity for identity in identities if not identity.reachable]
    assert len(unreachable) >= 2
    assert all(identity.unreachable_reason for identity in unreachable)


def test_tickets_follow_the_recovery_script(session: Session, summary: DemoSummary) -> None:
    tickets = session.scalars(
        select(Ticket).options(selectinload(Ticket.steps), selectinload(Ticket.order))
    ).all()
    languages = {
        customer_id: language
        for customer_id, language in session.execute(select(Customer.id, Customer.language))
    }

    assert 10 <= len(tickets) <= 20
    for ticket in tickets:
        assert ticket.order is not None and ticket.order.customer_id == ticket.customer_id
        assert ticket.language is languages[ticket.customer_id]
        assert bool(CJK.search(ticket.description)) == (ticket.language is Language.ZH_TW)
        steps = ticket.steps
        assert [step.step for step in steps] == list(range(1, len(steps) + 1))
        assert steps[0].done_at >= ticket.created_at >= ticket.order.placed_at
        assert all(a.done_at < b.done_at for a, b in pairwise(steps))
        assert steps[-1].done_at <= NOW
        if ticket.status is TicketStatus.CLOSED:
            assert len(steps) == 8
            assert ticket.root_cause and re.fullmatch(r"[a-z]+(_[a-z]+)*", ticket.root_cause)
            assert ticket.desired_outcome and ticket.agreed_action
            assert ticket.compensation_kind and ticket.compensation_value
            assert ticket.satisfaction_score in range(1, 6)
            assert ticket.resolved_at and ticket.closed_at and ticket.closed_at <= NOW
    statuses = Counter(ticket.status for ticket in tickets)
    assert statuses[TicketStatus.CLOSED] >= 5
    assert statuses[TicketStatus.OPEN] + statuses[TicketStatus.HANDED_OFF] >= 2
    assert len({ticket.category for ticket in tickets}) >= 3
    assert len({ticket.root_cause for ticket in tickets if ticket.root_cause}) >= 3
