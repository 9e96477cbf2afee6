"""A segment's JSON form: the round trip, and what a wrong one is told."""

from decimal import Decimal
from typing import Any

import pytest

from crm_store.models import (
    Channel,
    Tier,
)
from crm_store.segments import (
    SEGMENT_KEYS,
    Segment,
)


def test_from_dict_and_to_dict_round_trip() -> None:
    data = {
        "tiers": ["gold", "vip"],
        "languages": ["en"],
        "channels": ["sms", "telegram"],
        "birth_months": [1, 12],
        "tags": ["newsletter"],
        "ordered_within_days": 365,
        "lapsed_days": 90,
        "min_orders": 2,
        "min_total_spent": "1500.50",
        "min_rfm": 9,
    }
    segment = Segment.from_dict(data)
    assert segment.tiers == (Tier.GOLD, Tier.VIP)
    assert segment.channels == (Channel.SMS, Channel.TELEGRAM)
    assert segment.min_total_spent == Decimal("1500.50")
    assert segment.to_dict() == data
    assert Segment.from_dict(segment.to_dict()) == segment
    assert set(data) == set(SEGMENT_KEYS)
    assert Segment.from_dict({}).to_dict() == {}
    assert Segment.from_dict({"min_rfm": None, "tags": []}) == Segment()
    assert Segment.from_dict({"min_total_spent": 100}).min_total_spent == Decimal(100)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"tier": ["gold"]}, "unknown segment key 'tier'; allowed: tiers, languages, channels"),
        ({"tiers": ["platinum"]}, "unknown tier 'platinum'; allowed: standard, silver, gold, vip"),
        ({"tiers": "gold"}, "tiers must be a list"),
        ({"languages": ["zh-CN"]}, "unknown language 'zh-CN'; allowed: zh-TW, en"),
        ({"channels": ["email"]}, "unknown channel 'email'; allowed: telegram, sms, webchat"),
        (
            {"channels": ["webchat"]},
            "cannot be sent on channel 'webchat'; allowed: telegram, line, sms",
        ),
        ({"birth_months": [13]}, "birth month 13 is not a month number"),
        ({"birth_months": ["6"]}, "birth month '6' is not a month number"),
        ({"tags": [" "]}, "tag '' must be a text"),
        ({"tags": ["x" * 65]}, "must be a text of 1–64 characters"),
        ({"lapsed_days": -1}, "lapsed_days must be a whole number ≥ 0"),
        ({"ordered_within_days": "30"}, "ordered_within_days must be a whole number"),
        ({"min_orders": True}, "min_orders must be a whole number"),
        ({"min_orders": 1.5}, "min_orders must be a whole number"),
        ({"min_total_spent": "lots"}, "min_total_spent must be an amount"),
        ({"min_total_spent": "-5"}, "min_total_spent must be an amount ≥ 0"),
        ({"min_total_spent": "NaN"}, "min_total_spent must be an amount ≥ 0"),
        ({"min_rfm": 2}, "min_rfm must be a whole number 3–15"),
        ({"min_rfm": 16}, "min_rfm must be a whole number 3–15"),
        ({"ordered_within_days": 30, "lapsed_days": 60}, "no customer can have ordered within"),
    ],
)
def test_from_dict_explains_what_is_wrong(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as raised:
        Segment.from_dict(data)
    assert message in str(raised.value)


def test_from_dict_refuses_what_is_not_an_object() -> None:
    with pytest.raises(ValueError, match="must be a JSON object, not list"):
        Segment.from_dict(["tiers"])  # type: ignore[arg-type]


def test_direct_construction_is_checked_too() -> None:
    with pytest.raises(ValueError, match="unknown tier 'gold'"):
        Segment(tiers=("gold",))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="min_total_spent must be an amount"):
        Segment(min_total_spent=5)  # type: ignore[arg-type]
