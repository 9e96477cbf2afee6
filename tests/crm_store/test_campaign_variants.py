"""Template variants (A/B): how a campaign lists them, how its recipients are dealt
between them, and the report comparing each with the holdout and with each other."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store import campaigns, segments
from crm_store.holdouts import cumulative_conversions, variant_comparison
from crm_store.models import CampaignVariant, Customer, OutboxMessage, Tier
from crm_store.uplift import split_at_random
from crm_store.variants import label, stored, variants
from scheduler import outreach
from tests.crm_store.holdout_helpers import NOW, campaign_to_all, held_out, marketers, shop
from tests.factories import paid_orders

TWO_WAYS = {
    "zh-TW": ["{{ name }}，週年慶全館 85 折！", "{{ name }}，只到週日：滿千折百"],
    "en": ["{{ name }}, 15% off everything!", "{{ name }}, NT$100 off NT$1,000 till Sunday"],
}


def test_a_campaign_lists_its_variants_the_same_in_every_language() -> None:
    assert variants({"zh-TW": "嗨", "en": "hi"}) == [{"zh-TW": "嗨", "en": "hi"}]
    assert variants({"zh-TW": ["甲", "乙"], "en": ["a", "b"]}) == [
        {"zh-TW": "甲", "en": "a"},
        {"zh-TW": "乙", "en": "b"},
    ]
    assert stored(variants(TWO_WAYS)) == TWO_WAYS
    assert stored(variants({"en": ["only one"]})) == {"en": "only one"}
    with pytest.raises(ValueError, match=r"same number of variants.*zh-TW 2, en 1"):
        variants({"zh-TW": ["甲", "乙"], "en": ["a"]})
    with pytest.raises(ValueError, match="at most 4 variants, not 5"):
        variants({"en": ["a", "b", "c", "d", "e"]})
    with pytest.raises(ValueError, match="no template text"):
        variants({"en": []})


def test_creating_a_campaign_checks_every_variant(session: Session) -> None:
    author, _ = marketers(session)

    def create(templates: dict[str, object]) -> None:
        campaigns.create(
            session,
            name="AB",
            segment={},
            message_templates=templates,  # type: ignore[arg-type]
            send_at=NOW,
            recurrence=None,
            by=author,
            now=NOW,
        )

    with pytest.raises(campaigns.CampaignError, match=r"en template \(variant B\)"):
        create({"zh-TW": ["嗨", "哈囉"], "en": ["hi", "hello {{ name"]})
    with pytest.raises(campaigns.CampaignError, match="same number of variants"):
        create({"zh-TW": ["嗨", "哈囉"], "en": "hi"})
    with pytest.raises(campaigns.CampaignError, match="a template is text"):
        create({"zh-TW": ["嗨", 3]})


def test_the_split_deals_each_tier_evenly_and_is_repeatable() -> None:
    audience = {customer: "vip" if customer % 4 == 0 else "regular" for customer in range(1003)}
    dealt = split_at_random(audience, groups=3, seed=7)
    assert dealt == split_at_random(dict(reversed(audience.items())), groups=3, seed=7)
    assert dealt != split_at_random(audience, groups=3, seed=8)
    sizes = Counter(dealt.values())
    assert max(sizes.values()) - min(sizes.values()) <= 1
    for tier in ("vip", "regular"):
        per_group = Counter(
            group for customer, group in dealt.items() if audience[customer] == tier
        )
        assert max(per_group.values()) - min(per_group.values()) <= 1
    with pytest.raises(ValueError, match="at least one group"):
        split_at_random(audience, groups=0, seed=1)


def test_the_preview_shows_each_sample_in_every_variant(session: Session) -> None:
    shop(session, 5)
    shown = segments.preview(session, segments.Segment(), TWO_WAYS, now=NOW, shop="小店")
    assert [sample.variant for sample in shown.samples] == ["A", "B"] * 3
    assert "85 折" in shown.samples[0].text and "滿千折百" in shown.samples[1].text


def dealt_variants(session: Session, campaign_id: int) -> dict[int, int]:
    rows = session.execute(
        select(CampaignVariant.customer_id, CampaignVariant.variant).where(
            CampaignVariant.campaign_id == campaign_id
        )
    )
    return {customer: variant for customer, variant in rows}


def test_recipients_are_dealt_between_the_variants_and_get_their_own_text(
    session: Session,
) -> None:
    ids = shop(session, 400)
    campaign = campaign_to_all(session, holdout_percent=10, templates=TWO_WAYS)
    assert outreach.campaign.start_due(session, now=NOW, shop="小店") == {campaign.id: 360}
    held = held_out(session, campaign)
    dealt = dealt_variants(session, campaign.id)
    assert len(held) == 40 and set(dealt) == set(ids) - held
    assert Counter(dealt.values()) == {0: 180, 1: 180}
    vips = set(session.scalars(select(Customer.id).where(Customer.tier == Tier.VIP)))
    assert Counter(dealt[c] for c in vips if c in dealt) == {0: 45, 1: 45}
    bodies = dict(
        session.execute(
            select(OutboxMessage.customer_id, OutboxMessage.body).where(
                OutboxMessage.campaign_id == campaign.id
            )
        ).all()
    )
    for customer, variant in dealt.items():
        assert ("85 折" if variant == 0 else "滿千折百") in bodies[customer]


def test_a_recurring_run_keeps_each_customers_variant_and_measures_it_from_its_run(
    session: Session,
) -> None:
    shop(session, 100)
    author, approver = marketers(session)
    campaign = campaigns.create(
        session,
        name="每週 AB",
        segment={},
        message_templates=TWO_WAYS,
        send_at=NOW,
        recurrence="0 4 * * MON",
        by=author,
        now=NOW,
    )
    campaigns.approve(session, campaign, by=approver, now=NOW)
    campaigns.schedule(session, campaign, by=author, now=NOW)
    outreach.campaign.start_due(session, now=NOW, shop="小店")
    first = dealt_variants(session, campaign.id)
    newcomers = shop(session, 20)
    run_two = campaign.send_at
    assert run_two is not None and run_two == NOW + timedelta(days=7)
    outreach.campaign.start_due(session, now=run_two, shop="小店")
    second = dealt_variants(session, campaign.id)
    assert {c: v for c, v in second.items() if c in first} == first
    assert set(second) - set(first) == set(newcomers) - held_out(session, campaign)

    # Ten days after the second run: inside a newcomer's 14 days, but 17 days after the
    # run that first reached a customer of the first run.
    newcomer, veteran = min(set(second) - set(first)), min(first)
    paid_orders(session, [newcomer, veteran], total=700, placed_at=run_two + timedelta(days=10))
    compared = variant_comparison(session, campaign)
    assert compared is not None
    assert sum(group.converted for group in compared.groups.values()) == 1
    assert compared.groups[label(second[newcomer])].converted == 1
    by_day = {(r.group, r.day): r.ordered for r in cumulative_conversions(session, campaign)}
    assert (by_day["messaged", 10], by_day["messaged", 11]) == (0, 1)


def test_the_report_compares_each_variant_with_the_holdout_and_the_other(
    session: Session,
) -> None:
    shop(session, 2000)
    campaign = campaign_to_all(session, holdout_percent=20, templates=TWO_WAYS)
    outreach.campaign.start_due(session, now=NOW, shop="小店")
    dealt = dealt_variants(session, campaign.id)
    a = sorted(c for c, v in dealt.items() if v == 0)
    b = sorted(c for c, v in dealt.items() if v == 1)
    held = sorted(held_out(session, campaign))
    assert (len(a), len(b), len(held)) == (800, 800, 400)
    # A moves 20 % to order, B 8 %, and 5 % of the held out order anyway.
    buyers = a[:160] + b[:64] + held[:20]
    paid_orders(session, buyers, total=600, placed_at=NOW + timedelta(days=2))
    session.flush()

    compared = variant_comparison(session, campaign)
    assert compared is not None and compared.labels == ("A", "B")
    assert {group: shown.converted for group, shown in compared.groups.items()} == {
        "A": 160,
        "B": 64,
        "held_out": 20,
    }
    against_a, against_b = compared.against_holdout["A"], compared.against_holdout["B"]
    assert against_a.conversion_difference == pytest.approx(0.15)
    assert against_b.conversion_difference == pytest.approx(0.03)
    assert against_a.finding == "more"
    a_over_b = compared.pairwise["A", "B"]
    assert (a_over_b.sent.customers, a_over_b.held_out.customers) == (800, 800)
    assert a_over_b.conversion_difference == pytest.approx(0.12)
    assert a_over_b.finding == "more"
    assert a_over_b.revenue_difference == pytest.approx(0.12 * 600)

    by_group = {(r.group, r.day): r for r in cumulative_conversions(session, campaign)}
    assert {group for group, _ in by_group} == {"messaged", "held_out", "A", "B"}
    assert (by_group["A", 3].ordered, by_group["B", 3].ordered) == (160, 64)
    assert by_group["A", 2].ordered == 0 and by_group["B", 14].share == pytest.approx(0.08)


def test_one_variant_and_no_holdout_leave_nothing_to_compare(session: Session) -> None:
    shop(session, 30)
    single = campaign_to_all(session, holdout_percent=10)
    unmeasured = campaign_to_all(session, holdout_percent=0, templates=TWO_WAYS)
    outreach.campaign.start_due(session, now=NOW, shop="小店")
    assert variant_comparison(session, single) is None
    assert dealt_variants(session, single.id) == {}
    compared = variant_comparison(session, unmeasured)
    assert compared is not None and compared.against_holdout == {}
    assert compared.pairwise["A", "B"].finding == "too_small"
