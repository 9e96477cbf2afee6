"""RFM scores and customer-lifetime-value estimates.

RFM ranks every customer with at least one sale on recency, frequency and money
spent, each scored 1 (worst fifth) to 5 (best fifth) from the percent rank, so ties
share a score. The lifetime value is the historical estimate
``average order value × orders per year × expected years as a customer``, with the
years so far counted as at least one so that a new customer's single order is not
extrapolated into a fortune.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store.models import Customer

EXPECTED_CUSTOMER_YEARS = Decimal(3)
SECONDS_PER_YEAR = Decimal("365.25") * 24 * 3600


@dataclass(frozen=True, slots=True)
class RFMScore:
    customer_id: int
    recency_days: int
    frequency: int
    monetary: Decimal
    recency: int
    frequency_score: int
    monetary_score: int

    @property
    def code(self) -> str:
        return f"{self.recency}{self.frequency_score}{self.monetary_score}"

    @property
    def segment(self) -> str:
        """A name marketers know, from the recency and frequency scores."""
        r, f = self.recency, self.frequency_score
        if r >= 4 and f >= 4:
            return "champion"
        if r >= 4 and f <= 1:
            return "new"
        if r >= 3 and f >= 3:
            return "loyal"
        if r <= 2 and f >= 3:
            return "at_risk"
        if r <= 2:
            return "hibernating"
        return "promising"


def _score(percent_rank: float) -> int:
    return min(5, 1 + int(percent_rank * 5))


def rfm_scores(
    session: Session, *, now: datetime, customer_ids: list[int] | None = None
) -> dict[int, RFMScore]:
    """RFM scores at `now`, ranked across all customers with a sale.

    `customer_ids` limits which scores are returned, not who they are ranked against.
    """
    ranked = (
        select(
            Customer.id,
            Customer.last_order_at,
            Customer.order_count,
            Customer.total_spent,
            func.percent_rank().over(order_by=Customer.last_order_at).label("r"),
            func.percent_rank().over(order_by=Customer.order_count).label("f"),
            func.percent_rank().over(order_by=Customer.total_spent).label("m"),
        )
        .where(Customer.order_count > 0, Customer.erased_at.is_(None))
        .subquery()
    )
    query = select(ranked)
    if customer_ids is not None:
        query = query.where(ranked.c.id.in_(customer_ids))
    scores: dict[int, RFMScore] = {}
    for row in session.execute(query):
        scores[row.id] = RFMScore(
            customer_id=row.id,
            recency_days=(now - row.last_order_at).days,
            frequency=row.order_count,
            monetary=Decimal(row.total_spent),
            recency=_score(row.r),
            frequency_score=_score(row.f),
            monetary_score=_score(row.m),
        )
    return scores


def lifetime_value(customer: Customer, *, now: datetime) -> Decimal:
    """The estimated lifetime value of `customer` at `now` (see the module notes)."""
    if not customer.order_count or customer.first_order_at is None:
        return Decimal(0)
    average_order = Decimal(customer.total_spent) / customer.order_count
    seconds_so_far = Decimal((now - customer.first_order_at).total_seconds())
    years_so_far = max(seconds_so_far / SECONDS_PER_YEAR, Decimal(1))
    orders_per_year = customer.order_count / years_so_far
    return (average_order * orders_per_year * EXPECTED_CUSTOMER_YEARS).quantize(Decimal("0.01"))
