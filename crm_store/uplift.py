"""Did the outreach work? Holdout groups and the uplift measured against them.

A share of a campaign's audience is held out: drawn at random, recorded, sent nothing.
What the sent group did beyond what the held-out group did is the campaign's effect.
The draw is stratified by value tier, so both groups hold the same mix of customers, and
reproducible from a stored seed. The statistics need only the standard library:

- conversion (did the customer order within the window): the difference of two
  proportions, with Newcombe's hybrid score interval (Wilson intervals combined), which
  keeps its 95 % where the simple Wald interval fails, at low rates and small groups;
- revenue per customer: the difference of two means, with Welch's standard error and
  the normal quantile (revenue is skewed, so this needs the group sizes the conclusive
  rule below asks for anyway).
"""

from __future__ import annotations

import math
import random
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist, fmean, variance
from typing import TypeVar

Key = TypeVar("Key", bound=Hashable)

Z95 = NormalDist().inv_cdf(0.975)

# Below these the intervals are too wide to say anything useful, and the normal
# approximation behind the revenue interval is not to be trusted.
MIN_GROUP = 100
MIN_CONVERSIONS = 20


@dataclass(frozen=True, slots=True)
class Interval:
    low: float
    high: float

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high

    def scaled(self, factor: float) -> Interval:
        return Interval(self.low * factor, self.high * factor)

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def wilson(successes: int, trials: int, *, z: float = Z95) -> Interval:
    """Wilson's score interval for a proportion (`trials` > 0)."""
    if trials <= 0:
        raise ValueError("a proportion needs at least one trial")
    if not 0 <= successes <= trials:
        raise ValueError(f"{successes} successes out of {trials} trials")
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return Interval(max(0.0, centre - half), min(1.0, centre + half))


def proportion_difference(
    successes_a: int, trials_a: int, successes_b: int, trials_b: int, *, z: float = Z95
) -> tuple[float, Interval]:
    """The difference of two proportions, a − b, with Newcombe's hybrid score interval."""
    p_a, p_b = successes_a / trials_a, successes_b / trials_b
    a, b = wilson(successes_a, trials_a, z=z), wilson(successes_b, trials_b, z=z)
    difference = p_a - p_b
    low = difference - math.sqrt((p_a - a.low) ** 2 + (b.high - p_b) ** 2)
    high = difference + math.sqrt((a.high - p_a) ** 2 + (p_b - b.low) ** 2)
    return difference, Interval(low, high)


def mean_difference(
    values_a: Sequence[float], values_b: Sequence[float], *, z: float = Z95
) -> tuple[float, Interval]:
    """The difference of two means, a − b, with Welch's standard error."""
    if len(values_a) < 2 or len(values_b) < 2:
        raise ValueError("a mean difference needs at least two values in each group")
    difference = fmean(values_a) - fmean(values_b)
    error = math.sqrt(variance(values_a) / len(values_a) + variance(values_b) / len(values_b))
    return difference, Interval(difference - z * error, difference + z * error)


def draw_holdout(audience: Mapping[Key, str], *, percent: float, seed: int) -> frozenset[Key]:
    """Who of `audience` (recipient → value tier) is held out: `percent` of each tier.

    The same audience, share and seed always give the same group. Each tier's share is
    rounded so that the total is as close to `percent` of the audience as can be.
    """
    if not 0 <= percent <= 100:
        raise ValueError(f"a holdout share must be between 0 and 100 %, not {percent}")
    tiers: dict[str, list[Key]] = {}
    for recipient, tier in audience.items():
        tiers.setdefault(tier, []).append(recipient)
    exact = {tier: len(members) * percent / 100 for tier, members in tiers.items()}
    counts = {tier: math.floor(share) for tier, share in exact.items()}
    # Largest remainders first, so the tiers' roundings do not add up to a different total.
    left = round(len(audience) * percent / 100) - sum(counts.values())
    for tier in sorted(exact, key=lambda tier: (counts[tier] - exact[tier], tier))[:left]:
        counts[tier] += 1
    rng = random.Random(seed)
    held: set[Key] = set()
    for tier in sorted(tiers):
        members = sorted(tiers[tier], key=repr)  # the mapping's order must not matter
        held.update(rng.sample(members, counts[tier]))
    return frozenset(held)


def split_at_random(audience: Mapping[Key, str], *, groups: int, seed: int) -> dict[Key, int]:
    """Each of `audience` (recipient → value tier) dealt into one of `groups` groups
    (0, 1, …) at random, each tier dealt evenly, so the groups hold the same mix of
    customers and their sizes differ by at most one. The same audience, count and seed
    always give the same split."""
    if groups < 1:
        raise ValueError(f"a split needs at least one group, not {groups}")
    tiers: dict[str, list[Key]] = {}
    for recipient, tier in audience.items():
        tiers.setdefault(tier, []).append(recipient)
    rng = random.Random(seed)
    dealt: dict[Key, int] = {}
    next_group = 0  # each tier's deal starts where the last left off
    for tier in sorted(tiers):
        members = sorted(tiers[tier], key=repr)  # the mapping's order must not matter
        rng.shuffle(members)
        for position, recipient in enumerate(members):
            dealt[recipient] = (next_group + position) % groups
        next_group = (next_group + len(members)) % groups
    return dealt


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one recipient did within the window."""

    converted: bool
    revenue: float = 0.0


@dataclass(frozen=True, slots=True)
class Group:
    customers: int
    converted: int
    revenue: float

    @property
    def conversion(self) -> float:
        return self.converted / self.customers if self.customers else 0.0

    @property
    def revenue_per_customer(self) -> float:
        return self.revenue / self.customers if self.customers else 0.0

    @classmethod
    def of(cls, outcomes: Sequence[Outcome]) -> Group:
        return cls(
            customers=len(outcomes),
            converted=sum(outcome.converted for outcome in outcomes),
            revenue=math.fsum(outcome.revenue for outcome in outcomes),
        )


@dataclass(frozen=True, slots=True)
class Uplift:
    """The sent group against the held-out group, with 95 % intervals.

    The incremental figures are the differences applied to the sent group: how many more
    customers ordered, and how much more revenue came in, than would have without the
    message. None where the groups are too small to say (`conclusive` is False).
    """

    sent: Group
    held_out: Group
    conversion_difference: float | None
    conversion_interval: Interval | None
    revenue_difference: float | None
    revenue_interval: Interval | None
    conclusive: bool

    @property
    def incremental_conversions(self) -> tuple[float, Interval] | None:
        if self.conversion_difference is None or self.conversion_interval is None:
            return None
        n = self.sent.customers
        return self.conversion_difference * n, self.conversion_interval.scaled(n)

    @property
    def incremental_revenue(self) -> tuple[float, Interval] | None:
        if self.revenue_difference is None or self.revenue_interval is None:
            return None
        n = self.sent.customers
        return self.revenue_difference * n, self.revenue_interval.scaled(n)

    @property
    def finding(self) -> str:
        """What the figures allow one to say: `too_small`, `no_effect`, `more` (the
        message made more customers order) or `less`; `FINDINGS` says each in words."""
        if not self.conclusive:
            return "too_small"
        assert self.conversion_interval is not None
        if not self.conversion_interval.excludes_zero:
            return "no_effect"
        return "more" if self.conversion_interval.low > 0 else "less"

    @property
    def verdict(self) -> str:
        """The finding as one plain sentence (English; the console has its own words)."""
        return FINDINGS[self.finding]


FINDINGS = {
    "too_small": (
        f"Too few customers for a conclusion: each group needs at least {MIN_GROUP} "
        f"customers and both together at least {MIN_CONVERSIONS} orders."
    ),
    "no_effect": "No effect on ordering could be shown: the interval includes zero.",
    "more": "The message made more customers order than would have anyway.",
    "less": "Customers who got the message ordered less than those held out.",
}


def measure(sent: Sequence[Outcome], held_out: Sequence[Outcome]) -> Uplift:
    """The uplift of the sent group over the held-out one."""
    sent_group, held_group = Group.of(sent), Group.of(held_out)
    conclusive = (
        min(sent_group.customers, held_group.customers) >= MIN_GROUP
        and sent_group.converted + held_group.converted >= MIN_CONVERSIONS
    )
    if not conclusive:
        return Uplift(sent_group, held_group, None, None, None, None, conclusive=False)
    conversion, conversion_interval = proportion_difference(
        sent_group.converted, sent_group.customers, held_group.converted, held_group.customers
    )
    revenue, revenue_interval = mean_difference(
        [outcome.revenue for outcome in sent], [outcome.revenue for outcome in held_out]
    )
    return Uplift(
        sent_group,
        held_group,
        conversion,
        conversion_interval,
        revenue,
        revenue_interval,
        conclusive=True,
    )
