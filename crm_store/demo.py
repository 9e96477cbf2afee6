"""Demo data: a bilingual Taiwanese lifestyle and home-goods online shop.

`load_demo_data` fills an empty store with a catalogue, customers (about three in four
writing in Traditional Chinese, the rest in English), their Telegram and SMS identities
with consent and opt-outs, two years of orders and a handful of complaint tickets at
every stage of the service-recovery script. Everything is derived from the seed and
the clock passed in, never from the wall clock, so the same seed and `now` give the
same shop: demos, screenshots and tests can rely on it.

Some customers are placed on purpose so that every outreach flow has someone to talk
to: a few have their birthday today in their own time zone, about three in ten buyers
have lapsed, some never ordered, a few opted out or cannot be reached.
"""

from __future__ import annotations

import calendar
import math
import random
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import phonenumbers
from faker import Faker
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.customers import birthday_matches, zone
from crm_store.models import (
    Channel,
    ChannelIdentity,
    ComplaintCategory,
    Customer,
    CustomerTag,
    DesiredOutcome,
    Language,
    Order,
    OrderStatus,
    Product,
    Ticket,
    TicketStatus,
    TicketStep,
    Tier,
)
from crm_store.orders import record_order
from crm_store.phones import InvalidPhoneNumber, normalize_phone

__all__ = ["DemoSummary", "load_demo_data", "store_has_customers"]

TAIPEI = "Asia/Taipei"
LAPSED_DAYS = 180
HISTORY_DAYS = 730


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


# --- catalogue ----------------------------------------------------------------------


@dataclass(frozen=True)
class _ProductSpec:
    sku: str
    name_zh: str
    name_en: str
    category: str
    price: int
    weight: int
    active: bool = True


# Names share words (保溫, 竹, 竹纖維, 天絲, 檜木, 陶瓷, 茶 / Insulated, Bamboo, Tencel,
# Hinoki, Ceramic, Tea) so that matching a product named in a chat is not trivial.
_PRODUCTS = (
    _ProductSpec(
        "KT-001", "不鏽鋼保溫杯 500ml", "Stainless Insulated Bottle 500ml", "kitchen", 690, 9
    ),
    _ProductSpec(
        "KT-002", "不鏽鋼保溫杯 750ml", "Stainless Insulated Bottle 750ml", "kitchen", 890, 6
    ),
    _ProductSpec("KT-003", "保溫便當盒", "Insulated Lunch Box", "kitchen", 780, 5),
    _ProductSpec("KT-004", "陶瓷馬克杯", "Ceramic Mug", "kitchen", 380, 7),
    _ProductSpec("KT-005", "陶瓷飯碗（2入）", "Ceramic Rice Bowls (set of 2)", "kitchen", 420, 4),
    _ProductSpec("KT-006", "竹製砧板", "Bamboo Cutting Board", "kitchen", 550, 4),
    _ProductSpec("KT-007", "竹製筷子（5雙）", "Bamboo Chopsticks (5 pairs)", "kitchen", 199, 6),
    _ProductSpec(
        "KT-008", "玻璃保鮮盒（3入）", "Glass Food Containers (set of 3)", "kitchen", 650, 5
    ),
    _ProductSpec("KT-009", "手沖咖啡濾杯", "Pour-over Coffee Dripper", "kitchen", 480, 3),
    _ProductSpec("KT-010", "鑄鐵平底鍋 24cm", "Cast Iron Skillet 24cm", "kitchen", 1680, 2),
    _ProductSpec(
        "KT-011", "琺瑯手沖壺", "Enamel Pour-over Kettle", "kitchen", 1280, 2, active=False
    ),
    _ProductSpec("BA-001", "竹纖維毛巾", "Bamboo Fibre Towel", "bath", 290, 10),
    _ProductSpec("BA-002", "竹纖維浴巾", "Bamboo Fibre Bath Towel", "bath", 690, 6),
    _ProductSpec(
        "BA-003", "竹炭牙刷（4入）", "Bamboo Charcoal Toothbrushes (4 pack)", "bath", 220, 7
    ),
    _ProductSpec("BA-004", "珪藻土地墊", "Diatomite Bath Mat", "bath", 590, 5),
    _ProductSpec("BA-005", "天然手工皂", "Natural Handmade Soap", "bath", 180, 8),
    _ProductSpec("BA-006", "茶樹精油洗髮精", "Tea Tree Shampoo", "bath", 420, 4),
    _ProductSpec(
        "BD-001", "天絲床包組（雙人）", "Tencel Fitted Sheet Set (Double)", "bedding", 2480, 3
    ),
    _ProductSpec("BD-002", "天絲枕頭套（2入）", "Tencel Pillowcases (pair)", "bedding", 680, 4),
    _ProductSpec("BD-003", "記憶枕", "Memory Foam Pillow", "bedding", 1280, 3),
    _ProductSpec("BD-004", "涼感被", "Cooling Summer Quilt", "bedding", 1580, 3),
    _ProductSpec("BD-005", "羊毛毯", "Wool Blanket", "bedding", 2280, 2),
    _ProductSpec("HM-001", "檜木香氛蠟燭", "Hinoki Scented Candle", "home", 680, 5),
    _ProductSpec("HM-002", "檜木擴香瓶", "Hinoki Reed Diffuser", "home", 750, 4),
    _ProductSpec("HM-003", "藤編收納籃", "Rattan Storage Basket", "home", 890, 3),
    _ProductSpec("HM-004", "棉麻抱枕套", "Linen Cushion Cover", "home", 450, 4),
    _ProductSpec("HM-005", "木質 LED 桌燈", "Wooden LED Desk Lamp", "home", 1380, 2),
    _ProductSpec("HM-006", "除濕盒（6入）", "Dehumidifier Boxes (6 pack)", "home", 299, 6),
    _ProductSpec("OD-001", "摺疊購物袋", "Foldable Shopping Bag", "outdoor", 250, 6),
    _ProductSpec("OD-002", "保溫保冷袋", "Insulated Cooler Bag", "outdoor", 590, 3),
    _ProductSpec("OD-003", "輕量摺疊傘", "Lightweight Folding Umbrella", "outdoor", 590, 5),
    _ProductSpec("TE-001", "阿里山高山茶 150g", "Alishan High Mountain Oolong 150g", "tea", 850, 7),
    _ProductSpec("TE-002", "日月潭紅茶 100g", "Sun Moon Lake Black Tea 100g", "tea", 650, 6),
    _ProductSpec("TE-003", "冷泡茶包（20入）", "Cold Brew Tea Bags (20 pack)", "tea", 380, 6),
)

# A discontinued product appears only in orders older than this.
_DISCONTINUED_AFTER_DAYS = 150


# --- addresses ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Street:
    postcode: str
    city_zh: str
    district_zh: str
    street_zh: str
    city_en: str
    district_en: str
    street_en: str
    weight: int


# postcode | city | district | street | the same in English | weight (most live up north)
_TAIWAN_STREETS_TABLE = """
100|臺北市|中正區|重慶南路一段|Taipei City|Zhongzheng Dist.|Sec. 1, Chongqing S. Rd.|3
100|臺北市|中正區|羅斯福路二段|Taipei City|Zhongzheng Dist.|Sec. 2, Roosevelt Rd.|3
106|臺北市|大安區|復興南路一段|Taipei City|Da'an Dist.|Sec. 1, Fuxing S. Rd.|3
106|臺北市|大安區|和平東路二段|Taipei City|Da'an Dist.|Sec. 2, Heping E. Rd.|3
106|臺北市|大安區|敦化南路二段|Taipei City|Da'an Dist.|Sec. 2, Dunhua S. Rd.|2
110|臺北市|信義區|松仁路|Taipei City|Xinyi Dist.|Songren Rd.|2
110|臺北市|信義區|基隆路一段|Taipei City|Xinyi Dist.|Sec. 1, Keelung Rd.|3
104|臺北市|中山區|中山北路二段|Taipei City|Zhongshan Dist.|Sec. 2, Zhongshan N. Rd.|3
104|臺北市|中山區|南京東路三段|Taipei City|Zhongshan Dist.|Sec. 3, Nanjing E. Rd.|3
114|臺北市|內湖區|成功路四段|Taipei City|Neihu Dist.|Sec. 4, Chenggong Rd.|2
114|臺北市|內湖區|內湖路一段|Taipei City|Neihu Dist.|Sec. 1, Neihu Rd.|2
220|新北市|板橋區|文化路一段|New Taipei City|Banqiao Dist.|Sec. 1, Wenhua Rd.|3
220|新北市|板橋區|中山路一段|New Taipei City|Banqiao Dist.|Sec. 1, Zhongshan Rd.|3
231|新北市|新店區|北新路二段|New Taipei City|Xindian Dist.|Sec. 2, Beixin Rd.|3
234|新北市|永和區|永和路二段|New Taipei City|Yonghe Dist.|Sec. 2, Yonghe Rd.|2
234|新北市|永和區|竹林路|New Taipei City|Yonghe Dist.|Zhulin Rd.|2
330|桃園市|桃園區|中正路|Taoyuan City|Taoyuan Dist.|Zhongzheng Rd.|2
330|桃園市|桃園區|復興路|Taoyuan City|Taoyuan Dist.|Fuxing Rd.|2
320|桃園市|中壢區|中央西路二段|Taoyuan City|Zhongli Dist.|Sec. 2, Zhongyang W. Rd.|3
300|新竹市|東區|光復路二段|Hsinchu City|East Dist.|Sec. 2, Guangfu Rd.|2
300|新竹市|東區|關新路|Hsinchu City|East Dist.|Guanxin Rd.|1
403|臺中市|西區|臺灣大道二段|Taichung City|West Dist.|Sec. 2, Taiwan Blvd.|2
403|臺中市|西區|公益路|Taichung City|West Dist.|Gongyi Rd.|2
407|臺中市|西屯區|市政路|Taichung City|Xitun Dist.|Shizheng Rd.|2
407|臺中市|西屯區|河南路二段|Taichung City|Xitun Dist.|Sec. 2, Henan Rd.|2
700|臺南市|中西區|民生路二段|Tainan City|West Central Dist.|Sec. 2, Minsheng Rd.|2
700|臺南市|中西區|海安路二段|Tainan City|West Central Dist.|Sec. 2, Haian Rd.|1
800|高雄市|新興區|中山一路|Kaohsiung City|Xinxing Dist.|Zhongshan 1st Rd.|3
804|高雄市|鼓山區|美術東二路|Kaohsiung City|Gushan Dist.|Meishu E. 2nd Rd.|2
804|高雄市|鼓山區|明誠四路|Kaohsiung City|Gushan Dist.|Mingcheng 4th Rd.|1
970|花蓮縣|花蓮市|中山路|Hualien County|Hualien City|Zhongshan Rd.|1
"""


def _parse_streets(table: str) -> tuple[_Street, ...]:
    streets = []
    for line in table.strip().splitlines():
        postcode, city_zh, district_zh, street_zh, city_en, district_en, street_en, weight = (
            line.split("|")
        )
        streets.append(
            _Street(
                postcode,
                city_zh,
                district_zh,
                street_zh,
                city_en,
                district_en,
                street_en,
                int(weight),
            )
        )
    return tuple(streets)


_TAIWAN_STREETS = _parse_streets(_TAIWAN_STREETS_TABLE)
_TAIWAN_STREET_WEIGHTS = [street.weight for street in _TAIWAN_STREETS]

_LONDON_STREETS = (
    ("Camden Road", "NW1 9HX"),
    ("Upper Street", "N1 2XE"),
    ("Brick Lane", "E1 6QL"),
    ("Kensington High Street", "W8 5SE"),
    ("Clapham Road", "SW9 0JG"),
    ("Old Kent Road", "SE1 5AQ"),
)
_TOKYO_AREAS = (
    ("Jingumae", "Shibuya-ku", "150-0001"),
    ("Nishi-Shinjuku", "Shinjuku-ku", "160-0023"),
    ("Meguro", "Meguro-ku", "153-0063"),
    ("Kichijoji Honcho", "Musashino-shi", "180-0004"),
    ("Yanaka", "Taito-ku", "110-0001"),
)
_LA_ZIPS = ("90012", "90026", "90027", "90034", "90042", "90064")


# --- people, channels and time zones ------------------------------------------------

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
_ZONE_REGION = {"America/Los_Angeles": "US", "Europe/London": "GB", "Asia/Tokyo": "JP"}

# National significant number: (leading digits to pick from, total length).
_MOBILE_PLANS = {
    "TW": (tuple(f"9{digit}" for digit in range(9)), 9),
    "US": (("213", "310", "323", "424", "626", "818"), 10),
    "GB": (("74", "75", "77", "78", "79"), 10),
    "JP": (("70", "80", "90"), 10),
}
_MOBILE_TYPES = (
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
)

_UNREACHABLE_REASONS = {
    Channel.SMS: (
        "Twilio 30003: unreachable destination handset",
        "Twilio 30005: unknown destination handset",
    ),
    Channel.TELEGRAM: ("Telegram 403: bot was blocked by the user",),
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

# Local hour an order is placed at: quiet at night, busy at lunch and in the evening.
_HOURS = list(range(24))
_HOUR_WEIGHTS = [1, 1, 0.5, 0.2, 0.2, 0.3, 0.5, 1, 2, 3, 3, 3, 5, 4, 3, 3, 3, 3, 3, 4, 6, 7, 6, 3]

_CARRIERS = ("黑貓宅急便", "新竹物流", "中華郵政")
_CARRIER_WEIGHTS = (50, 30, 20)


# --- complaints ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Scenario:
    category: ComplaintCategory
    root_cause: str
    severity: int
    outcome: DesiredOutcome
    description_zh: str
    description_en: str
    summary_zh: str
    summary_en: str
    action_zh: str
    action_en: str
    durables_only: bool = False


_SCENARIOS = (
    _Scenario(
        ComplaintCategory.DELIVERY,
        "courier_delay",
        2,
        DesiredOutcome.EXPLANATION,
        "我訂的{product}（訂單{number}）說隔天會到，等了好幾天還沒收到，物流一直顯示配送中。"
        "這是要送人的禮物，真的很著急。",
        "My {product} (order {number}) was supposed to arrive the next day. Days later "
        "tracking still says it is out for delivery, and it is a gift, so I am worried.",
        "訂單{number}的{product}延遲送達，顧客擔心趕不上送禮。",
        "{product} on order {number} is late; the customer needs it for a gift.",
        "聯絡物流追件並回報；若明天仍未送達，立即補寄並退還運費。",
        "Chase the courier and report back; if it is not delivered by tomorrow, send a "
        "replacement at once and refund the shipping.",
    ),
    _Scenario(
        ComplaintCategory.QUALITY,
        "packaging_damage",
        2,
        DesiredOutcome.REPLACEMENT,
        "收到{product}的時候外箱整個被壓扁，裡面的商品也有凹痕，打開的時候很失望。",
        "The {product} arrived with the box crushed and the item inside dented. "
        "Really disappointing.",
        "{product}到貨時外箱壓損、商品凹陷（訂單{number}）。",
        "{product} arrived crushed and dented (order {number}).",
        "補寄全新商品，並安排物流到府收回破損品。",
        "Send a new one and arrange for the courier to collect the damaged item.",
    ),
    _Scenario(
        ComplaintCategory.ORDER,
        "wrong_item",
        2,
        DesiredOutcome.REPLACEMENT,
        "我訂的是{product}，打開包裹卻是別的商品，訂單號碼{number}，麻煩盡快處理。",
        "I ordered the {product} but the parcel had something else in it (order {number}). "
        "Please sort this out.",
        "訂單{number}寄錯商品，顧客應收到{product}。",
        "Wrong item sent on order {number}; the customer ordered the {product}.",
        "寄出正確的{product}，同時到府收回寄錯的商品，運費由我們負擔。",
        "Ship the right {product} and collect the wrong item; we pay the shipping.",
    ),
    _Scenario(
        ComplaintCategory.BILLING,
        "billing_error",
        2,
        DesiredOutcome.REFUND,
        "訂單{number}我的信用卡被扣了兩次款，客服信箱寄信也沒人回，請幫我處理。",
        "I was charged twice for order {number} and nobody answered my email. Please fix it.",
        "訂單{number}信用卡重複扣款。",
        "Duplicate card charge on order {number}.",
        "退還重複扣款，三到五個工作天內入帳，退款後以簡訊通知。",
        "Refund the duplicate charge, which shows within 3 to 5 business days, and text "
        "the customer once it is done.",
    ),
    _Scenario(
        ComplaintCategory.STAFF,
        "staff_attitude",
        3,
        DesiredOutcome.EXPLANATION,
        "打電話詢問{product}的退貨，客服口氣很不耐煩，還說是我自己用錯，讓人很不舒服。",
        "I called about returning the {product} and the person on the phone was impatient "
        "and told me it was my own fault. I felt very badly treated.",
        "顧客詢問{product}退貨時，電話客服態度不佳。",
        "Phone staff were rude when the customer asked about returning the {product}.",
        "由店長親自回電致歉，並協助完成{product}退貨。",
        "The store manager calls back to apologise and completes the return of the {product}.",
    ),
    _Scenario(
        ComplaintCategory.QUALITY,
        "product_defect",
        2,
        DesiredOutcome.REFUND,
        "{product}才用了兩次就壞了，品質跟網站上的描述差很多。",
        "The {product} broke the second time I used it; the quality is nothing like the "
        "description.",
        "{product}使用兩次即故障（訂單{number}）。",
        "{product} broke on its second use (order {number}).",
        "全額退款{product}，商品不需寄回。",
        "Full refund for the {product}; no need to send it back.",
        durables_only=True,
    ),
    _Scenario(
        ComplaintCategory.ORDER,
        "missing_item",
        1,
        DesiredOutcome.REPLACEMENT,
        "訂單{number}少寄了{product}，包裹裡只有其他東西。",
        "Order {number} arrived without the {product}; everything else was there.",
        "訂單{number}缺少{product}。",
        "Order {number} arrived without the {product}.",
        "補寄缺少的{product}，明天出貨。",
        "Send the missing {product}; it ships tomorrow.",
    ),
)

# Used up rather than broken: no "it broke" complaints about these.
_CONSUMABLES = frozenset(
    spec.sku for spec in _PRODUCTS if spec.category == "tea" or spec.sku in ("BA-005", "BA-006")
)

_STAFF = ("staff:陳雅婷", "staff:林志明", "staff:Kevin Lin")


# --- the loader ---------------------------------------------------------------------


@dataclass
class _Profile:
    customer: Customer
    zone: ZoneInfo
    address: str
    abroad: bool
    buyer: bool
    lapsed: bool
    recent: bool
    gift_buyer: bool = False


@dataclass
class _PlannedOrder:
    profile: _Profile
    placed_at: datetime
    lines: list[tuple[Product, int]]
    address: str
    international: bool


@dataclass
class _Built:
    order: Order
    profile: _Profile


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
    builder = _Builder(session, rng, fake_zh, fake_en, now, region)
    return builder.build(customers)


class _Builder:
    def __init__(
        self,
        session: Session,
        rng: random.Random,
        fake_zh: Faker,
        fake_en: Faker,
        now: datetime,
        region: str,
    ) -> None:
        self.session = session
        self.rng = rng
        self.fake = {Language.ZH_TW: fake_zh, Language.EN: fake_en}
        self.now = now
        self.region = region
        self.used_addresses: dict[Channel, set[str]] = {Channel.SMS: set(), Channel.TELEGRAM: set()}
        self.used_tracking: set[str] = set()
        self.used_coupons: set[str] = set()

    # -- orchestration --

    def build(self, count: int) -> DemoSummary:
        products = self._products()
        profiles = self._customers(count)
        built = self._orders(profiles, products)
        self._tiers_and_tags(profiles)
        # Tickets refer to customers by id, which the database hands out.
        self.session.flush()
        tickets = self._tickets(built)
        return DemoSummary(
            customers=len(profiles),
            products=len(products),
            orders=len(built),
            birthdays_today=sum(1 for profile in profiles if self._birthday_today(profile)),
            lapsed=sum(
                1
                for profile in profiles
                if profile.customer.last_order_at is not None
                and profile.customer.last_order_at <= self.now - timedelta(days=LAPSED_DAYS)
            ),
            opted_out=sum(
                1
                for profile in profiles
                if any(identity.opted_out for identity in profile.customer.identities)
            ),
            tickets=tickets,
        )

    def _birthday_today(self, profile: _Profile) -> bool:
        customer = profile.customer
        if customer.birth_month is None or customer.birth_day is None:
            return False
        today = self.now.astimezone(profile.zone).date()
        return birthday_matches(customer.birth_month, customer.birth_day, today)

    # -- catalogue --

    def _products(self) -> list[Product]:
        listed_at = self.now - timedelta(days=HISTORY_DAYS + 60)
        products = [
            Product(
                sku=spec.sku,
                name_zh=spec.name_zh,
                name_en=spec.name_en,
                category=spec.category,
                price=Decimal(spec.price),
                active=spec.active,
                created_at=listed_at,
            )
            for spec in _PRODUCTS
        ]
        self.session.add_all(products)
        return products

    # -- customers --

    def _customers(self, count: int) -> list[_Profile]:
        rng = self.rng
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

        profiles: list[_Profile] = []
        for index in indices:
            language = Language.ZH_TW if rng.random() < 0.75 else Language.EN
            zone_names = _ZONES[language]
            zone_name = rng.choices(
                [name for name, _ in zone_names], [weight for _, weight in zone_names]
            )[0]
            customer_zone = zone(zone_name)
            customer = self._customer(language, zone_name)
            if index in birthday_today:
                customer.set_birthday(self._birthday_on(self.now.astimezone(customer_zone).date()))
            elif index in leap_born:
                customer.set_birthday(self._leap_birthday())
            elif rng.random() < 0.9:
                customer.set_birthday(self._random_birthday())
            abroad = zone_name != TAIPEI
            profile = _Profile(
                customer=customer,
                zone=customer_zone,
                address=self._address(language, zone_name),
                abroad=abroad,
                buyer=index not in no_orders,
                lapsed=index in lapsed,
                recent=index in recent,
            )
            self._identities(profile, opted_out=index in opted_out)
            if index in unreachable:
                self._make_unreachable(profile)
            profiles.append(profile)
            self.session.add(customer)
        return profiles

    def _customer(self, language: Language, zone_name: str) -> Customer:
        fake = self.fake[language]
        if language is Language.ZH_TW:
            name = str(fake.name())
            email = str(fake.email())
        else:
            first, last = str(fake.first_name()), str(fake.last_name())
            name = f"{first} {last}"
            handle = f"{first}.{last}".lower().replace("'", "")
            suffix = str(self.rng.randint(1, 99)) if self.rng.random() < 0.4 else ""
            email = f"{handle}{suffix}@example.{self.rng.choice(('com', 'net', 'org'))}"
        notes = self.rng.choice(_NOTES[language]) if self.rng.random() < 0.05 else None
        return Customer(
            name=name,
            email=email if self.rng.random() < 0.6 else None,
            language=language,
            timezone=zone_name,
            tier=Tier.STANDARD,
            notes=notes,
            order_count=0,
            total_spent=Decimal(0),
        )

    def _random_birthday(self) -> date:
        age = round(self.rng.triangular(18, 75, 34))
        year = self.now.year - age
        days = 366 if calendar.isleap(year) else 365
        return date(year, 1, 1) + timedelta(days=self.rng.randrange(days))

    def _leap_birthday(self) -> date:
        leap_years = [
            year for year in range(self.now.year - 70, self.now.year - 18) if year % 4 == 0
        ]
        return date(self.rng.choice(leap_years), 2, 29)

    def _birthday_on(self, today: date) -> date:
        age = round(self.rng.triangular(19, 70, 33))
        if (today.month, today.day) == (2, 29):
            age += -age % 4  # keep the birth year a leap year too
        return today.replace(year=today.year - age)

    # -- addresses --

    def _address(self, language: Language, zone_name: str) -> str:
        rng = self.rng
        if zone_name == "America/Los_Angeles":
            street = str(self.fake[Language.EN].street_address())
            return f"{street}, Los Angeles, CA {rng.choice(_LA_ZIPS)}, USA"
        if zone_name == "Europe/London":
            street, postcode = rng.choice(_LONDON_STREETS)
            return f"{rng.randint(2, 240)} {street}, London {postcode}, United Kingdom"
        if zone_name == "Asia/Tokyo":
            area, ward, postcode = rng.choice(_TOKYO_AREAS)
            block = f"{rng.randint(1, 6)}-{rng.randint(1, 30)}-{rng.randint(1, 20)}"
            return f"{block} {area}, {ward}, Tokyo {postcode}, Japan"
        return self._taiwan_address(language)

    def _taiwan_address(self, language: Language) -> str:
        rng = self.rng
        street = rng.choices(_TAIWAN_STREETS, _TAIWAN_STREET_WEIGHTS)[0]
        lane = rng.randint(2, 300) if rng.random() < 0.45 else None
        number = rng.randint(1, 320)
        floor = rng.randint(2, 15) if rng.random() < 0.8 else None
        if language is Language.ZH_TW:
            lane_zh = f"{lane}巷" if lane else ""
            floor_zh = f"{floor}樓" if floor else ""
            return (
                f"{street.postcode}{street.city_zh}{street.district_zh}"
                f"{street.street_zh}{lane_zh}{number}號{floor_zh}"
            )
        parts = [f"{floor}F." if floor else "", f"No. {number}", f"Ln. {lane}" if lane else ""]
        head = ", ".join(part for part in parts if part)
        return (
            f"{head}, {street.street_en}, {street.district_en}, {street.city_en} "
            f"{street.postcode}, Taiwan (R.O.C.)"
        )

    # -- channels --

    def _identities(self, profile: _Profile, *, opted_out: bool) -> None:
        rng = self.rng
        customer = profile.customer
        local_region = _ZONE_REGION.get(customer.timezone)
        phone: str | None = None
        if profile.abroad and local_region is not None:
            draw = rng.random()
            if draw < 0.6:
                phone = self._mobile(local_region)
            elif draw < 0.9:
                phone = self._mobile(self.region)
        elif rng.random() < 0.92:
            phone = self._mobile(self.region)
        wants_telegram = rng.random() < (0.5 if customer.language is Language.ZH_TW else 0.7)
        if phone is not None:
            customer.identities.append(self._identity(Channel.SMS, phone, None))
        if wants_telegram or phone is None:
            chat_id = self._unique(Channel.TELEGRAM, lambda: str(rng.randint(10**8, 8 * 10**9)))
            display = (
                customer.name.split(" ")[0]
                if customer.language is Language.EN
                else (customer.name[1:] if len(customer.name) > 2 else customer.name)
            )
            customer.identities.append(self._identity(Channel.TELEGRAM, chat_id, display))
        consent = rng.random() < 0.85
        for identity in customer.identities:
            identity.marketing_consent = consent and not opted_out
            if opted_out:
                identity.opted_out = True

    def _identity(
        self, channel: Channel, address: str, display_name: str | None
    ) -> ChannelIdentity:
        return ChannelIdentity(
            channel=channel,
            address=address,
            display_name=display_name,
            marketing_consent=False,
            opted_out=False,
            reachable=True,
        )

    def _unique(self, channel: Channel, make: Callable[[], str]) -> str:
        used = self.used_addresses[channel]
        while True:
            value = make()
            if value not in used:
                used.add(value)
                return value

    def _mobile(self, region: str) -> str:
        prefixes, length = self._mobile_plan(region)
        country_code = phonenumbers.country_code_for_region(region)
        rng = self.rng

        def make() -> str:
            for _ in range(200):
                prefix = rng.choice(prefixes)
                nsn = prefix + "".join(
                    rng.choice(string.digits) for _ in range(length - len(prefix))
                )
                raw = f"+{country_code}{nsn}"
                if phonenumbers.number_type(phonenumbers.parse(raw)) not in _MOBILE_TYPES:
                    continue
                try:
                    return normalize_phone(raw, self.region)
                except InvalidPhoneNumber:
                    continue
            raise ValueError(f"cannot make valid mobile numbers for region {region!r}")

        return self._unique(Channel.SMS, make)

    @staticmethod
    def _mobile_plan(region: str) -> tuple[tuple[str, ...], int]:
        plan = _MOBILE_PLANS.get(region)
        if plan is not None:
            return plan
        example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        if example is None:
            raise ValueError(f"cannot make valid mobile numbers for region {region!r}")
        nsn = str(phonenumbers.national_significant_number(example))
        return (nsn[:2],), len(nsn)

    def _make_unreachable(self, profile: _Profile) -> None:
        identity = self.rng.choice(profile.customer.identities)
        identity.reachable = False
        identity.unreachable_reason = self.rng.choice(_UNREACHABLE_REASONS[identity.channel])

    # -- orders --

    def _orders(self, profiles: Sequence[_Profile], products: Sequence[Product]) -> list[_Built]:
        rng = self.rng
        weights = [spec.weight for spec in _PRODUCTS]
        planned: list[_PlannedOrder] = []
        for profile in profiles:
            ages = self._order_ages(profile) if profile.buyer else []
            placed: list[datetime] = []
            for age in ages:
                placed_at = self._placed_at(self.now - timedelta(days=age), profile.zone)
                lines = self._lines(products, weights, placed_at)
                gift = rng.random() < 0.1
                profile.gift_buyer = profile.gift_buyer or (gift and not profile.abroad)
                address = (
                    self._taiwan_address(profile.customer.language) if gift else profile.address
                )
                international = profile.abroad and not gift and rng.random() < 0.7
                if profile.abroad and not international and not gift:
                    address = self._taiwan_address(profile.customer.language)
                planned.append(_PlannedOrder(profile, placed_at, lines, address, international))
                placed.append(placed_at)
            self._dates(profile, placed)

        planned.sort(key=lambda order: order.placed_at)
        number = 1_000_000 + rng.randint(0, 40_000)
        built: list[_Built] = []
        for plan in planned:
            number += rng.randint(1, 6)
            order = self._record(plan, f"A{number:07d}")
            built.append(_Built(order, plan.profile))
        return built

    def _order_ages(self, profile: _Profile) -> list[float]:
        """Ages in days of a buyer's orders; the first is the newest."""
        rng = self.rng
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
        rng = self.rng
        local = moment.astimezone(customer_zone)
        hour = rng.choices(_HOURS, _HOUR_WEIGHTS)[0]
        placed = local.replace(
            hour=hour, minute=rng.randrange(60), second=rng.randrange(60), microsecond=0
        ).astimezone(UTC)
        if placed > self.now - timedelta(minutes=5):
            placed = self.now - timedelta(minutes=rng.randint(5, 240))
        return placed

    def _lines(
        self, products: Sequence[Product], weights: Sequence[int], placed_at: datetime
    ) -> list[tuple[Product, int]]:
        rng = self.rng
        available = placed_at < self.now - timedelta(days=_DISCONTINUED_AFTER_DAYS)
        wanted = rng.choices((1, 2, 3), (60, 28, 12))[0]
        chosen: list[Product] = []
        while len(chosen) < wanted:
            product = rng.choices(products, weights)[0]
            if product in chosen or not (product.active or available):
                continue
            chosen.append(product)
        return [(product, rng.choices((1, 2, 3, 4), (80, 15, 4, 1))[0]) for product in chosen]

    def _dates(self, profile: _Profile, placed: Sequence[datetime]) -> None:
        """Sign-up and identity dates: before the first order, or any time for non-buyers."""
        rng = self.rng
        customer = profile.customer
        if placed:
            created = min(placed) - timedelta(minutes=rng.randint(5, 60 * 24 * 45))
        else:
            created = self.now - timedelta(minutes=rng.randint(60, 60 * 24 * HISTORY_DAYS))
        customer.created_at = created
        customer.updated_at = max([created, *placed])
        headroom = int((self.now - created).total_seconds() // 60) - 1
        for identity in customer.identities:
            identity.created_at = created + timedelta(minutes=rng.randint(0, min(30, headroom)))
            identity.consent_changed_at = (
                identity.created_at if identity.marketing_consent else None
            )
            since = max(1, int((self.now - identity.created_at).total_seconds() // 60))
            if identity.opted_out:
                identity.opted_out_at = identity.created_at + timedelta(
                    minutes=rng.randint(1, since)
                )
                identity.consent_changed_at = identity.opted_out_at
            if identity.channel is Channel.TELEGRAM:
                identity.last_seen_at = self.now - timedelta(
                    minutes=rng.randint(0, min(since, 60 * 24 * 120) - 1)
                )

    def _record(self, plan: _PlannedOrder, number: str) -> Order:
        rng = self.rng
        card = rng.random() < 0.75
        paid_at = plan.placed_at + (
            timedelta(minutes=rng.randint(1, 10))
            if card
            else timedelta(minutes=rng.randint(30, 60 * 36))
        )
        old = plan.placed_at < self.now - timedelta(days=4)
        details: dict[str, object] = {"shipping_address": plan.address}
        if old and rng.random() < 0.03:
            return record_order(
                self.session,
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
            expected = _taipei_date(shipped_at) + timedelta(days=7)
            delivered_at = shipped_at + timedelta(hours=rng.randint(4 * 24, 9 * 24))
        else:
            carrier = rng.choices(_CARRIERS, _CARRIER_WEIGHTS)[0]
            tracking = self._tracking(carrier, international=False)
            expected = _taipei_date(shipped_at) + timedelta(days=2 if carrier == "中華郵政" else 1)
            late = rng.random() < 0.04
            delivered_at = shipped_at + timedelta(
                hours=rng.randint(3 * 24, 6 * 24) if late else rng.randint(14, 44)
            )
        if delivered_at <= self.now:
            returned = delivered_at < self.now - timedelta(days=10) and rng.random() < 0.02
            status = OrderStatus.RETURNED if returned else OrderStatus.DELIVERED
        elif shipped_at <= self.now:
            status = OrderStatus.SHIPPED
        elif paid_at <= self.now:
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
            self.session,
            customer=plan.profile.customer,
            number=number,
            placed_at=plan.placed_at,
            lines=plan.lines,
            status=status,
            **details,
        )

    def _tracking(self, carrier: str, *, international: bool) -> str:
        rng = self.rng

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

    # -- tiers and tags --

    def _tiers_and_tags(self, profiles: Sequence[_Profile]) -> None:
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

    # -- complaints --

    def _tickets(self, built: Sequence[_Built]) -> int:
        rng = self.rng
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
        return (self.now - moment).total_seconds() / 86400

    def _ticket(self, entry: _Built, status: TicketStatus) -> None:
        rng = self.rng
        order, customer = entry.order, entry.profile.customer
        product = rng.choice(order.items).product
        if order.status is OrderStatus.SHIPPED or _late(order):
            scenario = _SCENARIOS[0]
        elif order.shipped_at is None:
            scenario = next(item for item in _SCENARIOS if item.root_cause == "billing_error")
        else:
            scenario = rng.choice(
                [
                    item
                    for item in _SCENARIOS[1:]
                    if not item.durables_only or product.sku not in _CONSUMABLES
                ]
            )
        zh = customer.language is Language.ZH_TW
        fields = {"product": product.name_zh if zh else product.name_en, "number": order.number}
        anchor = _anchor(order)
        # Open tickets' steps so far take minutes, so they all lie before `now`.
        latest = self.now - timedelta(hours=1)
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
            ticket.action_due = _taipei_date(ticket.steps[4].done_at) + timedelta(
                days=rng.randint(1, 3)
            )
            kind, value = self._compensation(severity, customer.tier)
            ticket.compensation_kind = kind
            ticket.compensation_value = value
            if kind == "coupon":
                ticket.coupon_code = self._coupon()
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
        self.session.add(ticket)

    def _compensation(self, severity: int, tier: Tier) -> tuple[str, Decimal]:
        """A kind and value of compensation, more for worse trouble and better customers."""
        if severity >= 3 or tier in (Tier.VIP, Tier.GOLD):
            return "coupon", Decimal(500 if severity >= 3 else 300)
        if self.rng.random() < 0.3:
            return "gift", Decimal(290)  # a bamboo fibre towel, at its price
        if self.rng.random() < 0.3:
            return "shipping_refund", Decimal(100)
        return "coupon", Decimal(100 * severity)

    def _coupon(self) -> str:
        alphabet = string.ascii_uppercase + string.digits
        while True:
            code = "SORRY-" + "".join(self.rng.choice(alphabet) for _ in range(6))
            if code not in self.used_coupons:
                self.used_coupons.add(code)
                return code


def _late(order: Order) -> bool:
    """Whether `order` was delivered after the day it was expected."""
    return (
        order.delivered_at is not None
        and order.expected_delivery is not None
        and _taipei_date(order.delivered_at) > order.expected_delivery
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


def _taipei_date(moment: datetime) -> date:
    return moment.astimezone(zone(TAIPEI)).date()


def _s10_check_digit(serial: str) -> int:
    """The UPU S10 check digit of an eight-digit item serial (EMS tracking numbers)."""
    total = sum(
        int(digit) * weight for digit, weight in zip(serial, (8, 6, 4, 2, 3, 5, 9, 7), strict=True)
    )
    check = 11 - total % 11
    return {10: 0, 11: 5}.get(check, check)
