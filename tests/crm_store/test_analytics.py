from datetime import timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from crm_store.analytics import lifetime_value, rfm_scores
from tests.factories import make_customer, make_order, make_product, utc

NOW = utc(2026, 11, 1)


def test_rfm_scores_on_known_data(session: Session) -> None:
    product = make_product(session, price="100")
    # (days since each order, quantity per order): five customers, each best on a
    # different mix of recency, frequency and money.
    plans = {
        "champion": [(5, 5), (40, 5), (80, 5), (120, 5), (160, 5)],
        "loyal_old": [(200, 2), (260, 2), (300, 2), (360, 2)],
        "new_big": [(2, 30)],
        "one_off_old": [(700, 1)],
        "middling": [(60, 1), (400, 1)],
    }
    ids = {}
    for name, orders in plans.items():
        customer = make_customer(session, name=name)
        for days, quantity in orders:
            make_order(
                session,
                customer,
                placed_at=NOW - timedelta(days=days),
                product=product,
                quantity=quantity,
            )
        ids[name] = customer.id
    make_customer(session, name="no orders")

    scores = rfm_scores(session, now=NOW)
    by_name = {name: scores[customer_id] for name, customer_id in ids.items()}
    assert len(scores) == 5  # customers without a sale are not ranked

    # Recency ranks (5 most recent): new_big 2d, champion 5d, middling 60d, loyal 200d, 700d.
    assert {n: s.recency for n, s in by_name.items()} == {
        "new_big": 5,
        "champion": 4,
        "middling": 3,
        "loyal_old": 2,
        "one_off_old": 1,
    }
    # Frequency: 5, 4, 2, 1, 1 orders; the two one-order customers tie.
    assert {n: s.frequency_score for n, s in by_name.items()} == {
        "champion": 5,
        "loyal_old": 4,
        "middling": 3,
        "new_big": 1,
        "one_off_old": 1,
    }
    # Money: 2500, 3000, 800, 200, 100.
    assert {n: s.monetary_score for n, s in by_name.items()} == {
        "new_big": 5,
        "champion": 4,
        "loyal_old": 3,
        "middling": 2,
        "one_off_old": 1,
    }
    champion = by_name["champion"]
    assert (champion.recency_days, champion.frequency, champion.monetary) == (5, 5, Decimal(2500))
    assert champion.code == "454"
    assert champion.segment == "champion"
    assert by_name["new_big"].segment == "new"
    assert by_name["loyal_old"].segment == "at_risk"
    assert by_name["one_off_old"].segment == "hibernating"


def test_rfm_scores_for_some_customers_are_ranked_against_everyone(session: Session) -> None:
    product = make_product(session, price="100")
    customers = []
    for days in (10, 100, 1000):
        customer = make_customer(session)
        make_order(session, customer, placed_at=NOW - timedelta(days=days), product=product)
        customers.append(customer)
    only = rfm_scores(session, now=NOW, customer_ids=[customers[1].id])
    assert list(only) == [customers[1].id]
    assert only[customers[1].id].recency == 3


def test_lifetime_value_extrapolates_from_history(session: Session) -> None:
    product = make_product(session, price="1000")
    steady = make_customer(session)
    # Four orders over two years: 2 orders a year of 1000 → 2000 a year, 3 years → 6000.
    for days in (0, 243, 486, 730.5):
        make_order(session, steady, placed_at=NOW - timedelta(days=days), product=product)
    assert lifetime_value(steady, now=NOW) == Decimal("6000.00")

    newcomer = make_customer(session)
    make_order(session, newcomer, placed_at=NOW - timedelta(days=10), product=product)
    # Less than a year of history counts as one year: 1 order a year.
    assert lifetime_value(newcomer, now=NOW) == Decimal("3000.00")

    assert lifetime_value(make_customer(session), now=NOW) == Decimal(0)
