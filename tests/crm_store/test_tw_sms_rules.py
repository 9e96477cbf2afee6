"""Taiwan's SMS rules: the sender tag, the promotional quiet hours, registered links, and
what the sending rules make of them for Taiwanese numbers (and only for them)."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy.orm import Session

from crm_store.models import ChannelIdentity, MessagePurpose
from crm_store.sending_rules import SendingPolicy, Verdict, verdict
from crm_store.tw_sms_rules import (
    TAIPEI,
    TaiwanSms,
    link_refusal,
    links_in,
    one_way_footer,
    promotional_quiet_until,
    tagged,
    template_refusals,
)
from tests.factories import make_customer

RULES = TaiwanSms(shop_name="小島選物", allowed_links=("shop.example.tw/", "02-2345-6789"))
TAIWAN = SendingPolicy(taiwan=RULES)


def at(hour: int, minute: int = 0, day: int = 1) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=TAIPEI)


LUNCH = at(12, 45)


def test_the_sender_tag_comes_first_and_only_once() -> None:
    assert tagged("週末全館 9 折", shop_name="小島選物") == "【小島選物】週末全館 9 折"
    assert tagged("【小島選物】週末全館 9 折", shop_name="小島選物") == "【小島選物】週末全館 9 折"


@pytest.mark.parametrize(
    ("now", "until"),
    [
        (at(12, 29), None),
        (at(12, 30), at(13, 30)),
        (at(13, 29), at(13, 30)),
        (at(13, 30), None),
        (at(20, 59), None),
        (at(21, 0), at(9, 0, day=2)),
        (at(2, 15), at(9, 0)),
        (at(9, 0), None),
    ],
)
def test_promotions_wait_out_lunch_and_the_night_in_taipei(
    now: datetime, until: datetime | None
) -> None:
    assert promotional_quiet_until(now) == until


def test_links_and_phone_numbers_are_found_as_customers_write_them() -> None:
    text = "加 LINE lin.ee/AbC123 或打 0912-345-678，官網 https://shop.example.tw/sale?x=1。"
    assert links_in(text) == ["lin.ee/AbC123", "https://shop.example.tw/sale?x=1", "0912-345-678"]
    # Order numbers, prices, dates and codes are none of them.
    assert links_in("訂單 N0000001 NT$1,200，12/31 前輸入 WINTER2026 享 3.5 折") == []


def test_only_registered_links_and_numbers_pass() -> None:
    allowed = RULES.allowed_links
    assert link_refusal("詳情 https://www.shop.example.tw/sale/winter", allowed=allowed) is None
    assert link_refusal("call (02) 2345-6789 now", allowed=allowed) is None
    refusal = link_refusal("see shop.example.tw.evil.io or 0912345678", allowed=allowed)
    assert refusal == "not in SMS_ALLOWED_LINKS: shop.example.tw.evil.io, 0912345678"
    assert link_refusal("sale at https://shop.example.tw/", allowed=()) is not None


def test_the_preview_names_each_template_that_would_be_refused() -> None:
    templates = {
        "zh-TW": ["A 版 https://bit.ly/x", "B 版 shop.example.tw"],
        "en": "call 0912345678",
    }
    assert template_refusals(templates, rules=RULES, sms_recipients=3) == [
        "zh-TW: not in SMS_ALLOWED_LINKS: https://bit.ly/x",
        "en: not in SMS_ALLOWED_LINKS: 0912345678",
    ]
    assert template_refusals(templates, rules=RULES, sms_recipients=0) == []
    assert template_refusals(templates, rules=None, sms_recipients=3) == []


def test_the_one_way_footer_speaks_the_message_s_language() -> None:
    assert "LINE：@island" in one_way_footer("好的，已幫您查詢", line_id="@island")
    assert "on LINE: @island" in one_way_footer("Your order shipped", line_id="@island")


def test_promotional_sms_to_taiwan_is_held_at_lunch_and_refused_with_a_stray_link(
    session: Session,
) -> None:
    taiwanese = make_customer(session, phone="+886912500001").identities[0]
    abroad = make_customer(session, phone="+14155550101").identities[0]

    def decide(
        identity: ChannelIdentity,
        text: str,
        *,
        purpose: MessagePurpose = MessagePurpose.MARKETING,
        now: datetime = LUNCH,
        policy: SendingPolicy = TAIWAN,
    ) -> Verdict:
        return verdict(
            session,
            identity=identity,
            customer=identity.customer,
            purpose=purpose,
            now=now,
            policy=policy,
            text=text,
        )

    held = decide(taiwanese, "冬季特賣 8 折")
    assert (held.send, held.hold_until) == (False, at(13, 30))
    assert held.reason == "Taiwan's quiet hours for promotions"
    assert decide(taiwanese, "冬季特賣 8 折", now=at(14)).send
    refused = decide(taiwanese, "冬季特賣 https://bit.ly/x", now=at(14))
    assert (refused.send, refused.hold_until) == (False, None)
    assert refused.reason == "not in SMS_ALLOWED_LINKS: https://bit.ly/x"
    # Answers, other countries, and a shop without a Taiwanese provider are left alone.
    assert decide(taiwanese, "查詢 https://bit.ly/x", purpose=MessagePurpose.REPLY).send
    assert decide(abroad, "sale https://bit.ly/x").send
    assert decide(taiwanese, "冬季特賣 https://bit.ly/x", policy=SendingPolicy()).send
