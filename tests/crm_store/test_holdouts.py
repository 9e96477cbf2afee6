"""Campaign holdouts through the campaign planner: who is held out, that they get
nothing, that a recurring campaign keeps its groups, and the uplift measured from orders."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store import campaigns
from crm_store.holdouts import (
    campaign_uplift,
    cumulative_conversions,
    hold_out,
    outreach_held_out,
    outreach_uplift,
)
from crm_store.models import (
    Coupon,
    Order,
    OrderStatus,
    OutboxMessage,
    OutreachHoldout,
    StaffRole,
)
from crm_store.orders import order_number
from crm_store.settings import Settings
from scheduler import outreach
from tests.crm_store.holdout_helpers import (
    NOW,
    campaign_to_all,
    held_out,
    marketers,
    messaged,
    shop,
)
from tests.factories import (
    lapsed_customers,
    make_staff,
    paid_orders,
)


def test_a_campaign_holds_out_its_share_of_each_tier_and_sends_them_nothing(
    session: Session,
) -> None:
    ids = shop(session, 400)
    campaign = campaign_to_all(session, holdout_percent=10)
    started = outreach.campaign.start_due(session, now=NOW, shop="小店")
    held, sent = held_out(session, campaign), messaged(session, campaign)
    assert started == {campaign.id: 360}
    assert len(held) == 40 and not held & sent and held | sent == set(ids)
    vips = set(ids[::4])
    assert len(held & vips) == 10  # a tenth of the 100 VIPs, as of the 300 others
    assert campaign.holdout_seed is not None


def test_the_same_seed_and_run_hold_out_the_same_customers(session: Session) -> None:
    ids = shop(session, 200)
    audience = dict.fromkeys(ids, "standard")
    first, second = (campaign_to_all(session, holdout_percent=20) for _ in range(2))
    first.holdout_seed = second.holdout_seed = 12345
    assert hold_out(session, first, audience, run=1, now=NOW) == hold_out(
        session, second, audience, run=1, now=NOW
    )
    third = campaign_to_all(session, holdout_percent=20)
    third.holdout_seed = 12345
    assert hold_out(session, third, audience, run=2, now=NOW) != held_out(session, first)


def test_a_recurring_campaign_keeps_each_customers_group_and_splits_newcomers(
    session: Session,
) -> None:
    ids = shop(session, 100)
    author, approver = marketers(session)
    campaign = campaigns.create(
        session,
        name="每週一",
        segment={},
        message_templates={"zh-TW": "本週新品"},
        send_at=NOW,
        recurrence="0 4 * * mon",
        by=author,
        now=NOW,
        holdout_percent=10,
    )
    campaigns.approve(session, campaign, by=approver, now=NOW)
    campaigns.schedule(session, campaign, by=author, now=NOW)
    assert outreach.campaign.start_due(session, now=NOW, shop="小店") == {campaign.id: 90}
    first_held, first_sent = held_out(session, campaign), messaged(session, campaign)
    newcomers = shop(session, 50)
    next_week = NOW + timedelta(days=7)
    assert outreach.campaign.start_due(session, now=next_week, shop="小店") == {campaign.id: 135}
    held = held_out(session, campaign)
    assert first_held <= held and not held & first_sent
    assert len(held - first_held) == 5 and held - first_held <= set(newcomers)
    assert len(held) == 15 and set(ids) | set(newcomers) == held | messaged(session, campaign)


def test_no_holdout_when_turned_off_and_none_beyond_half(session: Session) -> None:
    ids = shop(session, 50)
    campaign = campaign_to_all(session, holdout_percent=0)
    assert outreach.campaign.start_due(session, now=NOW, shop="小店") == {campaign.id: 50}
    assert held_out(session, campaign) == set() and messaged(session, campaign) == set(ids)
    assert campaign_uplift(session, campaign) is None
    assert cumulative_conversions(session, campaign) == []
    with pytest.raises(campaigns.CampaignError, match=r"between 0 .* and 50 per cent"):
        campaigns.create(
            session,
            name="太多",
            segment={},
            message_templates={"zh-TW": "hi"},
            send_at=NOW,
            recurrence=None,
            by=make_staff(session, "kai@shop.test", StaffRole.MARKETER),
            now=NOW,
            holdout_percent=60,
        )


def test_the_uplift_counts_orders_within_the_window_of_each_group(session: Session) -> None:
    shop(session, 1000)
    campaign = campaign_to_all(session, holdout_percent=20)
    outreach.campaign.start_due(session, now=NOW, shop="小店")
    held, sent = sorted(held_out(session, campaign)), sorted(messaged(session, campaign))
    assert len(held) == 200
    orders = Counter[int]()

    def buy(customer: int, days: float, total: int, status: OrderStatus = OrderStatus.PAID) -> None:
        orders[customer] += 1
        session.add(
            Order(
                number=order_number(sum(orders.values())),
                customer_id=customer,
                status=status,
                total=Decimal(total),
                placed_at=NOW + timedelta(days=days),
            )
        )

    for customer in sent[:80]:  # 10 % of the 800 sent order within the window
        buy(customer, 3, 1000)
    for customer in held[:10]:  # 5 % of the 200 held out, anyway
        buy(customer, 5, 1000)
    buy(sent[100], 15, 5000)  # after the 14 days: not the campaign's
    buy(sent[101], -1, 5000)  # before it
    buy(held[20], 2, 5000, OrderStatus.CANCELLED)  # never a sale
    buy(sent[0], 10, 500)  # a second order adds to the first
    session.flush()

    uplift = campaign_uplift(session, campaign)
    assert uplift is not None and uplift.conclusive
    assert (uplift.sent.customers, uplift.sent.converted) == (800, 80)
    assert (uplift.held_out.customers, uplift.held_out.converted) == (200, 10)
    assert uplift.conversion_difference == pytest.approx(0.05)
    assert uplift.revenue_difference == pytest.approx((80 * 1000 + 500) / 800 - 10_000 / 200)
    incremental = uplift.incremental_conversions
    assert incremental is not None and incremental[0] == pytest.approx(40)
    assert uplift.conversion_interval is not None and 0.05 in uplift.conversion_interval

    by_day = {(row.group, row.day): row.share for row in cumulative_conversions(session, campaign)}
    assert sorted(by_day) == [
        (group, day) for group in ("held_out", "messaged") for day in range(1, 15)
    ]
    assert [by_day["messaged", day] for day in (3, 4, 14)] == [0, 0.1, 0.1]
    assert [by_day["held_out", day] for day in (5, 6, 14)] == [0, 0.05, 0.05]


def messaged_by_key(session: Session, prefix: str) -> set[int]:
    return set(
        session.scalars(
            select(OutboxMessage.customer_id).where(
                OutboxMessage.idempotency_key.like(f"{prefix}%")
            )
        )
    )


def test_win_back_holds_out_its_share_asks_them_no_sooner_and_reports_the_uplift(
    session: Session,
) -> None:
    ids = lapsed_customers(session, 400, now=NOW)
    settings = Settings(_env_file=None, winback_holdout_percent=10)  # type: ignore[call-arg]
    queued = outreach.winback.plan(session, now=NOW, settings=settings)
    held = set(session.scalars(select(OutreachHoldout.customer_id)))
    sent = messaged_by_key(session, "winback:")
    assert queued == len(sent) and not held & sent and held | sent == set(ids)
    assert 20 <= len(held) <= 60  # about a tenth, drawn by each message's key
    assert not session.scalars(select(Coupon).where(Coupon.customer_id.in_(held))).all()
    # The next day nobody is asked again: the held out wait their turn like the rest.
    assert outreach.winback.plan(session, now=NOW + timedelta(days=1), settings=settings) == 0

    buyers = sorted(sent)[: len(sent) // 5] + sorted(held)[:1]
    paid_orders(session, buyers, total=1500, placed_at=NOW + timedelta(days=3), first_number=1_000)
    session.flush()
    uplift = outreach_uplift(
        session, "winback", since=NOW - timedelta(days=1), until=NOW + timedelta(days=1)
    )
    assert uplift is not None
    assert (uplift.sent.customers, uplift.held_out.customers) == (len(sent), len(held))
    assert (uplift.sent.converted, uplift.held_out.converted) == (len(sent) // 5, 1)


def test_birthdays_hold_no_one_out_unless_asked(session: Session) -> None:
    assert Settings(_env_file=None).birthday_holdout_percent == 0  # type: ignore[call-arg]
    [customer] = shop(session, 1)
    keys = [f"birthday:{customer}:{year}" for year in range(2000, 4000)]

    def decide(percent: int) -> list[bool]:
        return [
            outreach_held_out(
                session, kind="birthday", customer_id=customer, key=key, percent=percent, now=NOW
            )
            for key in keys
        ]

    assert not any(decide(0))
    first = decide(25)
    assert 400 <= sum(first) <= 600  # a quarter of the keys
    recorded = session.scalars(select(OutreachHoldout.key)).all()
    assert sorted(recorded) == sorted(key for key, held in zip(keys, first, strict=True) if held)
    assert decide(25) == first  # each key decides the same way, and is recorded once
    assert len(session.scalars(select(OutreachHoldout.key)).all()) == len(recorded)
