from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from crm_store.models import ComplaintCategory, Customer, DesiredOutcome, Language, Tier
from crm_store.policy import load_policy

policy = load_policy()


def test_bot_grants_only_allowed_outcomes_within_the_order_limit() -> None:
    def may(category: str, outcome: str, tier: Tier, value: str | None) -> bool:
        return policy.may_grant(
            category=ComplaintCategory(category),
            outcome=DesiredOutcome(outcome),
            tier=tier,
            order_value=None if value is None else Decimal(value),
        ).allowed

    assert may("delivery", "refund", Tier.STANDARD, "690")
    assert not may("delivery", "refund", Tier.STANDARD, "3500")  # above the standard limit
    assert may("delivery", "refund", Tier.GOLD, "3500")
    assert not may("delivery", "refund", Tier.VIP, "100")  # VIP: always a person
    assert not may("staff", "refund", Tier.STANDARD, "100")
    assert may("staff", "explanation", Tier.STANDARD, None)
    assert not may("quality", "replacement", Tier.STANDARD, None)  # needs an order


def test_due_dates_count_working_days() -> None:
    friday = date(2026, 11, 27)
    assert policy.due_date(DesiredOutcome.REFUND, start=friday) == date(2026, 12, 2)
    assert policy.due_date(DesiredOutcome.EXPLANATION, start=friday) == date(2026, 12, 1)


def test_severity_and_compensation_by_tier() -> None:
    assert policy.severity(ComplaintCategory.DELIVERY, "還沒到") == 1
    assert policy.severity(ComplaintCategory.DELIVERY, "箱子破了") == 2
    assert policy.severity(ComplaintCategory.QUALITY, "it's broken") == 3
    standard = policy.compensation_options(severity=1, tier=Tier.STANDARD)
    assert [(o.kind, o.value) for o in standard] == [
        ("coupon", Decimal(100)),
        ("free_shipping", Decimal(100)),
    ]
    assert len(policy.compensation_options(severity=3, tier=Tier.GOLD)) == 1
    assert policy.compensation_options(severity=1, tier=Tier.VIP) == []
    assert policy.label(standard[0], Language.ZH_TW) == "NT$100 購物金"
    assert policy.label(standard[0], Language.EN) == "NT$100 store credit"


@pytest.mark.parametrize(
    ("category", "text", "cause"),
    [
        ("delivery", "三天了還沒到", "courier_delay"),
        ("delivery", "箱子整個壓壞了", "packaging_damage"),
        ("delivery", "It was left at my neighbour's", "wrong_address"),
        ("billing", "I was charged twice", "duplicate_charge"),
        ("order", "寄錯顏色了", "wrong_item"),
        ("quality", "用沒多久就壞", "durability"),
    ],
)
def test_root_cause_from_the_complaint_words(category: str, text: str, cause: str) -> None:
    found = policy.cause(ComplaintCategory(category), text)
    assert found.name == cause
    assert found.phrases["zh-TW"] and found.phrases["en"]


def test_root_causes_list_every_cause_once_in_the_tables_order() -> None:
    causes = policy.root_causes
    assert causes[:5] == (
        "fulfilment_error",
        "changed_mind",
        "wrong_item",
        "missing_item",
        "courier_delay",
    )
    assert len(causes) == len(set(causes))
    for category in ComplaintCategory:
        assert policy.cause(category, "").name in causes  # each category's default


@pytest.mark.parametrize(
    ("tier", "spent", "high_value"),
    [
        (Tier.VIP, 0, True),  # VIPs always
        (Tier.STANDARD, 9_000, False),  # 9,000 a year: an estimated 27,000
        (Tier.STANDARD, 10_000, True),  # 10,000 a year: 30,000, the table's line
        (Tier.GOLD, 12_000, True),
    ],
)
def test_high_value_is_a_vip_or_a_lifetime_value_over_the_line(
    tier: Tier, spent: int, high_value: bool
) -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    customer = Customer(
        name="x",
        tier=tier,
        order_count=5 if spent else 0,
        total_spent=Decimal(spent),
        first_order_at=now - timedelta(days=365) if spent else None,
    )
    assert policy.high_value_from == Decimal(30_000)
    assert policy.is_high_value(customer, now=now) is high_value
