"""Orders: recording them keeps the customer's order totals current."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.models import Customer, Order, OrderItem, OrderStatus, Product

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
        number=number,
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


def find_order(session: Session, number: str) -> Order | None:
    """An order by its number, ignoring case and surrounding spaces."""
    return session.scalar(select(Order).where(Order.number == number.strip().upper()))
