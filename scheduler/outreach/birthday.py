"""Birthday greetings, keyed ``birthday:<customer>:<year>``."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from crm_store.coupons import issue_coupon, month_end
from crm_store.customers import customers_with_birthday_today, zone
from crm_store.holdouts import outreach_held_out
from crm_store.models import Author, CouponPurpose, Language, MessagePurpose
from crm_store.outbox import enqueue
from crm_store.reach import PushBudget, preferred_identity
from crm_store.settings import Settings
from crm_store.templates import first_name

BIRTHDAY = {
    Language.ZH_TW: "{name}，生日快樂！🎂 {shop} 祝您有美好的一年。{coupon}",
    Language.EN: "Happy birthday, {name}! 🎂 Everyone at {shop} wishes you a wonderful year. "
    "{coupon}",
}
BIRTHDAY_COUPON = {
    Language.ZH_TW: "送您生日折價券 {code}，本月使用可折 NT$100。",
    Language.EN: "Here's a birthday coupon, {code}: NT$100 off this month.",
}
BIRTHDAY_COUPON_VALUE = Decimal(100)


def plan(session: Session, *, now: datetime, settings: Settings) -> int:
    """Greet today's birthdays at `birthday_hour` in each customer's own zone.

    Run at least every hour: a customer whose greeting hour passed today is greeted at
    once (29 February birthdays on 28 February in other years, by the store's query).
    """
    queued = 0
    budget = PushBudget.of(session, settings, now=now)
    for customer in customers_with_birthday_today(session, now=now):
        identity = preferred_identity(
            session, customer.id, marketing=True, channels=budget.channels
        )
        if identity is None:
            continue
        local = now.astimezone(zone(customer.timezone))
        at = local.replace(hour=settings.birthday_hour, minute=0, second=0, microsecond=0)
        key = f"birthday:{customer.id}:{local.year}"
        if outreach_held_out(
            session,
            kind="birthday",
            customer_id=customer.id,
            key=key,
            percent=settings.birthday_holdout_percent,
            now=now,
        ):
            continue
        code = issue_coupon(
            session,
            purpose=CouponPurpose.BIRTHDAY,
            customer_id=customer.id,
            now=now,
            value=BIRTHDAY_COUPON_VALUE,
            description="NT$100 off in the birthday month",
            expires_at=month_end(local),
            key=key,
        ).code
        coupon = BIRTHDAY_COUPON[customer.language].format(code=code)
        text = BIRTHDAY[customer.language].format(
            name=first_name(customer.name), shop=settings.shop_name, coupon=coupon
        )
        greeting = enqueue(
            session,
            key=key,
            identity=identity,
            purpose=MessagePurpose.MARKETING,
            text=text,
            author=Author.SYSTEM,
            now=now,
            not_before=max(now, at),
        )
        budget.spend(identity, new=greeting.new)
        queued += greeting.new
    return queued
