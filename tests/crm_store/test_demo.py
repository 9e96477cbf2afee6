"""Loading the demo shop: what its summary counts, birthdays today and lapsed buyers,
the same shop from the same seed and clock, and tiny or refused loads."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store import migrate
from crm_store.customers import customers_with_birthday_today, lapsed_customers
from crm_store.db import make_engine, make_session_factory
from crm_store.demo import DemoSummary, load_demo_data, store_has_customers
from crm_store.models import (
    ChannelIdentity,
    Coupon,
    CouponPurpose,
    Customer,
    Order,
    Product,
    Ticket,
)
from tests.crm_store.demo_helpers import NOW


def fingerprint(session: Session) -> list[tuple[object, ...]]:
    """Everything a user would see of the demo shop, free of database ids."""

    def plain(row: tuple[object, ...]) -> tuple[object, ...]:
        return tuple(
            f"{value:.2f}"
            if isinstance(value, Decimal)
            else value.astimezone(UTC).isoformat()
            if isinstance(value, datetime)
            else value
            for value in row
        )

    queries = [
        select(
            Customer.name,
            Customer.email,
            Customer.birthday,
            Customer.timezone,
            Customer.language,
            Customer.tier,
            Customer.created_at,
            Customer.total_spent,
        ).order_by(Customer.created_at, Customer.name),
        select(
            ChannelIdentity.channel,
            ChannelIdentity.address,
            ChannelIdentity.marketing_consent,
            ChannelIdentity.opted_out,
            ChannelIdentity.reachable,
        ).order_by(ChannelIdentity.channel, ChannelIdentity.address),
        select(
            Order.number,
            Order.status,
            Order.total,
            Order.placed_at,
            Order.tracking_number,
            Order.shipping_address,
        ).order_by(Order.number),
        select(Ticket.description, Ticket.status, Ticket.created_at, Ticket.coupon_code).order_by(
            Ticket.created_at, Ticket.description
        ),
    ]
    return [plain(tuple(row)) for query in queries for row in session.execute(query)]


def test_store_has_customers_only_after_loading(session: Session) -> None:
    assert not store_has_customers(session)
    load_demo_data(session, now=NOW, customers=20)
    session.commit()
    assert store_has_customers(session)


def test_every_coupon_a_demo_complaint_gave_is_stored_with_its_ticket(
    session: Session, summary: DemoSummary
) -> None:
    given = session.execute(
        select(Ticket.coupon_code, Ticket.id, Ticket.customer_id).where(
            Ticket.coupon_code.is_not(None)
        )
    ).all()
    stored = session.execute(
        select(Coupon.code, Coupon.ticket_id, Coupon.customer_id).where(
            Coupon.purpose == CouponPurpose.COMPLAINT
        )
    ).all()
    assert given and sorted(map(tuple, given)) == sorted(map(tuple, stored))


def test_summary_counts_match_the_database(session: Session, summary: DemoSummary) -> None:
    opted_out_customers = session.scalar(
        select(func.count(func.distinct(ChannelIdentity.customer_id))).where(
            ChannelIdentity.opted_out
        )
    )
    assert summary == DemoSummary(
        customers=session.scalar(select(func.count(Customer.id))) or 0,
        products=session.scalar(select(func.count(Product.id))) or 0,
        orders=session.scalar(select(func.count(Order.id))) or 0,
        birthdays_today=len(customers_with_birthday_today(session, now=NOW)),
        lapsed=len(lapsed_customers(session, now=NOW, lapsed_days=180)),
        opted_out=opted_out_customers or 0,
        tickets=session.scalar(select(func.count(Ticket.id))) or 0,
    )
    assert summary.customers == 300
    assert 25 <= summary.products <= 40


@pytest.mark.parametrize(
    "now",
    [
        NOW,
        # Not a leap year: 29 February birthdays are kept on the 28th.
        datetime(2027, 2, 28, 15, 30, tzinfo=UTC),
        # A leap day that is already 1 March in Taipei.
        datetime(2028, 2, 29, 20, 0, tzinfo=UTC),
    ],
    ids=["mid-march", "feb-28-common-year", "leap-day-evening"],
)
def test_at_least_three_customers_have_their_birthday_today_in_their_own_zone(
    session: Session, now: datetime
) -> None:
    summary = load_demo_data(session, now=now, customers=150)
    session.commit()

    celebrating = customers_with_birthday_today(session, now=now)

    assert len(celebrating) == summary.birthdays_today >= 3


def test_some_customers_were_born_on_29_february(session: Session, summary: DemoSummary) -> None:
    leap_born = session.scalars(
        select(Customer.birthday).where(Customer.birth_month == 2, Customer.birth_day == 29)
    ).all()
    assert len(leap_born) >= 3
    assert all(birthday is not None and birthday.day == 29 for birthday in leap_born)


def test_a_fifth_of_buyers_have_lapsed_and_some_never_ordered(
    session: Session, summary: DemoSummary
) -> None:
    buyers = session.scalar(select(func.count(Customer.id)).where(Customer.order_count > 0)) or 0
    never_ordered = session.scalar(select(func.count(Customer.id)).where(~Customer.orders.any()))

    lapsed = lapsed_customers(session, now=NOW, lapsed_days=180)

    assert len(lapsed) >= 0.2 * buyers
    assert all(customer.last_order_at is not None for customer in lapsed)
    assert never_ordered and never_ordered >= 10


def test_same_seed_and_clock_give_the_same_shop(
    session: Session, summary: DemoSummary, tmp_path: Path
) -> None:
    def load_fresh(name: str, seed: int) -> list[tuple[object, ...]]:
        url = f"sqlite:///{tmp_path / name}"
        migrate.upgrade(url)
        engine = make_engine(url)
        try:
            with make_session_factory(engine)() as other:
                again = load_demo_data(other, now=NOW, seed=seed)
                other.commit()
                if seed == 2026:
                    assert again == summary
                return fingerprint(other)
        finally:
            engine.dispose()

    first = fingerprint(session)

    assert load_fresh("same.db", seed=2026) == first
    assert load_fresh("other.db", seed=7) != first


@pytest.mark.parametrize("customers", [0, 10])
def test_tiny_shops_still_load(session: Session, customers: int) -> None:
    summary = load_demo_data(session, now=NOW, customers=customers)
    session.commit()

    assert session.scalar(select(func.count(Customer.id))) == summary.customers == customers
    assert summary.birthdays_today == len(customers_with_birthday_today(session, now=NOW))
    assert summary.birthdays_today >= min(3, customers)


def test_naive_clock_or_negative_count_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        load_demo_data(Session(), now=datetime(2026, 3, 15, 12, 0))
    with pytest.raises(ValueError, match="negative"):
        load_demo_data(Session(), now=NOW, customers=-1)
