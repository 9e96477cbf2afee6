"""Win-back messages to lapsed customers, keyed ``winback:<customer>:<date>``."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.coupons import issue_coupon
from crm_store.customers import lapsed_customers
from crm_store.holdouts import outreach_held_out
from crm_store.models import (
    Author,
    CouponPurpose,
    Language,
    MessagePurpose,
    OutboxMessage,
    OutreachHoldout,
)
from crm_store.outbox import enqueue
from crm_store.reach import PushBudget, preferred_identity
from crm_store.settings import Settings
from crm_store.templates import first_name

WINBACK = {
    Language.ZH_TW: "{name}，好久不見！想聽聽您的想法：最近沒再光顧，是哪裡讓您不滿意嗎？"
    "回覆告訴我們，再送您回購折價券 {code}（NT$150）。",
    Language.EN: "{name}, we've missed you! Was there something we could have done better? "
    "Reply and tell us, and here's NT$150 off your next order: {code}.",
}
WINBACK_COUPON_VALUE = Decimal(150)


def plan(session: Session, *, now: datetime, settings: Settings, limit: int = 500) -> int:
    """Write to customers lapsed `winback_after_days`, the worth-keeping first, at most
    once per `winback_every_days` each, holding `winback_holdout_percent` per cent out
    (sent nothing, and not asked again sooner); a later order counts as won back."""
    every = timedelta(days=settings.winback_every_days)
    queued = 0
    budget = PushBudget.of(session, settings, now=now)
    for customer in lapsed_customers(
        session,
        now=now,
        lapsed_days=settings.winback_after_days,
        at_most_days=settings.winback_after_days + 2 * 365,
        limit=limit * 3,
    ):
        if queued >= limit:
            break
        recent = session.scalar(
            select(OutboxMessage.id).where(
                OutboxMessage.customer_id == customer.id,
                OutboxMessage.idempotency_key.like(f"winback:{customer.id}:%"),
                OutboxMessage.created_at > now - every,
            )
        )
        held_recently = session.scalar(
            select(OutreachHoldout.id).where(
                OutreachHoldout.kind == "winback",
                OutreachHoldout.customer_id == customer.id,
                OutreachHoldout.held_at > now - every,
            )
        )
        if recent is not None or held_recently is not None:
            continue
        identity = preferred_identity(
            session, customer.id, marketing=True, channels=budget.channels
        )
        if identity is None:
            continue
        key = f"winback:{customer.id}:{now:%Y%m%d}"
        if outreach_held_out(
            session,
            kind="winback",
            customer_id=customer.id,
            key=key,
            percent=settings.winback_holdout_percent,
            now=now,
        ):
            continue
        coupon = issue_coupon(
            session,
            purpose=CouponPurpose.WINBACK,
            customer_id=customer.id,
            now=now,
            value=WINBACK_COUPON_VALUE,
            description="NT$150 off the next order",
            key=key,
        )
        text = WINBACK[customer.language].format(name=first_name(customer.name), code=coupon.code)
        message = enqueue(
            session,
            key=key,
            identity=identity,
            purpose=MessagePurpose.MARKETING,
            text=text,
            author=Author.SYSTEM,
            now=now,
        )
        budget.spend(identity, new=message.new)
        queued += 1
    return queued
