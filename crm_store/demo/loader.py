"""`load_demo_data`: builds the demo shop part by part, in a fixed order of draws."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from faker import Faker
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.demo.catalogue import add_products
from crm_store.demo.context import Demo
from crm_store.demo.customers import assign_tiers_and_tags, birthday_is_today, make_customers
from crm_store.demo.orders import OrderMaker
from crm_store.demo.tickets import TicketMaker
from crm_store.models import Customer, Language

LAPSED_DAYS = 180


@dataclass(frozen=True)
class DemoSummary:
    """What `load_demo_data` added.

    `birthdays_today` counts customers whose birthday is today in their own time zone,
    `lapsed` those whose last order is at least 180 days old, `opted_out` customers
    with at least one opted-out channel identity.
    """

    customers: int
    products: int
    orders: int
    birthdays_today: int
    lapsed: int
    opted_out: int
    tickets: int


def store_has_customers(session: Session) -> bool:
    """Whether the store holds any customer at all (erased ones included)."""
    return session.scalar(select(Customer.id).limit(1)) is not None


def load_demo_data(
    session: Session,
    *,
    now: datetime,
    customers: int = 300,
    seed: int = 2026,
    default_region: str = "TW",
) -> DemoSummary:
    """Add a demo shop to `session`; the caller commits.

    Args:
        session: a session on a migrated store, normally an empty one.
        now: the instant the demo is built around (aware); orders lie in the two years
            before it, birthdays are "today" relative to it.
        customers: how many customers to make.
        seed: the same seed and `now` give the same data.
        default_region: the region of the mobile numbers of customers living in Taiwan
            (those abroad get local numbers of where they live); every number is checked
            with `normalize_phone` in this region and stored in E.164.

    Raises:
        ValueError: when `now` is naive, `customers` is negative or no mobile numbers
            can be made for `default_region`.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"naive datetime {now!r}; pass an aware `now`")
    if customers < 0:
        raise ValueError(f"customers must not be negative, got {customers}")
    now = now.astimezone(UTC)
    region = default_region.upper()
    rng = random.Random(seed)
    fake_zh = Faker("zh_TW")
    fake_zh.seed_instance(seed)
    fake_en = Faker("en_US")
    fake_en.seed_instance(seed)
    demo = Demo(
        session=session,
        rng=rng,
        fake={Language.ZH_TW: fake_zh, Language.EN: fake_en},
        now=now,
        region=region,
    )
    return _build(demo, customers)


def _build(demo: Demo, count: int) -> DemoSummary:
    # The order of these steps is the order of the random draws: keep it.
    products = add_products(demo)
    profiles = make_customers(demo, count)
    built = OrderMaker(demo).make(profiles, products)
    assign_tiers_and_tags(profiles)
    # Tickets refer to customers by id, which the database hands out.
    demo.session.flush()
    tickets = TicketMaker(demo).make(built)
    now = demo.now
    return DemoSummary(
        customers=len(profiles),
        products=len(products),
        orders=len(built),
        birthdays_today=sum(1 for profile in profiles if birthday_is_today(profile, now)),
        lapsed=sum(
            1
            for profile in profiles
            if profile.customer.last_order_at is not None
            and profile.customer.last_order_at <= now - timedelta(days=LAPSED_DAYS)
        ),
        opted_out=sum(
            1
            for profile in profiles
            if any(identity.opted_out for identity in profile.customer.identities)
        ),
        tickets=tickets,
    )
