"""What every part of the demo builder shares.

All the randomness of the demo comes from one `random.Random` and one Faker per
language, handed from part to part in the order the shop is built: products, customers
(with their addresses and channel identities), orders, tiers and tags, tickets. The
order of the draws is the data, so a part must never draw out of turn.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime

from faker import Faker
from sqlalchemy.orm import Session

from crm_store.customers import zone
from crm_store.models import Language

TAIPEI = "Asia/Taipei"
HISTORY_DAYS = 730


@dataclass(frozen=True)
class Demo:
    """The session the shop is added to, its random sources, `now` (aware, UTC) and the
    region of the mobile numbers of customers living in Taiwan."""

    session: Session
    rng: random.Random
    fake: dict[Language, Faker]
    now: datetime
    region: str


def taipei_date(moment: datetime) -> date:
    return moment.astimezone(zone(TAIPEI)).date()
