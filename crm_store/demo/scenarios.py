"""Complaint scenarios of the demo tickets, each in both languages.

A scenario gives the category, root cause, severity and the outcome the customer wants,
with the customer's description, the restated problem and the agreed action as
templates over `{product}` and `{number}` (the order).
"""

from __future__ import annotations

from dataclasses import dataclass

from crm_store.models import ComplaintCategory, DesiredOutcome


@dataclass(frozen=True)
class Scenario:
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


SCENARIOS = (
    Scenario(
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
    Scenario(
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
    Scenario(
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
    Scenario(
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
    Scenario(
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
    Scenario(
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
    Scenario(
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
