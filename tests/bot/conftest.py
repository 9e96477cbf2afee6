"""A small live catalogue (names that overlap, an inactive product) for the catalogue tests,
and the store the action tests run on."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.actions.catalogue import Mentions
from bot.actions.context import use_store
from crm_store.models import Product
from tests.factories import make_product

# name_zh, name_en, sku (None: the factory's)
PRODUCTS = [
    ("保溫杯", "Insulated Bottle", "TW-BOTTLE-500"),
    ("保溫杯蓋", "Bottle Lid", None),
    ("浴巾", "Bath Towel", None),
    ("竹纖維浴巾", "Bamboo Bath Towel", None),
    ("竹毛巾", "Bamboo Towel", None),
    ("陶瓷馬克杯", "Ceramic Mug", None),
    ("面膜", "Face Mask", None),
    ("行動電源", "Power Bank", None),
    ("傘", "Umbrella", None),
    ("玻璃杯", "Glass", None),
    ("MagSafe 磁吸充電器", "MagSafe Charger", None),
]


@dataclass
class Catalogue:
    products: dict[str, Product]

    def named(self, found: Mentions) -> list[tuple[str, str]]:
        """(the product's Chinese name, the words the customer used) of each mention."""
        by_id = {product.id: product for product in self.products.values()}
        return [(by_id[mention.product_id].name_zh, mention.text) for mention in found.products]


@pytest.fixture
def catalogue(session: Session) -> Catalogue:
    products = {
        name_zh: make_product(session, name_zh=name_zh, name_en=name_en, sku=sku)
        for name_zh, name_en, sku in PRODUCTS
    }
    candle = make_product(session, name_zh="香氛蠟燭", name_en="Scented Candle")
    candle.active = False
    session.commit()
    return Catalogue(products)


@pytest.fixture
def store(session_factory: sessionmaker[Session]) -> Iterator[sessionmaker[Session]]:
    """The test's database as the store the actions use (`use_store`), for the test only."""
    use_store(session_factory)
    yield session_factory
    use_store(None)
