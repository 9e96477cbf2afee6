"""Product names and order numbers found in messages, from the live catalogue."""

from __future__ import annotations

from decimal import Decimal

import jieba
import pytest
from sqlalchemy.orm import Session

from bot.actions.catalogue import CatalogueMatcher, Mentions
from crm_store.models import Product
from tests.bot.conftest import PRODUCTS, Catalogue
from tests.factories import make_product


@pytest.fixture
def matcher(session: Session, catalogue: Catalogue) -> CatalogueMatcher:
    return CatalogueMatcher.from_session(session)


# --- Chinese -----------------------------------------------------------------------


CHINESE = {
    "請問竹纖維浴巾還有貨嗎？": [("竹纖維浴巾", "竹纖維浴巾")],
    "陶瓷馬克杯收到就破了😭😭": [("陶瓷馬克杯", "陶瓷馬克杯")],
    # Alone jieba cuts 保 / 溫 / 杯, here 保 / 溫 / 杯子.
    "我的保溫杯子保溫效果很差!!": [("保溫杯", "保溫杯")],
    # Alone 面膜 is a word, here jieba would make 地面 / 膜.
    "我買的那盒地面膜沒收到": [("面膜", "面膜")],
    # A one-character name; jieba's HMM would glue 買傘了 into one word.
    "昨天買傘了，今天就壞了": [("傘", "傘")],
    "行動電源充不進電，可以換貨嗎？🙏": [("行動電源", "行動電源")],
    "保溫杯和竹纖維浴巾可以一起寄嗎？": [("保溫杯", "保溫杯"), ("竹纖維浴巾", "竹纖維浴巾")],
    "我的Power Bank跟保溫杯都壞了": [("行動電源", "Power Bank"), ("保溫杯", "保溫杯")],
    "magsafe磁吸充電器不能用": [("MagSafe 磁吸充電器", "magsafe磁吸充電器")],
    # Simplified spelling of a Traditional name.
    "请问保温杯还有货吗": [("保溫杯", "保温杯")],
}


def test_chinese_names_are_found_inside_sentences(
    catalogue: Catalogue, matcher: CatalogueMatcher
) -> None:
    assert {message: catalogue.named(matcher.find(message)) for message in CHINESE} == CHINESE


def test_offsets_point_into_the_original_message(matcher: CatalogueMatcher) -> None:
    message = "嗨～我的ＰＯＷＥＲ　ＢＡＮＫ和保溫杯蓋都壞了"

    found = matcher.find(message).products

    assert [(m.text, m.start, m.end) for m in found] == [
        ("ＰＯＷＥＲ　ＢＡＮＫ", 4, 14),
        ("保溫杯蓋", 15, 19),
    ]
    assert all(message[m.start : m.end] == m.text for m in found)


def test_building_a_matcher_leaves_the_process_wide_jieba_dictionary_alone(
    matcher: CatalogueMatcher,
) -> None:
    assert "浴巾" in jieba.dt.FREQ  # loaded, by spaCy's Chinese tokenizer
    assert "竹纖維浴巾" not in jieba.dt.FREQ


# --- English and SKUs --------------------------------------------------------------


ENGLISH = {
    "My BAMBOO BATH TOWEL arrived torn.": [("竹纖維浴巾", "BAMBOO BATH TOWEL")],
    "Two bamboo towels, please!": [("竹毛巾", "bamboo towels")],
    "Is the Ceramic Mug's glaze food-safe?": [("陶瓷馬克杯", "Ceramic Mug")],
    "All the glasses broke 😡": [("玻璃杯", "glasses")],
    "(power bank) won't charge": [("行動電源", "power bank")],
    "insulated bottle,bottle lid": [("保溫杯", "insulated bottle"), ("保溫杯蓋", "bottle lid")],
}


def test_english_names_are_found_whatever_the_case_with_plurals_and_punctuation(
    catalogue: Catalogue, matcher: CatalogueMatcher
) -> None:
    assert {message: catalogue.named(matcher.find(message)) for message in ENGLISH} == ENGLISH


def test_skus_are_found_in_any_case_and_glued_to_chinese(
    catalogue: Catalogue, matcher: CatalogueMatcher
) -> None:
    lid = catalogue.products["保溫杯蓋"]
    message = f"請問tw-bottle-500和{lid.sku.lower()}有現貨嗎"

    found = matcher.find(message).products

    assert [(m.sku, m.text) for m in found] == [
        ("TW-BOTTLE-500", "tw-bottle-500"),
        (lid.sku, lid.sku.lower()),
    ]


def test_words_that_merely_contain_a_name_are_not_products(matcher: CatalogueMatcher) -> None:
    messages = [
        "Do you sell towelettes?",
        "That was a mugshot",
        "bottleneck at the warehouse",
        "glassware",
        "powerbanking",
        "bamboo-towel",
    ]

    assert {message: matcher.find(message).products for message in messages} == {
        message: [] for message in messages
    }


# --- overlapping names -------------------------------------------------------------


OVERLAPPING = {
    "我上週買的保溫杯蓋子壞了": [("保溫杯蓋", "保溫杯蓋")],
    "竹纖維浴巾好吸水": [("竹纖維浴巾", "竹纖維浴巾")],
    "I'd like a Bamboo Bath Towel": [("竹纖維浴巾", "Bamboo Bath Towel")],
    "bath towel or bamboo towel?": [("浴巾", "bath towel"), ("竹毛巾", "bamboo towel")],
}


def test_the_longest_of_overlapping_names_wins(
    catalogue: Catalogue, matcher: CatalogueMatcher
) -> None:
    assert {
        message: catalogue.named(matcher.find(message)) for message in OVERLAPPING
    } == OVERLAPPING


def test_products_sharing_a_name_are_all_reported(session: Session, catalogue: Catalogue) -> None:
    bottle = catalogue.products["保溫杯"]
    twin = make_product(session, name_zh="保溫杯", name_en="Insulated Bottle 750 ml")

    found = CatalogueMatcher.from_session(session).find("保溫杯漏水").products

    assert [(m.product_id, m.text) for m in found] == [(bottle.id, "保溫杯"), (twin.id, "保溫杯")]


# --- order numbers -----------------------------------------------------------------


ORDER_NUMBERS = {
    "訂單A1234567還沒到": ["A1234567"],
    "單號a1002345": ["A1002345"],
    "訂單Ａ１２３４５６７": ["A1234567"],
    "a1234567、A7654321都沒到，a1234567也是": ["A1234567", "A7654321"],
    "order #a1234567,A7654321?": ["A1234567", "A7654321"],
    "A12345678 BA1234567 A123456 a1234567b 0912345678": [],
}


def test_order_numbers_are_found_glued_to_text_and_upper_cased() -> None:
    matcher = CatalogueMatcher([])

    assert {
        message: matcher.find(message).order_numbers for message in ORDER_NUMBERS
    } == ORDER_NUMBERS


def test_order_numbers_and_products_in_one_message(
    catalogue: Catalogue, matcher: CatalogueMatcher
) -> None:
    found = matcher.find("訂單a1234567的保溫杯蓋還沒到😡")

    assert catalogue.named(found) == [("保溫杯蓋", "保溫杯蓋")]
    assert found.order_numbers == ["A1234567"]


# --- the catalogue it is built from ------------------------------------------------


def test_inactive_products_are_ignored(matcher: CatalogueMatcher) -> None:
    assert matcher.find("香氛蠟燭 and the Scented Candle").products == []


def test_version_counts_active_products_and_their_latest_creation(
    catalogue: Catalogue, matcher: CatalogueMatcher
) -> None:
    newest = max(product.created_at for product in catalogue.products.values())

    assert matcher.version == (len(PRODUCTS), newest)


def test_an_empty_catalogue_still_finds_order_numbers(session: Session) -> None:
    matcher = CatalogueMatcher.from_session(session)

    assert matcher.find("保溫杯 A1234567") == Mentions(products=[], order_numbers=["A1234567"])
    assert matcher.version == (0, None)


def test_names_are_found_among_two_thousand_products(session: Session) -> None:
    colours = ["紅色", "藍色", "黑色", "白色", "粉紅", "墨綠", "奶茶色", "霧灰", "天藍", "象牙白"]
    materials = [
        "不鏽鋼",
        "竹纖維",
        "陶瓷",
        "玻璃",
        "矽膠",
        "純棉",
        "亞麻",
        "鈦合金",
        "木質",
        "羊毛",
    ]
    items = ["保溫杯", "浴巾", "馬克杯", "便當盒", "牙刷", "枕頭", "拖鞋", "背包", "雨傘", "餐墊"]
    items += ["筷子", "湯匙", "砧板", "鍋鏟", "圍裙", "毛毯", "收納盒", "檯燈", "香氛蠟燭", "吸管"]
    names = [
        f"{colour}{material}{item}"
        for colour in colours
        for material in materials
        for item in items
    ]
    session.add_all(
        Product(
            sku=f"BULK-{number:04d}",
            name_zh=name,
            name_en=f"Bulk Item {number}",
            category="bulk",
            price=Decimal(100),
        )
        for number, name in enumerate(names)
    )
    session.flush()
    matcher = CatalogueMatcher.from_session(session)

    found = matcher.find("請問墨綠竹纖維浴巾跟霧灰陶瓷馬克杯還有貨嗎？bulk item 1999 也要").products

    assert [(m.sku, m.text) for m in found] == [
        (f"BULK-{names.index('墨綠竹纖維浴巾'):04d}", "墨綠竹纖維浴巾"),
        (f"BULK-{names.index('霧灰陶瓷馬克杯'):04d}", "霧灰陶瓷馬克杯"),
        ("BULK-1999", "bulk item 1999"),
    ]
    assert matcher.version[0] == 2_000
