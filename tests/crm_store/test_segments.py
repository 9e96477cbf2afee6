"""Who a segment reaches: each filter, the audience's order and language, and which identity."""

import random
from datetime import date
from typing import Any

import pytest
from sqlalchemy.orm import Session

from crm_store.analytics import rfm_scores
from crm_store.models import (
    Channel,
    ChannelIdentity,
    Customer,
    Language,
    Tier,
)
from crm_store.segments import (
    Recipient,
    Segment,
    audience,
)
from tests.crm_store.segment_people import NOW, Reach, person


def names(session: Session, recipients: list[Recipient]) -> list[str]:
    by_id = {c.id: c.name for c in session.query(Customer)}
    return [by_id[r.customer_id] for r in recipients]


def selected(session: Session, segment: dict[str, Any]) -> list[str]:
    return names(session, audience(session, Segment.from_dict(segment), now=NOW))


@pytest.fixture
def people(session: Session) -> dict[str, Customer]:
    """Four reachable customers that differ on every filter, and two never selected."""
    return {
        "amy": person(
            session,
            "amy",
            Reach(Channel.TELEGRAM),
            Reach(Channel.SMS),
            tier=Tier.GOLD,
            language=Language.EN,
            birthday=date(1990, 6, 15),
            tags=("newsletter",),
            orders=5,
            spent="5000",
            last_order_days_ago=10,
        ),
        "bo": person(
            session,
            "bo",
            Reach(Channel.SMS),
            birthday=date(1985, 12, 1),
            orders=1,
            spent="300",
            last_order_days_ago=400,
        ),
        "cai": person(
            session,
            "cai",
            Reach(Channel.TELEGRAM),
            tier=Tier.VIP,
            tags=("wholesale", "vip-event"),
            orders=12,
            spent="20000",
            last_order_days_ago=100,
        ),
        "dan": person(
            session,
            "dan",
            Reach(Channel.SMS),
            tier=Tier.SILVER,
            language=Language.EN,
            birthday=date(2000, 6, 30),
        ),
        # Erased: matches much, never selected, and not ranked for RFM.
        "erased": person(
            session,
            "erased",
            Reach(Channel.TELEGRAM),
            tier=Tier.GOLD,
            tags=("newsletter",),
            orders=50,
            spent="99999",
            last_order_days_ago=1,
            erased=True,
        ),
        # Reachable only for service messages.
        "no_consent": person(session, "no_consent", Reach(Channel.SMS, consent=False)),
    }


@pytest.mark.parametrize(
    ("segment", "expected"),
    [
        ({}, ["amy", "bo", "cai", "dan"]),
        ({"tiers": ["gold", "vip"]}, ["amy", "cai"]),
        ({"tiers": ["standard"]}, ["bo"]),
        ({"languages": ["en"]}, ["amy", "dan"]),
        ({"languages": ["zh-TW"]}, ["bo", "cai"]),
        ({"channels": ["telegram"]}, ["amy", "cai"]),
        ({"channels": ["sms"]}, ["amy", "bo", "dan"]),
        ({"birth_months": [6]}, ["amy", "dan"]),
        ({"birth_months": [6, 12]}, ["amy", "bo", "dan"]),
        ({"tags": ["vip-event"]}, ["cai"]),
        ({"tags": ["newsletter", "wholesale"]}, ["amy", "cai"]),
        ({"tags": [" wholesale "]}, ["cai"]),
        ({"tags": ["nobody"]}, []),
        # Exactly 100 days ago counts as both "within 100" and "lapsed 100".
        ({"ordered_within_days": 30}, ["amy"]),
        ({"ordered_within_days": 100}, ["amy", "cai"]),
        ({"lapsed_days": 100}, ["bo", "cai"]),
        ({"lapsed_days": 101}, ["bo"]),
        ({"min_orders": 5}, ["amy", "cai"]),
        ({"min_orders": 1}, ["amy", "bo", "cai"]),
        ({"min_total_spent": "5000"}, ["amy", "cai"]),
        ({"min_total_spent": "5000.01"}, ["cai"]),
        # Recency, frequency and money all rank bo < amy < cai: totals 3, 11, 13.
        ({"min_rfm": 3}, ["amy", "bo", "cai"]),
        ({"min_rfm": 11}, ["amy", "cai"]),
        ({"min_rfm": 12}, ["cai"]),
        ({"min_rfm": 14}, []),
        # Combined filters must all hold.
        ({"languages": ["zh-TW"], "min_orders": 1, "lapsed_days": 50}, ["bo", "cai"]),
        ({"languages": ["zh-TW"], "lapsed_days": 50, "tags": ["wholesale"]}, ["cai"]),
        ({"tiers": ["gold", "silver"], "birth_months": [6], "channels": ["sms"]}, ["amy", "dan"]),
        ({"tiers": ["gold", "silver"], "birth_months": [6], "min_orders": 1}, ["amy"]),
        ({"ordered_within_days": 200, "lapsed_days": 50, "min_rfm": 13}, ["cai"]),
        ({"languages": ["en"], "tags": ["wholesale"]}, []),
    ],
)
def test_each_filter_alone_and_combined(
    session: Session, people: dict[str, Customer], segment: dict[str, Any], expected: list[str]
) -> None:
    assert selected(session, segment) == expected


def test_audience_is_ordered_by_customer_id_with_the_customers_language(
    session: Session, people: dict[str, Customer]
) -> None:
    recipients = audience(session, Segment(), now=NOW)
    assert [r.customer_id for r in recipients] == sorted(
        people[name].id for name in ("amy", "bo", "cai", "dan")
    )
    assert {names(session, [r])[0]: r.language for r in recipients} == {
        "amy": Language.EN,
        "bo": Language.ZH_TW,
        "cai": Language.ZH_TW,
        "dan": Language.EN,
    }


def test_service_messages_need_no_marketing_consent(
    session: Session, people: dict[str, Customer]
) -> None:
    recipients = audience(session, Segment(), now=NOW, marketing=False)
    assert names(session, recipients) == ["amy", "bo", "cai", "dan", "no_consent"]


def identity_of(customer: Customer, recipient: Recipient) -> ChannelIdentity:
    assert recipient.customer_id == customer.id
    (identity,) = [i for i in customer.identities if i.id == recipient.identity_id]
    assert identity.channel == recipient.channel
    return identity


@pytest.mark.parametrize(
    ("reach", "chosen"),
    [
        # Telegram is preferred when both are usable.
        ((Reach(Channel.SMS), Reach(Channel.TELEGRAM)), Channel.TELEGRAM),
        # Telegram is unusable for marketing in each of three ways.
        ((Reach(Channel.SMS), Reach(Channel.TELEGRAM, consent=False)), Channel.SMS),
        ((Reach(Channel.SMS), Reach(Channel.TELEGRAM, opted_out=True)), Channel.SMS),
        ((Reach(Channel.SMS), Reach(Channel.TELEGRAM, reachable=False)), Channel.SMS),
        ((Reach(Channel.SMS, opted_out=True), Reach(Channel.TELEGRAM)), Channel.TELEGRAM),
        # Nothing usable: left out.
        ((Reach(Channel.SMS, consent=False), Reach(Channel.TELEGRAM, opted_out=True)), None),
        ((Reach(Channel.SMS, reachable=False),), None),
        ((Reach(Channel.WEBCHAT),), None),
        ((), None),
    ],
)
def test_identity_choice_for_marketing(
    session: Session, reach: tuple[Reach, ...], chosen: Channel | None
) -> None:
    customer = person(session, "x", *reach)
    recipients = audience(session, Segment(), now=NOW)
    if chosen is None:
        assert recipients == []
    else:
        (recipient,) = recipients
        assert identity_of(customer, recipient).channel == chosen


def test_segment_channels_set_the_preference(session: Session) -> None:
    customer = person(session, "x", Reach(Channel.TELEGRAM), Reach(Channel.SMS))
    for channels, expected in (
        (("sms", "telegram"), Channel.SMS),
        (("telegram", "sms"), Channel.TELEGRAM),
        (("sms",), Channel.SMS),
    ):
        (recipient,) = audience(session, Segment.from_dict({"channels": channels}), now=NOW)
        assert identity_of(customer, recipient).channel == expected


def test_service_messages_still_respect_opt_out_and_reachability(session: Session) -> None:
    customer = person(
        session,
        "x",
        Reach(Channel.TELEGRAM, consent=False, opted_out=True),
        Reach(Channel.SMS, consent=False, reachable=False),
        Reach(Channel.SMS, consent=False),
    )
    (recipient,) = audience(session, Segment(), now=NOW, marketing=False)
    assert recipient.identity_id == customer.identities[2].id
    assert audience(session, Segment(), now=NOW) == []


def test_the_oldest_of_two_identities_on_a_channel_wins(session: Session) -> None:
    customer = person(session, "x", Reach(Channel.SMS), Reach(Channel.SMS))
    (recipient,) = audience(session, Segment(), now=NOW)
    assert recipient == Recipient(
        customer.id, min(i.id for i in customer.identities), Channel.SMS, Language.ZH_TW
    )


def test_one_recipient_per_customer_with_many_identities(session: Session) -> None:
    first = person(session, "a", Reach(Channel.SMS), Reach(Channel.TELEGRAM), Reach(Channel.SMS))
    second = person(session, "b", Reach(Channel.TELEGRAM), Reach(Channel.TELEGRAM))
    recipients = audience(session, Segment(), now=NOW)
    assert [(r.customer_id, r.channel) for r in recipients] == [
        (first.id, Channel.TELEGRAM),
        (second.id, Channel.TELEGRAM),
    ]
    assert recipients[1].identity_id == second.identities[0].id


def test_min_rfm_matches_analytics_rfm_scores(session: Session) -> None:
    """The SQL cut-offs must pick exactly whom `rfm_scores` scores that high, ties and all."""
    rng = random.Random(20260601)
    spends = ["99.90", "100.00", "100.10", "250.55", "1234.56", "1234.56", "5000.00"]
    for number in range(37):
        orders = rng.choice([0, 1, 1, 2, 3, 3, 5, 8])
        person(
            session,
            f"c{number}",
            Reach(Channel.SMS),
            orders=orders,
            spent=rng.choice(spends) if orders else "0",
            # Whole days so that several customers share a last-order time.
            last_order_days_ago=rng.choice([1, 5, 5, 30, 90, 90, 365, 700]) if orders else None,
            erased=number % 11 == 0,
        )
    session.commit()
    scores = rfm_scores(session, now=NOW)
    assert len({s.recency + s.frequency_score + s.monetary_score for s in scores.values()}) >= 6
    for minimum in range(3, 16):
        expected = sorted(
            customer_id
            for customer_id, s in scores.items()
            if s.recency + s.frequency_score + s.monetary_score >= minimum
        )
        got = [r.customer_id for r in audience(session, Segment(min_rfm=minimum), now=NOW)]
        assert got == expected, minimum


def test_min_rfm_with_one_or_no_customer_ever_sold_to(session: Session) -> None:
    person(session, "never", Reach(Channel.SMS))
    assert audience(session, Segment(min_rfm=3), now=NOW) == []
    person(session, "once", Reach(Channel.SMS), orders=1, spent="10", last_order_days_ago=3)
    assert selected(session, {"min_rfm": 3}) == ["once"]  # ranks 0 on each: 1 + 1 + 1
    assert selected(session, {"min_rfm": 4}) == []


def test_audience_refuses_a_naive_time(session: Session) -> None:
    with pytest.raises(ValueError, match="naive"):
        audience(session, Segment(), now=NOW.replace(tzinfo=None))
