import itertools
import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session

from crm_store.analytics import rfm_scores
from crm_store.models import (
    Channel,
    ChannelIdentity,
    Customer,
    CustomerTag,
    Language,
    Tier,
)
from crm_store.segments import (
    SEGMENT_KEYS,
    Recipient,
    Sample,
    Segment,
    audience,
    preview,
)
from crm_store.templates import InvalidTemplate
from tests.factories import utc

NOW = utc(2026, 6, 1, 12, 0)
_addresses = itertools.count(100_000)


@dataclass
class Reach:
    """How one identity of a test customer may be used."""

    channel: Channel
    consent: bool = True
    opted_out: bool = False
    reachable: bool = True


def person(
    session: Session,
    name: str,
    *reach: Reach,
    tier: Tier = Tier.STANDARD,
    language: Language = Language.ZH_TW,
    birthday: date | None = None,
    tags: tuple[str, ...] = (),
    orders: int = 0,
    spent: str = "0",
    last_order_days_ago: float | None = None,
    erased: bool = False,
) -> Customer:
    customer = Customer(
        name=name,
        tier=tier,
        language=language,
        order_count=orders,
        total_spent=Decimal(spent),
        last_order_at=(
            None if last_order_days_ago is None else NOW - timedelta(days=last_order_days_ago)
        ),
        erased_at=NOW - timedelta(days=1) if erased else None,
    )
    customer.set_birthday(birthday)
    for item in reach:
        number = next(_addresses)
        address = f"+8869{number:08d}" if item.channel == Channel.SMS else str(number)
        customer.identities.append(
            ChannelIdentity(
                channel=item.channel,
                address=address,
                marketing_consent=item.consent,
                opted_out=item.opted_out,
                reachable=item.reachable,
            )
        )
    customer.tags.extend(CustomerTag(tag=tag) for tag in tags)
    session.add(customer)
    session.flush()
    return customer


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


# --- preview ------------------------------------------------------------------------

TEMPLATES = {
    "zh-TW": "{{ first_name }}您好，{{ shop }}祝您{{ birthday.month }}月生日快樂！",
    "en": (
        "Happy birthday, {{ first_name }}! From {{ shop }}{% if coupon %}: {{ coupon }}{% endif %}"
    ),
}


def test_preview_counts_and_renders_samples_in_each_language(session: Session) -> None:
    for number, name in enumerate(("王小明", "陳美玲", "林志玲", "李大華"), start=1):
        person(session, name, Reach(Channel.SMS), birthday=date(1990, number, 1))
    person(
        session,
        "Alice Chen",
        Reach(Channel.TELEGRAM),
        Reach(Channel.SMS),
        language=Language.EN,
        birthday=date(1991, 6, 2),
    )
    result = preview(session, Segment(), TEMPLATES, now=NOW, shop="好物", coupon="B-1")
    assert result.size == 5
    assert result.by_language == {"zh-TW": 4, "en": 1}
    assert result.by_channel == {"sms": 4, "telegram": 1}
    # The English customer is last by id, yet shown: every language gets a sample.
    assert result.samples == [
        Sample("王小明", Language.ZH_TW, Channel.SMS, "小明您好，好物祝您1月生日快樂！"),
        Sample("陳美玲", Language.ZH_TW, Channel.SMS, "美玲您好，好物祝您2月生日快樂！"),
        Sample(
            "Alice Chen", Language.EN, Channel.TELEGRAM, "Happy birthday, Alice! From 好物: B-1"
        ),
    ]


def test_preview_falls_back_to_the_other_language(session: Session) -> None:
    person(
        session, "Alice Chen", Reach(Channel.SMS), language=Language.EN, birthday=date(1991, 6, 2)
    )
    result = preview(session, Segment(), {"zh-TW": TEMPLATES["zh-TW"]}, now=NOW, shop="好物")
    assert [s.text for s in result.samples] == ["Alice您好，好物祝您6月生日快樂！"]
    result = preview(session, Segment(), {"zh-TW": "", "en": "Hi {{ name }}"}, now=NOW, shop="S")
    assert [s.text for s in result.samples] == ["Hi Alice Chen"]


def test_preview_sample_count_and_empty_audience(session: Session) -> None:
    for number in range(6):
        person(session, f"客戶{number}", Reach(Channel.SMS), birthday=date(1990, 1, 1))
    assert len(preview(session, Segment(), TEMPLATES, now=NOW, shop="S", samples=4).samples) == 4
    result = preview(session, Segment(), TEMPLATES, now=NOW, shop="S", samples=0)
    assert (result.size, result.samples) == (6, [])
    result = preview(session, Segment(languages=(Language.EN,)), TEMPLATES, now=NOW, shop="S")
    assert (result.size, result.by_language, result.by_channel, result.samples) == (0, {}, {}, [])


def test_preview_reports_bad_templates(session: Session) -> None:
    person(session, "王小明", Reach(Channel.SMS))  # no birthday: `birthday.month` fails
    with pytest.raises(InvalidTemplate, match="en template: unknown field 'nickname'"):
        preview(session, Segment(), {"zh-TW": "x", "en": "{{ nickname }}"}, now=NOW, shop="S")
    with pytest.raises(InvalidTemplate, match="no attribute 'month'"):
        preview(session, Segment(), TEMPLATES, now=NOW, shop="S")
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        preview(session, Segment(), {"fr": "Bonjour"}, now=NOW, shop="S")
    with pytest.raises(ValueError, match="no message template"):
        preview(session, Segment(), {"zh-TW": "", "en": ""}, now=NOW, shop="S")


# --- the segment's JSON form ----------------------------------------------------------


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
        ({"channels": ["webchat"]}, "cannot be sent on channel 'webchat'; allowed: telegram, sms"),
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
