"""Holdout draws and the uplift measured against them, down to whether the report's
intervals say the truth about a simulated shop whose true effect is known."""

from __future__ import annotations

import random

import pytest

from crm_store.uplift import (
    MIN_GROUP,
    Outcome,
    draw_holdout,
    measure,
    proportion_difference,
    wilson,
)

TIERS = {"vip": 0.20, "regular": 0.08, "standard": 0.03}  # how often each orders anyway


def test_wilson_matches_the_published_interval() -> None:
    # Newcombe (1998), 81/263: 0.2553 to 0.3662.
    interval = wilson(81, 263)
    assert interval.low == pytest.approx(0.2553, abs=1e-4)
    assert interval.high == pytest.approx(0.3662, abs=1e-4)


@pytest.mark.parametrize(
    ("a", "b", "low", "high"),
    [
        ((56, 70), (48, 80), 0.0524, 0.3339),  # Newcombe (1998), method 10
        ((9, 10), (3, 10), 0.1705, 0.8090),
    ],
)
def test_newcombes_interval_matches_the_published_ones(
    a: tuple[int, int], b: tuple[int, int], low: float, high: float
) -> None:
    difference, interval = proportion_difference(*a, *b)
    assert difference == pytest.approx(a[0] / a[1] - b[0] / b[1])
    assert interval.low == pytest.approx(low, abs=1e-4)
    assert interval.high == pytest.approx(high, abs=1e-4)


def audience(size: int, seed: int = 1) -> dict[int, str]:
    rng = random.Random(seed)
    return {customer: rng.choice(["vip", "regular", "standard"]) for customer in range(size)}


def test_a_holdout_is_the_same_for_the_same_seed_and_takes_each_tiers_share() -> None:
    people = audience(10_001)
    held = draw_holdout(people, percent=10, seed=42)
    assert held == draw_holdout(dict(reversed(list(people.items()))), percent=10, seed=42)
    assert held != draw_holdout(people, percent=10, seed=43)
    assert len(held) == 1000  # 10 % of 10,001, rounded
    for tier in ("vip", "regular", "standard"):
        members = [customer for customer, its in people.items() if its == tier]
        assert abs(sum(customer in held for customer in members) - len(members) / 10) < 1


def test_no_holdout_and_everyone_held_out_are_both_possible() -> None:
    people = audience(50)
    assert draw_holdout(people, percent=0, seed=1) == frozenset()
    assert draw_holdout(people, percent=100, seed=1) == frozenset(people)
    with pytest.raises(ValueError, match="between 0 and 100"):
        draw_holdout(people, percent=120, seed=1)


def test_small_groups_give_no_conclusion_and_say_so() -> None:
    sent = [Outcome(converted=True, revenue=900.0)] * 50 + [Outcome(False)] * 400
    held = [Outcome(converted=True, revenue=900.0)] * 2 + [Outcome(False)] * (MIN_GROUP - 3)
    uplift = measure(sent, held)
    assert not uplift.conclusive
    assert uplift.conversion_interval is None and uplift.incremental_revenue is None
    assert "Too few customers" in uplift.verdict


def simulated_campaign(
    rng: random.Random, *, uplift: float, customers: int = 4000
) -> tuple[list[Outcome], list[Outcome]]:
    """A shop whose customers order at their tier's rate, and `uplift` more often (in
    absolute terms) when they got the message; an order is worth NT$400–2,000."""
    people = {customer: rng.choice(list(TIERS)) for customer in range(customers)}
    held = draw_holdout(people, percent=10, seed=rng.randrange(2**32))
    sent_outcomes, held_outcomes = [], []
    for customer, tier in people.items():
        rate = TIERS[tier] + (0 if customer in held else uplift)
        ordered = rng.random() < rate
        outcome = Outcome(ordered, rng.uniform(400, 2000) if ordered else 0.0)
        (held_outcomes if customer in held else sent_outcomes).append(outcome)
    return sent_outcomes, held_outcomes


def test_the_interval_holds_the_true_uplift_in_most_of_200_simulated_campaigns() -> None:
    """True effect: 3 points more customers order, so 3 % × NT$1,200 = NT$36 a customer
    more revenue. A 95 % interval should miss that about 10 times in 200."""
    rng = random.Random(20261130)
    covered_conversion = covered_revenue = called = 0
    for _ in range(200):
        uplift = measure(*simulated_campaign(rng, uplift=0.03))
        assert uplift.conclusive
        assert uplift.conversion_interval is not None and uplift.revenue_interval is not None
        covered_conversion += 0.03 in uplift.conversion_interval
        covered_revenue += 0.03 * 1200 in uplift.revenue_interval
        called += uplift.conversion_interval.low > 0
    print(f"covered: conversion {covered_conversion}/200, revenue {covered_revenue}/200")
    assert covered_conversion >= 180
    assert covered_revenue >= 180
    assert called >= 20  # 400 held out is too few to see 3 points every time, but it shows


def test_no_effect_is_called_when_the_message_changes_nothing() -> None:
    rng = random.Random(7)
    called = 0
    for _ in range(200):
        uplift = measure(*simulated_campaign(rng, uplift=0.0))
        assert uplift.conversion_interval is not None
        called += uplift.conversion_interval.excludes_zero
    print(f"an effect called in {called}/200 campaigns without one")
    assert called <= 20  # 5 % expected: 10 of 200
