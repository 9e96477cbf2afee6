"""Reading what customers ask of their personal data, as they write it, in both
languages; and leaving everything else to the bot."""

from __future__ import annotations

import pytest

from channels.privacy_phrases import PrivacyRequest, privacy_requests

OPT_OUT, ACCESS = PrivacyRequest.OPT_OUT, PrivacyRequest.ACCESS
CORRECTION, DELETION = PrivacyRequest.CORRECTION, PrivacyRequest.DELETION


@pytest.mark.parametrize(
    "text",
    [
        "退訂",
        "我要退訂",
        "不要再傳了",
        "別再發廣告了",
        "不要再寄廣告給我",
        "请不要再发短信给我",  # Simplified
        "不要再通知我了啦",
        "廣告太多了，不要再傳了",
        "STOP",
        "Stop!!",
        "stop sending me this",
        "unsubscribe pls",
        "Please stop texting me",
        "don't text me again",
        "no more ads pls",
        "remove me from your list",
        "how do i unsubscribe",
        "請不要再傳了 很煩",
        "把我從名單移除",
        "幫我關閉優惠通知",
        "please stop contacting me",
        "no ads please",
        "ur ads are annoying. stop sending me this",
    ],
)
def test_a_refusal_of_marketing_is_an_opt_out(text: str) -> None:
    assert privacy_requests(text) == [OPT_OUT]


@pytest.mark.parametrize(
    "text",
    [
        "我想取消訂單",
        "我要取消",
        "取消",
        "不要再寄錯了",  # about a parcel
        "先不要寄",
        "我不要了",
        "不用了謝謝",
        "退訂機票",
        "有什麼優惠嗎",
        "不用優惠券嗎",
        "請問營業時間",
        "stop my order",
        "I can't stop laughing",
        "I'll stop by the store tomorrow",
        "your ads are great, dont stop lol",
        "no thanks",
        "no",
        "I want to cancel my order",
        "stop, wrong item again",
        "請問活動取消了嗎",
        "先停一下",
        "no more questions",
    ],
)
def test_other_words_about_stopping_or_cancelling_go_to_the_bot(text: str) -> None:
    assert privacy_requests(text) == []


@pytest.mark.parametrize(
    ("text", "asked"),
    [
        ("你們有我什麼資料", ACCESS),
        ("我的個資可以給我看嗎", ACCESS),
        ("我想查我的資料", ACCESS),
        ("what info do u have on me", ACCESS),
        ("what do you know about me?", ACCESS),
        ("can i get a copy of my personal data", ACCESS),
        ("我的生日登記錯了 要改", CORRECTION),
        ("我的手機號碼換了，幫我更新一下", CORRECTION),
        ("你們有我的個資嗎", ACCESS),
        ("pls correct my email", CORRECTION),
        ("my birthday is wrong", CORRECTION),
        ("幫我刪掉我的資料", DELETION),
        ("把我的個資全部刪除", DELETION),
        ("删除我的资料", DELETION),  # Simplified
        ("delete my data pls", DELETION),
        ("erase my account", DELETION),
        ("forget me", DELETION),
    ],
)
def test_data_requests_are_read_in_both_languages(text: str, asked: PrivacyRequest) -> None:
    assert privacy_requests(text) == [asked]


@pytest.mark.parametrize(
    "text",
    [
        "我想改訂單的地址",
        "我的訂單資料好像錯了",
        "can i change my order",
        "my order number is wrong",
        "update my delivery address",
        "刪除購物車的商品",
        "what do you have on sale",
        "my name is Amy",
        "invoice sent to the wrong email",
        "電話留錯了 要改",  # the order's phone: the bot changes the order
        "個資是不是外洩了 有人打來說是你們",  # a complaint
        "你們給我的資料有錯",
    ],
)
def test_questions_about_orders_are_not_data_requests(text: str) -> None:
    assert privacy_requests(text) == []


def test_a_refusal_and_a_deletion_in_one_message_are_both_acted_on() -> None:
    assert privacy_requests("不要再傳廣告了，把我的資料刪掉") == [OPT_OUT, DELETION]
    assert privacy_requests("stop texting me. delete my data") == [OPT_OUT, DELETION]
