"""What customers' words mean at one point of the script, as real customers write them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.actions.order_choice import months_named, quantity_meant
from bot.actions.phrases import (
    about_staff,
    asks_status,
    category_in,
    confirms,
    describes_problem,
    is_about_marketing,
    more_to_tell,
    no_order_meant,
    outcome_in,
    sounds_unhappy,
    story_is_told,
)
from crm_store.models import ComplaintCategory, DesiredOutcome, OrderItem


@pytest.mark.parametrize(
    "text",
    ["沒有了 謝謝", "沒了～", "就這樣吧", "差不多就這些", "that's it", "thats all thx", "nope",
     "ok", "Ok.", "no, that's everything", "nothing else", "嗯", "好的"],
)  # fmt: skip
def test_ordinary_ways_of_ending_the_story(text: str) -> None:
    assert story_is_told(text)


@pytest.mark.parametrize("text", ["yes", "yeah", "有", "還有", "one more thing"])
def test_a_bare_yes_means_there_is_more(text: str) -> None:
    assert more_to_tell(text) and not story_is_told(text)


@pytest.mark.parametrize(
    "text", ["the handle also came off", "而且客服都不回", "no one told me it was late"]
)
def test_more_of_the_story_is_neither(text: str) -> None:
    assert not story_is_told(text) and not more_to_tell(text)


@pytest.mark.parametrize(
    "text",
    ["that's it", "Yeah thats it!", "yep, that's right", "ya that's the one", "exactly",
     "yes exactly", "that's correct thx", "spot on", "就這樣", "對 就這樣", "沒錯！", "就是這樣～"],
)  # fmt: skip
def test_ways_of_saying_yes_to_is_that_right(text: str) -> None:
    assert confirms(text)


@pytest.mark.parametrize(
    "text",
    ["no that's it", "that's not it", "not exactly", "nope", "no, I said a refund",
     "that's it?? you got it wrong", "不是這樣", "不對 我要退款", "就這樣嗎"],
)  # fmt: skip
def test_a_no_or_a_correction_is_no_yes(text: str) -> None:
    assert not confirms(text)


@pytest.mark.parametrize(
    ("text", "outcome"),
    [
        ("多扣的錢退給我就好", DesiredOutcome.REFUND),
        ("just give me my money back", DesiredOutcome.REFUND),
        ("can u send the correct size instead", DesiredOutcome.REPLACEMENT),
        ("幫我換一雙新的", DesiredOutcome.REPLACEMENT),
        ("修好就可以了", DesiredOutcome.REPAIR),
        ("could you fix it", DesiredOutcome.REPAIR),
        ("我只想知道為什麼會這樣 給個交代", DesiredOutcome.EXPLANATION),
        ("whatever", None),
        ("refund or a new one, either", None),  # two outcomes: ask, do not guess
    ],
)
def test_the_outcome_in_the_customers_words(text: str, outcome: DesiredOutcome | None) -> None:
    assert outcome_in(text) is outcome


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("u charged my card 2x wtf", ComplaintCategory.BILLING),
        ("刷了兩次卡", ComplaintCategory.BILLING),
        ("parcel never came", ComplaintCategory.DELIVERY),
        ("東西到現在還沒到", ComplaintCategory.DELIVERY),
        ("the kettle stopped heating after a week", ComplaintCategory.QUALITY),
        ("杯子有裂痕", ComplaintCategory.QUALITY),
        ("the cashier rolled her eyes at me", ComplaintCategory.STAFF),
        ("hmm not great", ComplaintCategory.OTHER),
    ],
)
def test_the_category_from_the_words_when_the_model_cannot_tell(
    text: str, category: ComplaintCategory
) -> None:
    assert category_in(text) is category


def test_a_status_question_is_not_a_complaint_unless_something_is_wrong() -> None:
    assert asks_status("wheres my pillow order??")
    assert asks_status("我訂的檯燈出貨了沒")
    assert not asks_status("where's my order, it came broken")
    assert describes_problem("A1234567 到的時候盒子是破的")


def test_stop_is_an_opt_out_only_when_it_is_about_marketing() -> None:
    assert is_about_marketing("stop texting me promos")
    assert is_about_marketing("不要再傳廣告了")
    assert is_about_marketing("stop it")  # nothing about an order: the customer means us
    assert not is_about_marketing("訂單取消了吧？不會再寄過來了吧")
    assert not is_about_marketing("stop the order, i don't want it shipped")


def test_complaints_without_an_order() -> None:
    assert no_order_meant("the girl at your branch was rude")
    assert no_order_meant("門市店員很兇")
    assert not no_order_meant("my mug arrived chipped")
    assert about_staff("客服人員態度很差") and not about_staff("box was crushed")


def test_unhappy_in_both_languages() -> None:
    assert sounds_unhappy("seriously?? again 🙄")
    assert sounds_unhappy("傻眼 到底要等多久")
    assert not sounds_unhappy("hi, what time do you open")


def test_months_as_customers_name_them() -> None:
    assert months_named("不是 是四月買的那筆") == {4}
    assert months_named("the one from june, not sept") == {6, 9}
    assert months_named("12月的訂單") == {12}
    assert months_named("no month here") == set()


@pytest.mark.parametrize(
    ("text", "quantity"),
    [
        ("one of the two mugs came chipped", 1),
        ("買了三個杯子 其中一個破了", 1),
        ("兩個都破了", 2),
        ("the mugs are broken", 3),
        ("等了2個禮拜 杯子還是破的", 3),  # two weeks, not two mugs
    ],
)
def test_how_many_of_an_item_a_complaint_covers(text: str, quantity: int) -> None:
    assert quantity_meant(OrderItem(quantity=3, unit_price=Decimal(100)), text) == quantity
