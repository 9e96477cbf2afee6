"""Coupon codes: made, stored and handed out in one place.

`issue_coupon` is the only way a code comes into being. Every code it returns is a
row of `coupons` first, so the shop can look any code up (who has it, what for, until
when), and the unique constraint means a code is never issued twice: a code already
taken, here or on a ticket written before coupons were stored, is drawn again.

A coupon that goes out with a queued message carries that message's idempotency key:
a planner that runs again for the same message is given the same coupon, not a new
one that nobody will ever receive.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_store.db import savepoint
from crm_store.models import Coupon, CouponPurpose, Ticket


@dataclass(frozen=True, slots=True)
class CodeFormat:
    """How a purpose's codes look to the customer: ``<prefix>-<length characters>``."""

    prefix: str
    alphabet: str
    length: int = 6

    def draw(self, choice: Callable[[str], str] = secrets.choice) -> str:
        return f"{self.prefix}-" + "".join(choice(self.alphabet) for _ in range(self.length))


HEX_DIGITS = string.digits + "ABCDEF"
CODE_FORMATS = {
    CouponPurpose.BIRTHDAY: CodeFormat("BDAY", HEX_DIGITS),
    CouponPurpose.WINBACK: CodeFormat("BACK", HEX_DIGITS),
    CouponPurpose.COMPLAINT: CodeFormat("SORRY", string.ascii_uppercase + string.digits),
}


def issue_coupon(
    session: Session,
    *,
    purpose: CouponPurpose,
    customer_id: int,
    now: datetime,
    value: Decimal | None = None,
    description: str | None = None,
    expires_at: datetime | None = None,
    ticket_id: int | None = None,
    key: str | None = None,
    choice: Callable[[str], str] = secrets.choice,
) -> Coupon:
    """A new coupon for `customer_id`, stored with a code no one else has had.

    With `key` (the idempotency key of the message it goes out with), the coupon
    already issued under that key is returned instead, if there is one. `choice` draws
    the code's characters: a seeded one gives the demo the same codes every time.
    """
    if key is not None and (existing := _issued_under(session, key)) is not None:
        return existing
    while True:
        code = CODE_FORMATS[purpose].draw(choice)
        if _taken(session, code):
            continue
        coupon = Coupon(
            code=code,
            customer_id=customer_id,
            purpose=purpose,
            value=value,
            description=description,
            ticket_id=ticket_id,
            idempotency_key=key,
            created_at=now,
            expires_at=expires_at,
        )
        try:
            # A concurrent transaction can take the code, or the key, after the look.
            with savepoint(session):
                session.add(coupon)
                session.flush()
        except IntegrityError:
            if key is not None and (existing := _issued_under(session, key)) is not None:
                return existing
            if _taken(session, code):
                continue
            raise
        return coupon


def month_end(local: datetime) -> datetime:
    """The first instant of the month after `local`'s, in its own zone, as UTC."""
    first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (
        first.replace(year=first.year + 1, month=1)
        if first.month == 12
        else first.replace(month=first.month + 1)
    )
    return following.astimezone(UTC)


def _issued_under(session: Session, key: str) -> Coupon | None:
    return session.scalar(select(Coupon).where(Coupon.idempotency_key == key))


def _taken(session: Session, code: str) -> bool:
    return (
        session.scalar(select(Coupon.id).where(Coupon.code == code)) is not None
        or session.scalar(select(Ticket.id).where(Ticket.coupon_code == code)) is not None
    )
