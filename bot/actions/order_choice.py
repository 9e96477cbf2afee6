"""Which of the customer's orders they mean (by number, product or month), and what the
bot says of one."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from decimal import Decimal

from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import Tracker

from bot.actions.context import Talk, catalogue
from crm_store.customers import recent_orders
from crm_store.models import Language, Order, OrderItem, OrderStatus
from crm_store.orders import find_order
from crm_store.time_text import format_date

# How many recent orders the bot looks through, and lists when it has to ask.
ORDERS_CONSIDERED = 10
ORDERS_LISTED = 4

_EN_MONTHS = (
    "jan",
    "feb",
    "mar",
    "apr",
    "may",
    "jun",
    "jul",
    "aug",
    "sep",
    "oct",
    "nov",
    "dec",
)
_EN_MONTH = re.compile(
    r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\b", re.IGNORECASE
)
_ZH_MONTH = re.compile(r"(十[一二]|[一二三四五六七八九十]|1[0-2]|0?[1-9])\s*月")
_ZH_NUMERALS = {"十一": 11, "十二": 12, **{c: i for i, c in enumerate("一二三四五六七八九十", 1)}}


def months_named(text: str) -> set[int]:
    """Months a customer names: 四月, 4月, June, in Sept."""
    months = {_EN_MONTHS.index(m.group(1).lower()[:3]) + 1 for m in _EN_MONTH.finditer(text)}
    for match in _ZH_MONTH.finditer(text):
        word = match.group(1)
        months.add(int(word) if word.isdigit() else _ZH_NUMERALS[word])
    return months


def own_order(current: Talk, number: str | None) -> Order | None:
    order = find_order(current.session, number) if number else None
    return order if order is not None and order.customer_id == current.customer.id else None


def orders_meant(current: Talk, text: str, *, excluding: Collection[str] = ()) -> list[Order]:
    """The customer's orders that `text` points to; empty when it names none."""
    mentions = catalogue().find(text)
    if mentions.order_numbers:
        found = (own_order(current, number) for number in mentions.order_numbers)
        return [order for order in found if order is not None]
    orders = recent_orders(current.session, current.customer.id, limit=ORDERS_CONSIDERED)
    products = {mention.product_id for mention in mentions.products} or _named_items(orders, text)
    months = months_named(text)
    if not products and not months:
        return []
    zone = current.settings.opening_hours.timezone
    return [
        order
        for order in orders
        if order.number not in excluding
        and (not products or any(item.product_id in products for item in order.items))
        and (not months or order.placed_at.astimezone(zone).month in months)
    ]


def _named_items(orders: Sequence[Order], text: str) -> set[int]:
    """Products of the customer's own orders named word for word (a product newer than
    the catalogue cache is still found)."""
    lowered = text.lower()
    return {
        item.product_id
        for order in orders
        for item in order.items
        if item.product.name_zh in text or item.product.name_en.lower() in lowered
    }


def recent(current: Talk, *, limit: int = ORDERS_LISTED) -> Sequence[Order]:
    return recent_orders(current.session, current.customer.id, limit=limit)


def product_names(current: Talk, order: Order | None, text: str) -> str:
    """The products the complaint is about: those named in it, else the order's."""
    items = items_meant(order, text) if order else []
    names = [
        item.product.name_en if current.language.value == "en" else item.product.name_zh
        for item in items
    ]
    return ", ".join(names[:3])


def items_meant(order: Order, text: str) -> list[OrderItem]:
    """The order's lines that `text` names; all of them when it names none."""
    mentioned = {mention.product_id for mention in catalogue().find(text).products}
    mentioned |= _named_items([order], text)
    return [item for item in order.items if item.product_id in mentioned] or list(order.items)


_COUNT_WORDS = {"one": 1, "two": 2, "three": 3, "一": 1, "兩": 2, "二": 2, "三": 3}
# "one of the two", "1 of them", "其中一個", "兩個破了": how many of an item are affected.
_COUNT = re.compile(
    r"\b(one|two|three|[1-9])\s+(of|out of)\b|其中\s*([一兩二三1-9])|"
    r"([一兩二三1-9])\s*(個|件|組|支|雙|盒|只|瓶|條|pcs?\b)(?!禮拜|月|星期|小時|工作天)",
    re.IGNORECASE,
)


def quantity_meant(item: OrderItem, text: str) -> int:
    """How many of `item` the complaint covers: a smaller count the customer gives, else
    the whole line."""
    counts = [
        int(word) if word.isdigit() else _COUNT_WORDS[word.lower()]
        for match in _COUNT.finditer(text)
        for word in [next(group for group in (match[1], match[3], match[4]) if group)]
    ]
    return min([item.quantity, *counts]) if counts else item.quantity


def lines_meant(order: Order, text: str) -> list[tuple[OrderItem, int]]:
    """The order's lines a complaint covers, each with how many of it."""
    return [(item, quantity_meant(item, text)) for item in items_meant(order, text)]


def amount_meant(order: Order, text: str) -> Decimal:
    """What a refund covers: the lines and quantities the customer named, else the order."""
    lines = lines_meant(order, text)
    if len(lines) == len(order.items) and all(n == item.quantity for item, n in lines):
        return order.total
    return sum((item.unit_price * quantity for item, quantity in lines), Decimal(0))


def order_label(current: Talk, order: Order) -> str:
    """``A1234567 · 4月12日（六） · 保鮮盒`` as a button's title."""
    zone = current.settings.opening_hours.timezone
    day = format_date(order.placed_at.astimezone(zone).date(), current.language)
    products = product_names(current, order, "")
    return " · ".join(part for part in (order.number, day, products) if part)


# Taiwan's carriers as an English reply names them.
CARRIERS_IN_ENGLISH = {
    "黑貓宅急便": "T-Cat (Yamato)",
    "新竹物流": "Hsinchu Transport (HCT)",
    "中華郵政": "Chunghwa Post",
    "宅配通": "Pelican Express",
    "嘉里大榮": "Kerry TJ Logistics",
    "7-11": "7-Eleven",
    "全家": "FamilyMart",
}


def carrier_name(carrier: str | None, language: Language) -> str:
    if not carrier:
        return ""
    return CARRIERS_IN_ENGLISH.get(carrier, carrier) if language is Language.EN else carrier


def say_status(dispatcher: CollectingDispatcher, current: Talk, order: Order) -> None:
    """The order's status; a response with a date only when the store has that date."""
    zone = current.settings.opening_hours.timezone
    response = f"utter_order_status_{order.status.value}"
    if order.status in (OrderStatus.PAID, OrderStatus.SHIPPED) and not order.expected_delivery:
        response += "_undated"
    dispatcher.utter_message(
        response=response,
        order_number=order.number,
        carrier=carrier_name(order.carrier, current.language),
        tracking_number=order.tracking_number or "",
        expected_delivery=format_date(order.expected_delivery, current.language)
        if order.expected_delivery
        else "",
        delivered_on=format_date(order.delivered_at.astimezone(zone).date(), current.language)
        if order.delivered_at
        else "",
    )


def order_in_question(current: Talk, tracker: Tracker) -> Order | None:
    """The order a message is about: the one it names (number, product, month), else
    the customer's most recent one."""
    text = str(tracker.latest_message.get("text") or "")
    meant = orders_meant(current, text)
    if meant:
        return meant[0]
    latest = recent(current, limit=1)
    return latest[0] if latest else None
