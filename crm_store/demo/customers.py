"""The demo's customers: names, languages, time zones, birthdays, addresses, tiers, tags.

Some are placed on purpose so that every outreach flow has someone to talk to: a few
have their birthday today in their own time zone, some were born on 29 February, about
three in ten buyers have lapsed, some never ordered, a few opted out or cannot be
reached.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from crm_store.customers import birthday_matches, zone
from crm_store.demo.addresses import home_address
from crm_store.demo.context import TAIPEI, Demo
from crm_store.demo.identities import IdentityMaker
from crm_store.models import Customer, CustomerTag, Language, Tier

# (time zone, weight) per language; most customers live in Taiwan.
_ZONES = {
    Language.ZH_TW: (
        (TAIPEI, 96),
        ("Asia/Tokyo", 2),
        ("America/Los_Angeles", 1),
        ("Europe/London", 1),
    ),
    Language.EN: (
        (TAIPEI, 55),
        ("America/Los_Angeles", 20),
        ("Europe/London", 15),
        ("Asia/Tokyo", 10),
    ),
}

_NOTES = {
    Language.ZH_TW: (
        "偏好晚上六點後收貨",
        "公司行號，需開統編發票",
        "大樓有管理員，可代收包裹",
        "送禮用，請勿附上價格明細",
    ),
    Language.EN: (
        "Prefers delivery after 6 pm",
        "Leave parcels with the building manager",
        "Orders gifts for family in Taiwan",
        "Please no plastic in the packaging",
    ),
}


@dataclass
class Profile:
    """A customer being built, with what the later parts of the demo need to know."""

    customer: Customer
    zone: ZoneInfo
    address: str
    abroad: bool
    buyer: bool
    lapsed: bool
    recent: bool
    gift_buyer: bool = False


def make_customers(demo: Demo, count: int) -> list[Profile]:
    """Add `count` customers with their channel identities; no orders yet."""
    rng = demo.rng
    identities = IdentityMaker(demo)
    indices = list(range(count))
    no_orders = set(rng.sample(indices, round(count * 0.1) if count >= 2 else 0))
    buyers = [index for index in indices if index not in no_orders]
    lapsed = set(rng.sample(buyers, math.ceil(len(buyers) * 0.3)))
    active = [index for index in buyers if index not in lapsed]
    recent = set(rng.sample(active, min(len(active), max(6, count // 25))))
    birthday_today = set(rng.sample(indices, min(count, max(3, round(count / 120)))))
    others = [index for index in indices if index not in birthday_today]
    leap_born = set(rng.sample(others, min(len(others), max(3, count // 300))))
    opted_out = set(rng.sample(indices, round(count * 0.05)))
    reachable = [index for index in indices if index not in opted_out]
    unreachable = set(rng.sample(reachable, min(len(reachable), max(2, count // 150))))

    profiles: list[Profile] = []
    for index in indices:
        language = Language.ZH_TW if rng.random() < 0.75 else Language.EN
        zone_names = _ZONES[language]
        zone_name = rng.choices(
            [name for name, _ in zone_names], [weight for _, weight in zone_names]
        )[0]
        customer_zone = zone(zone_name)
        customer = _customer(demo, language, zone_name)
        if index in birthday_today:
            customer.set_birthday(_birthday_on(demo, demo.now.astimezone(customer_zone).date()))
        elif index in leap_born:
            customer.set_birthday(_leap_birthday(demo))
        elif rng.random() < 0.9:
            customer.set_birthday(_random_birthday(demo))
        abroad = zone_name != TAIPEI
        profile = Profile(
            customer=customer,
            zone=customer_zone,
            address=home_address(demo, language, zone_name),
            abroad=abroad,
            buyer=index not in no_orders,
            lapsed=index in lapsed,
            recent=index in recent,
        )
        identities.add(customer, abroad=abroad, opted_out=index in opted_out)
        if index in unreachable:
            identities.make_unreachable(customer)
        profiles.append(profile)
        demo.session.add(customer)
    return profiles


def birthday_is_today(profile: Profile, now: datetime) -> bool:
    """Whether the customer's birthday is on the day `now` falls on in their time zone."""
    customer = profile.customer
    if customer.birth_month is None or customer.birth_day is None:
        return False
    today = now.astimezone(profile.zone).date()
    return birthday_matches(customer.birth_month, customer.birth_day, today)


def assign_tiers_and_tags(profiles: Sequence[Profile]) -> None:
    """Tiers by money spent over the two years (top 3 % VIP); tags for segments."""
    buyers = [profile for profile in profiles if profile.customer.order_count > 0]
    ranked = sorted(
        range(len(buyers)), key=lambda index: (-buyers[index].customer.total_spent, index)
    )
    vip, gold, silver = (math.ceil(len(buyers) * share) for share in (0.03, 0.12, 0.30))
    for rank, index in enumerate(ranked):
        customer = buyers[index].customer
        if rank < vip:
            customer.tier = Tier.VIP
        elif rank < gold:
            customer.tier = Tier.GOLD
        elif rank < silver:
            customer.tier = Tier.SILVER
    for profile in profiles:
        customer = profile.customer
        tags: list[str] = []
        if profile.abroad:
            tags.append("overseas")
        elif customer.language is Language.EN:
            tags.append("expat")
        if profile.gift_buyer:
            tags.append("gift_buyer")
        customer.tags.extend(CustomerTag(tag=tag) for tag in tags)


def _customer(demo: Demo, language: Language, zone_name: str) -> Customer:
    rng = demo.rng
    fake = demo.fake[language]
    if language is Language.ZH_TW:
        name = str(fake.name())
        email = str(fake.email())
    else:
        first, last = str(fake.first_name()), str(fake.last_name())
        name = f"{first} {last}"
        handle = f"{first}.{last}".lower().replace("'", "")
        suffix = str(rng.randint(1, 99)) if rng.random() < 0.4 else ""
        email = f"{handle}{suffix}@example.{rng.choice(('com', 'net', 'org'))}"
    notes = rng.choice(_NOTES[language]) if rng.random() < 0.05 else None
    return Customer(
        name=name,
        email=email if rng.random() < 0.6 else None,
        language=language,
        timezone=zone_name,
        tier=Tier.STANDARD,
        notes=notes,
        order_count=0,
        total_spent=Decimal(0),
    )


def _random_birthday(demo: Demo) -> date:
    age = round(demo.rng.triangular(18, 75, 34))
    year = demo.now.year - age
    days = 366 if calendar.isleap(year) else 365
    return date(year, 1, 1) + timedelta(days=demo.rng.randrange(days))


def _leap_birthday(demo: Demo) -> date:
    leap_years = [year for year in range(demo.now.year - 70, demo.now.year - 18) if year % 4 == 0]
    return date(demo.rng.choice(leap_years), 2, 29)


def _birthday_on(demo: Demo, today: date) -> date:
    age = round(demo.rng.triangular(19, 70, 33))
    if (today.month, today.day) == (2, 29):
        age += -age % 4  # keep the birth year a leap year too
    return today.replace(year=today.year - age)
