"""What the store holds about a customer, as the customer may see it (個資法 Art. 3).

A summary goes out over the channel the customer asked on, which someone else may be
reading (a shared phone, a forwarded chat): contact details are masked, enough for the
customer to recognise them and not enough to learn them from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store.models import Channel, Customer, Order, Tier


@dataclass(frozen=True, slots=True)
class HeldContact:
    channel: Channel
    masked_address: str
    marketing_consent: bool


@dataclass(frozen=True, slots=True)
class LastOrder:
    number: str
    placed_at: datetime
    total: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class HeldData:
    name: str
    masked_email: str | None
    birthday: date | None  # the year may be unknown: see `birthday_month_day`
    birthday_month_day: tuple[int, int] | None
    tier: Tier
    contacts: tuple[HeldContact, ...]
    order_count: int
    last_order: LastOrder | None


def mask_address(channel: Channel, address: str) -> str:
    """A phone number's country code and last three digits, a chat id's last three."""
    if channel is Channel.SMS and address.startswith("+") and len(address) > 7:
        return f"{address[:4]}•••••{address[-3:]}"
    if len(address) > 4:
        return f"•••{address[-3:]}"
    return "•••"


def mask_email(email: str) -> str:
    """The first letter of the mailbox and the whole domain: w•••@example.com."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}•••@{domain}" if domain else "•••"


def held_data(session: Session, customer: Customer) -> HeldData:
    last = session.scalars(
        select(Order)
        .where(Order.customer_id == customer.id)
        .order_by(Order.placed_at.desc())
        .limit(1)
    ).first()
    month_day = (
        (customer.birth_month, customer.birth_day)
        if customer.birth_month is not None and customer.birth_day is not None
        else None
    )
    order_count = session.scalar(
        select(func.count()).select_from(Order).where(Order.customer_id == customer.id)
    )
    return HeldData(
        name=customer.name,
        masked_email=mask_email(customer.email) if customer.email else None,
        birthday=customer.birthday,
        birthday_month_day=month_day,
        tier=customer.tier,
        contacts=tuple(
            HeldContact(
                channel=identity.channel,
                masked_address=mask_address(identity.channel, identity.address),
                marketing_consent=identity.marketing_consent and not identity.opted_out,
            )
            for identity in customer.identities
        ),
        order_count=int(order_count or 0),
        last_order=None
        if last is None
        else LastOrder(
            number=last.number, placed_at=last.placed_at, total=last.total, currency=last.currency
        ),
    )
