"""Orders: recording them keeps the customer's order totals current."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store.models import Customer, Order, OrderItem, OrderStatus, Product

# An order number is the letter A and seven digits (A7000152); customers type either case.
# Rasa's entity regex in bot/data/nlu/lookups.yml is this same pattern (a test holds them equal).
ORDER_NUMBER_PATTERN = r"[Aa]\d{7}"
ORDER_NUMBER = re.compile(ORDER_NUMBER_PATTERN)
# In running text: no ASCII letter or digit on either side, so one glued to Chinese
# ("訂單A1234567還沒到") is found, and one inside a longer code is not.
ORDER_NUMBER_IN_TEXT = re.compile(
    rf"(?<![A-Za-z0-9]){ORDER_NUMBER_PATTERN}(?![A-Za-z0-9])", re.ASCII
)


def order_number(sequence: int) -> str:
    """The order number of the shop's `sequence`-th order."""
    return f"A{sequence:07d}"


# Orders that never turned into a sale do not count towards RFM or lifetime value.
NOT_SALES = (OrderStatus.CANCELLED, OrderStatus.RETURNED)


def record_order(
    session: Session,
    *,
    customer: Customer,
    number: str,
    placed_at: datetime,
    lines: Sequence[tuple[Product, int]],
    status: OrderStatus = OrderStatus.PLACED,
    **details: object,
) -> Order:
    """Add an order with its lines and update the customer's totals.

    `details` are further `Order` columns (carrier, expected_delivery, ...).
    """
    total = sum((product.price * quantity for product, quantity in lines), Decimal(0))
    order = Order(
        customer=customer,
        number=number.strip().upper(),
        placed_at=placed_at,
        status=status,
        total=total,
        items=[
            OrderItem(product=product, quantity=quantity, unit_price=product.price)
            for product, quantity in lines
        ],
        **details,
    )
    session.add(order)
    if status not in NOT_SALES:
        customer.order_count = (customer.order_count or 0) + 1
        customer.total_spent = (customer.total_spent or Decimal(0)) + total
        if customer.first_order_at is None or placed_at < customer.first_order_at:
            customer.first_order_at = placed_at
        if customer.last_order_at is None or placed_at > customer.last_order_at:
            customer.last_order_at = placed_at
    return order


def set_order_status(session: Session, order: Order, status: OrderStatus) -> None:
    """Change an order's status; a cancellation or return takes it out of the totals."""
    was_sale = order.status not in NOT_SALES
    order.status = status
    if was_sale != (status not in NOT_SALES):
        session.flush()
        refresh_customer_totals(session, order.customer)


def refresh_customer_totals(session: Session, customer: Customer) -> None:
    """Recompute the order totals kept on `customer` from the orders themselves."""
    count, total, first, last = session.execute(
        select(
            func.count(Order.id),
            func.coalesce(func.sum(Order.total), 0),
            func.min(Order.placed_at),
            func.max(Order.placed_at),
        ).where(Order.customer_id == customer.id, Order.status.not_in(NOT_SALES))
    ).one()
    customer.order_count = count
    customer.total_spent = Decimal(total)
    customer.first_order_at = first
    customer.last_order_at = last


def find_order(session: Session, number: str) -> Order | None:
    """An order by its number, ignoring case and surrounding spaces."""
    return session.scalar(select(Order).where(Order.number == number.strip().upper()))
