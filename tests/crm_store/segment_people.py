"""Test customers for the segment tests, and how each of their identities may be reached."""

import itertools
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from crm_store.models import (
    Channel,
    ChannelIdentity,
    Customer,
    CustomerTag,
    Language,
    Tier,
)
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
