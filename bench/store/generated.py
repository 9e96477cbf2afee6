"""Generated customers in realistic proportions, and a CSV of them to import."""

from __future__ import annotations

import csv
import io
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from crm_store.models import Base, Language, Tier

CUSTOMERS = Base.metadata.tables["customers"]
FILL_COLUMNS = (
    "name",
    "email",
    "birthday",
    "birth_month",
    "birth_day",
    "language",
    "timezone",
    "tier",
    "notes",
    "first_order_at",
    "last_order_at",
    "order_count",
    "total_spent",
    "created_at",
    "updated_at",
    "erased_at",
)
IMPORT_COLUMNS = (
    "name",
    "phone",
    "telegram_chat_id",
    "email",
    "birthday",
    "language",
    "timezone",
    "tier",
    "marketing_consent",
    "tags",
)

# Mostly Taiwan, then the diaspora and neighbours; Auckland and Los Angeles stretch the
# local date as far as it goes from UTC's on either side.
TIME_ZONES: tuple[tuple[str, float], ...] = (
    ("Asia/Taipei", 70),
    ("America/Los_Angeles", 6),
    ("Asia/Tokyo", 4),
    ("Asia/Hong_Kong", 4),
    ("Asia/Shanghai", 3),
    ("Asia/Singapore", 3),
    ("America/New_York", 3),
    ("America/Vancouver", 2),
    ("Europe/London", 2),
    ("Australia/Sydney", 2),
    ("Pacific/Auckland", 1),
)
ASIAN_ZONES = frozenset(name for name, _ in TIME_ZONES if name.startswith("Asia/"))
SURNAMES = (
    "陳林黃張李王吳劉蔡楊許鄭謝洪郭邱曾廖賴徐"
    "周葉蘇莊呂江何蕭羅高潘簡朱鍾彭游詹胡施沈"
    "余盧梁趙顏柯翁魏孫戴"
)
GIVEN_NAME_CHARACTERS = "家怡志明淑芬俊傑雅婷宗翰冠宇佳穎承恩書豪欣子涵柏宏美玲建雯信靜宜嘉慧文彥"
ENGLISH_FIRST_NAMES = (
    "Amy", "Brian", "Cindy", "David", "Emily", "Frank", "Grace", "Henry", "Irene", "Jason",
    "Kevin", "Linda", "Michael", "Nancy", "Oliver", "Peggy", "Ryan", "Sophia", "Tony", "Vivian",
)  # fmt: skip
ENGLISH_LAST_NAMES = (
    "Chen", "Lin", "Huang", "Chang", "Lee", "Wang", "Wu", "Liu", "Tsai", "Yang", "Smith",
    "Brown", "Taylor", "Wilson", "Nguyen", "Tanaka", "Kim", "Wong", "Ng", "Tan",
)  # fmt: skip
TAGS = ("newsletter", "wholesale", "taipei", "kaohsiung", "pets", "beauty", "3c", "gift")
FIRST_BIRTHDAY = date(1950, 1, 1).toordinal()
LAST_BIRTHDAY = date(2007, 12, 31).toordinal()
DAY = 86_400.0


class CustomerGenerator:
    """Customers in realistic proportions, as rows in `FILL_COLUMNS` order.

    Birthdays spread over every day of the year from 1950 to 2007 (so 29 February turns
    up about once in 1,461 customers) and one in ten unknown; about 60% have ordered, their
    last order spread evenly over three years before `now`; tiers follow money spent.
    """

    def __init__(self, seed: int, now: datetime) -> None:
        self.rng = random.Random(seed)
        self.now = now
        self.index = 0
        self.zone_names = [name for name, _ in TIME_ZONES]
        self.zone_weights = [weight for _, weight in TIME_ZONES]

    def batch(self, size: int) -> list[tuple[Any, ...]]:
        rng = self.rng
        now = self.now
        zones = rng.choices(self.zone_names, self.zone_weights, k=size)
        rows: list[tuple[Any, ...]] = []
        for zone_name in zones:
            self.index += 1
            english = rng.random() < (0.08 if zone_name in ASIAN_ZONES else 0.7)
            birthday = (
                date.fromordinal(rng.randint(FIRST_BIRTHDAY, LAST_BIRTHDAY))
                if rng.random() < 0.9
                else None
            )
            first_order_at: datetime | None = None
            last_order_at: datetime | None = None
            order_count = 0
            cents = 0
            if rng.random() < 0.6:
                last_order_at = now - timedelta(seconds=rng.random() * 3 * 365 * DAY)
                order_count = 1 + min(int(rng.expovariate(1 / 2.5)), 199)
                first_order_at = (
                    last_order_at - timedelta(seconds=rng.random() * 2 * 365 * DAY)
                    if order_count > 1
                    else last_order_at
                )
                cents = round(order_count * rng.lognormvariate(7.0, 0.8) * 100)
            created_at = (first_order_at or now) - timedelta(seconds=rng.random() * 365 * DAY)
            rows.append(
                (
                    self._name(english),
                    f"customer{self.index}@example.com" if rng.random() < 0.55 else None,
                    birthday,
                    birthday.month if birthday else None,
                    birthday.day if birthday else None,
                    Language.EN.value if english else Language.ZH_TW.value,
                    zone_name,
                    _tier(cents).value,
                    "prefers delivery in the morning" if rng.random() < 0.02 else None,
                    first_order_at,
                    last_order_at,
                    order_count,
                    Decimal(cents).scaleb(-2),
                    created_at,
                    last_order_at or created_at,
                    None,
                )
            )
        return rows

    def _name(self, english: bool) -> str:
        rng = self.rng
        if english:
            return f"{rng.choice(ENGLISH_FIRST_NAMES)} {rng.choice(ENGLISH_LAST_NAMES)}"
        given = "".join(rng.choices(GIVEN_NAME_CHARACTERS, k=2))
        return rng.choice(SURNAMES) + given


def _tier(cents: int) -> Tier:
    if cents >= 6_000_000:
        return Tier.VIP
    if cents >= 2_000_000:
        return Tier.GOLD
    if cents >= 600_000:
        return Tier.SILVER
    return Tier.STANDARD


def make_import_csv(rows: int, seed: int) -> str:
    """A customer CSV of `rows` new customers with distinct Taiwanese mobile numbers."""
    rng = random.Random(seed)
    generator = CustomerGenerator(seed + 1, datetime.now(UTC))
    # TW mobiles are 09[0-8] plus seven digits; 091 to 098 keeps clear of the odd 090s.
    mobiles = rng.sample(range(10_000_000, 90_000_000), rows)
    chat_ids = iter(rng.sample(range(100_000_000, 7_000_000_000), rows))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(IMPORT_COLUMNS)
    for mobile, customer in zip(mobiles, generator.batch(rows), strict=True):
        (name, email, birthday, _, _, language, zone_name, tier) = customer[:8]
        tags = ";".join(rng.sample(TAGS, k=rng.choice((0, 0, 0, 1, 1, 2))))
        writer.writerow(
            (
                name,
                f"09{mobile:08d}",
                next(chat_ids) if rng.random() < 0.3 else "",
                email or "",
                birthday.isoformat() if birthday else "",
                language,
                "" if zone_name == "Asia/Taipei" and rng.random() < 0.5 else zone_name,
                tier,
                "yes" if rng.random() < 0.65 else "no",
                tags,
            )
        )
    return out.getvalue()
