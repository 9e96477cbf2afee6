"""The demo shop's catalogue: kitchen, bath, bedding, home, outdoor goods and tea."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from crm_store.demo.context import HISTORY_DAYS, Demo
from crm_store.models import Product


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
PRODUCTS = (
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
DISCONTINUED_AFTER_DAYS = 150

# Used up rather than broken: no "it broke" complaints about these.
CONSUMABLES = frozenset(
    spec.sku for spec in PRODUCTS if spec.category == "tea" or spec.sku in ("BA-005", "BA-006")
)


def add_products(demo: Demo) -> list[Product]:
    """Add the catalogue, listed two months before the oldest order can be placed."""
    listed_at = demo.now - timedelta(days=HISTORY_DAYS + 60)
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
        for spec in PRODUCTS
    ]
    demo.session.add_all(products)
    return products
