"""Campaign holdouts: who of a campaign's audience is sent nothing, and what that showed.

At each run of a campaign, the customers of its audience not seen in an earlier run are
split: `holdout_percent` of them (per value tier, from the campaign's seed and the run,
so the draw can be repeated) are recorded in `campaign_holdouts` and sent nothing; the
rest are messaged. A customer keeps the group of their first run, so a recurring
campaign's groups stay apart. The uplift compares what each group did within
`conversion_days` of the campaign's start: everyone messaged (whether or not the message
could be delivered, so that both groups are chosen alike) against everyone held out.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store.bulk import bulk_insert
from crm_store.models import Campaign, CampaignHoldout, Order, OutboxMessage, OutreachHoldout
from crm_store.orders import NOT_SALES
from crm_store.uplift import Outcome, Uplift, draw_holdout, measure


def hold_out(
    session: Session, campaign: Campaign, audience: Mapping[int, str], *, run: int, now: datetime
) -> frozenset[int]:
    """Who of this run's `audience` (customer id → value tier) is held out of `campaign`.

    Those held out in an earlier run stay held out and those messaged stay messaged; of
    the customers new to the campaign, `holdout_percent` per cent are drawn and recorded.
    `run` tells the campaign's runs apart (its start time as a number will do).
    """
    if campaign.holdout_seed is None:
        campaign.holdout_seed = secrets.randbits(31)
    held_before = _held(session, campaign)
    messaged_before = _messaged(session, campaign)
    new = {
        customer: tier
        for customer, tier in audience.items()
        if customer not in held_before and customer not in messaged_before
    }
    drawn = draw_holdout(new, percent=campaign.holdout_percent, seed=campaign.holdout_seed ^ run)
    if drawn:
        bulk_insert(
            session,
            CampaignHoldout,
            [
                {"campaign_id": campaign.id, "customer_id": customer, "held_at": now}
                for customer in sorted(drawn)
            ],
        )
    return frozenset(held_before.intersection(audience)) | drawn


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
    window = timedelta(days=window_days)
    placed = _orders_placed(session, set(held) | set(messaged), since, until + window)

    def outcome(customer: int, at: datetime) -> Outcome:
        at = _aware(at)
        spent = [total for when, total in placed.get(customer, []) if at <= when < at + window]
        return Outcome(converted=bool(spent), revenue=sum(spent))

    return measure(
        [outcome(customer, at) for customer, at in sorted(messaged.items())],
        [outcome(customer, at) for customer, at in sorted(held.items())],
    )


@dataclass(frozen=True, slots=True)
class ConversionDay:
    """By the end of day `day` after the start, the share of each group that had ordered."""

    day: int
    messaged: float
    held_out: float


def campaign_uplift(session: Session, campaign: Campaign) -> Uplift | None:
    """The messaged group against the held-out one; None before the campaign started or
    when it held no one out."""
    found = _groups(session, campaign)
    if found is None:
        return None
    messaged, held, bought = found
    return measure(
        [_outcome(bought.get(customer)) for customer in sorted(messaged)],
        [_outcome(bought.get(customer)) for customer in sorted(held)],
    )


def cumulative_conversions(session: Session, campaign: Campaign) -> list[ConversionDay]:
    """Day by day over the conversion window, how many of each group had ordered (as a
    share of the group); none before the start or without a holdout."""
    found = _groups(session, campaign)
    if found is None or campaign.started_at is None:
        return []
    messaged, held, bought = found
    starts = campaign.started_at
    firsts = {customer: (b.first - starts).days + 1 for customer, b in bought.items()}
    days = range(1, campaign.conversion_days + 1)

    def shares(group: set[int]) -> list[float]:
        per_day = Counter(firsts[customer] for customer in group if customer in firsts)
        total, running = len(group), 0
        out = []
        for day in days:
            running += per_day.get(day, 0)
            out.append(running / total if total else 0.0)
        return out

    return [
        ConversionDay(day, sent, kept)
        for day, sent, kept in zip(days, shares(messaged), shares(held), strict=True)
    ]


@dataclass(frozen=True, slots=True)
class _Bought:
    first: datetime  # the customer's first order in the window
    spent: float


def _groups(
    session: Session, campaign: Campaign
) -> tuple[set[int], set[int], dict[int, _Bought]] | None:
    """The messaged, the held out and what each who ordered in the window bought."""
    if campaign.started_at is None:
        return None
    held = _held(session, campaign)
    if not held:
        return None
    messaged = _messaged(session, campaign)
    ends = campaign.started_at + timedelta(days=campaign.conversion_days)
    return messaged, held, _bought_between(session, messaged | held, campaign.started_at, ends)


def _held(session: Session, campaign: Campaign) -> set[int]:
    return set(
        session.scalars(
            select(CampaignHoldout.customer_id).where(CampaignHoldout.campaign_id == campaign.id)
        )
    )


def _messaged(session: Session, campaign: Campaign) -> set[int]:
    return set(
        session.scalars(
            select(OutboxMessage.customer_id)
            .where(OutboxMessage.campaign_id == campaign.id)
            .distinct()
        )
    )


def _bought_between(
    session: Session, customers: set[int], starts: datetime, ends: datetime
) -> dict[int, _Bought]:
    """Each of `customers` who ordered in [starts, ends): when first, and what in all."""
    return {
        customer: _Bought(min(when for when, _ in sales), sum(total for _, total in sales))
        for customer, sales in _orders_placed(session, customers, starts, ends).items()
    }


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
