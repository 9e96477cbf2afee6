"""Campaign holdouts and variants: who of a campaign's audience is sent nothing, who gets
which version of its message, and what that showed.

At each run of a campaign, the customers of its audience not seen in an earlier run are
split: `holdout_percent` of them (per value tier, from the campaign's seed and the run,
so the draw can be repeated) are recorded in `campaign_holdouts` and sent nothing; the
rest are messaged. A campaign with template variants (`crm_store.variants`) deals the
messaged between them at random, per tier, recorded in `campaign_variants`. A customer
keeps the group of their first run, so a recurring campaign's groups stay apart. The
uplift compares what each group did within `conversion_days` of the run that first
reached each customer (so a recurring campaign's newcomers are measured from their run):
everyone messaged (whether or not the message could be delivered, so that the groups are
chosen alike) against everyone held out, and each variant against the holdout and
against each other variant.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import combinations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store.bulk import bulk_insert, insert_columns
from crm_store.models import (
    Campaign,
    CampaignHoldout,
    CampaignVariant,
    Order,
    OutboxMessage,
    OutreachHoldout,
)
from crm_store.orders import NOT_SALES
from crm_store.uplift import Group, Outcome, Uplift, draw_holdout, measure, split_at_random
from crm_store.variants import label

# The groups a campaign's customers fall in, besides its variants' "A", "B", ….
MESSAGED, HELD_OUT = "messaged", "held_out"


def hold_out(
    session: Session, campaign: Campaign, audience: Mapping[int, str], *, run: int, now: datetime
) -> frozenset[int]:
    """Who of this run's `audience` (customer id → value tier) is held out of `campaign`.

    Those held out in an earlier run stay held out and those messaged stay messaged; of
    the customers new to the campaign, `holdout_percent` per cent are drawn and recorded.
    `run` tells the campaign's runs apart (its start time as a number will do).
    """
    held_before = _held_at(session, campaign)
    messaged_before = _first_messaged(session, campaign)
    new = {
        customer: tier
        for customer, tier in audience.items()
        if customer not in held_before and customer not in messaged_before
    }
    drawn = draw_holdout(new, percent=campaign.holdout_percent, seed=_seed(campaign) ^ run)
    if drawn:
        bulk_insert(
            session,
            CampaignHoldout,
            [
                {"campaign_id": campaign.id, "customer_id": customer, "held_at": now}
                for customer in sorted(drawn)
            ],
        )
    return frozenset(held_before.keys() & audience.keys()) | drawn


def assign_variants(
    session: Session,
    campaign: Campaign,
    messaged: Mapping[int, str],
    *,
    count: int,
    run: int,
    now: datetime,
) -> dict[int, int]:
    """Which of `count` variants (0 for A, 1 for B, …) each of this run's `messaged`
    (customer id → value tier) gets: the one of their first run, or, for those new to
    the campaign, dealt at random per tier and recorded. One variant needs no record."""
    if count < 2:
        return dict.fromkeys(messaged, 0)
    before = _assigned(session, campaign)
    new = {customer: tier for customer, tier in messaged.items() if customer not in before}
    # A seed of its own, so the deal does not follow the holdout draw.
    dealt = split_at_random(new, groups=count, seed=(_seed(campaign) ^ run) + 1)
    ordered = sorted(dealt)
    insert_columns(
        session,
        CampaignVariant,
        {
            "campaign_id": [campaign.id] * len(ordered),
            "customer_id": ordered,
            "variant": [dealt[customer] for customer in ordered],
            "assigned_at": [now] * len(ordered),
        },
    )
    return {customer: before.get(customer, dealt.get(customer, 0)) for customer in messaged}


def _seed(campaign: Campaign) -> int:
    """The campaign's random seed, drawn at its first start and kept."""
    if campaign.holdout_seed is None:
        campaign.holdout_seed = secrets.randbits(31)
    return campaign.holdout_seed


def outreach_held_out(
    session: Session, *, kind: str, customer_id: int, key: str, percent: int, now: datetime
) -> bool:
    """Whether the built-in outreach message under `key` (a birthday greeting, a win-back)
    is held out: `percent` per cent of keys are, decided by the key itself, so the same
    message is always decided the same way; a held one is recorded (once)."""
    if percent <= 0:
        return False
    draw = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % 10_000
    if draw >= percent * 100:
        return False
    if session.scalar(select(OutreachHoldout.id).where(OutreachHoldout.key == key)) is None:
        session.add(OutreachHoldout(kind=kind, customer_id=customer_id, key=key, held_at=now))
        session.flush()
    return True


def outreach_uplift(
    session: Session, kind: str, *, since: datetime, until: datetime, window_days: int = 14
) -> Uplift | None:
    """The built-in outreach `kind` since `since`: the customers messaged against those
    held out, each measured by an order within `window_days` of their own message (or of
    when it was held back); None when nobody was held out."""
    held: dict[int, datetime] = {
        customer: at
        for customer, at in session.execute(
            select(OutreachHoldout.customer_id, func.min(OutreachHoldout.held_at))
            .where(
                OutreachHoldout.kind == kind,
                OutreachHoldout.held_at >= since,
                OutreachHoldout.held_at < until,
            )
            .group_by(OutreachHoldout.customer_id)
        )
    }
    if not held:
        return None
    messaged: dict[int, datetime] = {
        customer: at
        for customer, at in session.execute(
            select(OutboxMessage.customer_id, func.min(OutboxMessage.created_at))
            .where(
                OutboxMessage.idempotency_key.like(f"{kind}:%"),
                OutboxMessage.created_at >= since,
                OutboxMessage.created_at < until,
            )
            .group_by(OutboxMessage.customer_id)
        )
    }
    bought = _bought_within(session, {**messaged, **held}, timedelta(days=window_days))
    return measure(
        [_outcome(bought.get(customer)) for customer in sorted(messaged)],
        [_outcome(bought.get(customer)) for customer in sorted(held)],
    )


@dataclass(frozen=True, slots=True)
class ConversionDay:
    """By the end of day `day` after the start, how many of `group` had ordered."""

    group: str  # "messaged", "held_out", or a variant: "A", "B", …
    day: int
    customers: int
    ordered: int
    share: float  # ordered / customers


@dataclass(frozen=True, slots=True)
class VariantComparison:
    """An A/B campaign's variants, each against the holdout (none without one) and each
    against each other: in `pairwise[("A", "B")]`, `sent` is A's group and `held_out`
    B's, so a finding of "more" means A made more customers order than B."""

    labels: tuple[str, ...]
    groups: dict[str, Group]  # each variant's, and the held out's when there are any
    against_holdout: dict[str, Uplift]
    pairwise: dict[tuple[str, str], Uplift]


def campaign_uplift(session: Session, campaign: Campaign) -> Uplift | None:
    """The messaged group against the held-out one; None before the campaign started or
    when it held no one out."""
    found = _groups(session, campaign)
    if found is None or not found.members[HELD_OUT]:
        return None
    return measure(found.outcomes(MESSAGED), found.outcomes(HELD_OUT))


def variant_comparison(session: Session, campaign: Campaign) -> VariantComparison | None:
    """Each variant against the holdout and against each other; None before the start
    or for a campaign with one variant."""
    found = _groups(session, campaign)
    if found is None:
        return None
    labels = tuple(group for group in found.members if group not in (MESSAGED, HELD_OUT))
    if len(labels) < 2:
        return None
    held = found.outcomes(HELD_OUT)
    shown = (*labels, HELD_OUT) if held else labels
    return VariantComparison(
        labels=labels,
        groups={group: Group.of(found.outcomes(group)) for group in shown},
        against_holdout={group: measure(found.outcomes(group), held) for group in labels if held},
        pairwise={
            (first, second): measure(found.outcomes(first), found.outcomes(second))
            for first, second in combinations(labels, 2)
        },
    )


def cumulative_conversions(session: Session, campaign: Campaign) -> list[ConversionDay]:
    """Day by day over each customer's conversion window, how many of each group had
    ordered: the messaged, the held out and each variant; none before the start, or for
    a campaign with neither a holdout nor variants."""
    found = _groups(session, campaign)
    if found is None:
        return []
    firsts = {customer: bought.day for customer, bought in found.bought.items()}
    rows = []
    for group, members in found.members.items():
        per_day = Counter(firsts[customer] for customer in members if customer in firsts)
        running = 0
        for day in range(1, campaign.conversion_days + 1):
            running += per_day.get(day, 0)
            share = running / len(members) if members else 0.0
            rows.append(ConversionDay(group, day, len(members), running, share))
    return rows


@dataclass(frozen=True, slots=True)
class _Bought:
    day: int  # of the customer's own window (1 for its first day) of their first order
    spent: float


@dataclass(frozen=True, slots=True)
class _Groups:
    """A campaign's groups by name (messaged, held out, then the variants in order) and
    what each customer of them who ordered in the window bought."""

    members: dict[str, set[int]]
    bought: dict[int, _Bought]

    def outcomes(self, group: str) -> list[Outcome]:
        return [_outcome(self.bought.get(customer)) for customer in sorted(self.members[group])]


def _groups(session: Session, campaign: Campaign) -> _Groups | None:
    """None before the start, or when there is nothing to compare: no holdout and no
    variants."""
    if campaign.started_at is None:
        return None
    held = _held_at(session, campaign)
    assigned = _assigned(session, campaign)
    if not held and not assigned:
        return None
    messaged = _first_messaged(session, campaign)
    members = {MESSAGED: set(messaged), HELD_OUT: set(held)}
    for customer, variant in sorted(assigned.items(), key=lambda item: item[1]):
        members.setdefault(label(variant), set()).add(customer)
    window = timedelta(days=campaign.conversion_days)
    return _Groups(members, _bought_within(session, {**messaged, **held}, window))


def _held_at(session: Session, campaign: Campaign) -> dict[int, datetime]:
    """Each customer held out of `campaign`, and when."""
    rows = session.execute(
        select(CampaignHoldout.customer_id, CampaignHoldout.held_at).where(
            CampaignHoldout.campaign_id == campaign.id
        )
    )
    return {customer: _aware(at) for customer, at in rows}


def _first_messaged(session: Session, campaign: Campaign) -> dict[int, datetime]:
    """Each customer `campaign` messaged, and when first."""
    rows = session.execute(
        select(OutboxMessage.customer_id, func.min(OutboxMessage.created_at))
        .where(OutboxMessage.campaign_id == campaign.id)
        .group_by(OutboxMessage.customer_id)
    )
    return {customer: _aware(at) for customer, at in rows}


def _assigned(session: Session, campaign: Campaign) -> dict[int, int]:
    rows = session.execute(
        select(CampaignVariant.customer_id, CampaignVariant.variant).where(
            CampaignVariant.campaign_id == campaign.id
        )
    )
    return {customer: variant for customer, variant in rows}


def _bought_within(
    session: Session, since: Mapping[int, datetime], window: timedelta
) -> dict[int, _Bought]:
    """Each customer of `since` who ordered within `window` of their own time there (so
    each run of a recurring campaign, each birthday, is measured from its own day): on
    which day of it first, and what in all."""
    if not since:
        return {}
    bought = {}
    placed = _orders_placed(session, set(since), min(since.values()), max(since.values()) + window)
    for customer, sales in placed.items():
        starts = _aware(since[customer])
        inside = [(when, total) for when, total in sales if starts <= when < starts + window]
        if inside:
            first = min(when for when, _ in inside)
            bought[customer] = _Bought((first - starts).days + 1, sum(t for _, t in inside))
    return bought


def _orders_placed(
    session: Session, customers: set[int], starts: datetime, ends: datetime
) -> dict[int, list[tuple[datetime, float]]]:
    """Each of `customers`' sales placed in [starts, ends): when, and for how much."""
    placed: dict[int, list[tuple[datetime, float]]] = {}
    ordered = sorted(customers)
    for offset in range(0, len(ordered), 5_000):
        rows = session.execute(
            select(Order.customer_id, Order.placed_at, Order.total).where(
                Order.customer_id.in_(ordered[offset : offset + 5_000]),
                Order.placed_at >= starts,
                Order.placed_at < ends,
                Order.status.not_in(NOT_SALES),
            )
        )
        for customer, when, total in rows:
            placed.setdefault(customer, []).append((_aware(when), float(total)))
    return placed


def _aware(moment: datetime) -> datetime:
    """SQLite gives back the aggregate's time without its zone; it is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _outcome(bought: _Bought | None) -> Outcome:
    return Outcome(converted=bought is not None, revenue=bought.spent if bought else 0.0)
