from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from crm_store.bulk import allocate_ids, bulk_insert, insert_columns
from crm_store.models import Customer, CustomerTag, Language, Tier
from tests.factories import utc


def test_bulk_rows_are_stored_exactly_as_the_orm_stores_them(
    session: Session, engine: Engine
) -> None:
    when = utc(2026, 5, 6, 7, 8, 9)
    orm = Customer(
        name="orm",
        language=Language.EN,
        tier=Tier.GOLD,
        created_at=when,
        updated_at=when,
        last_order_at=when,
        total_spent=Decimal("12.50"),
    )
    orm.set_birthday(date(1990, 2, 28))
    session.add(orm)
    session.flush()
    [bulk_id] = allocate_ids(session, Customer, 1)
    bulk_insert(
        session,
        Customer,
        [
            {
                "id": bulk_id,
                "name": "bulk",
                "language": Language.EN,
                "tier": Tier.GOLD,
                "timezone": "Asia/Taipei",
                "created_at": when,
                "updated_at": when,
                "last_order_at": when,
                "birthday": date(1990, 2, 28),
                "birth_month": 2,
                "birth_day": 28,
                "order_count": 0,
                "total_spent": Decimal("12.50"),
            }
        ],
    )
    session.commit()

    columns = "language, tier, created_at, last_order_at, birthday, total_spent"
    stored = session.execute(text(f"SELECT name, {columns} FROM customers ORDER BY id")).all()
    assert [row[0] for row in stored] == ["orm", "bulk"]
    assert tuple(stored[0][1:]) == tuple(stored[1][1:])
    # And the bulk row reads back like any other, and is found by time comparisons.
    found = session.scalars(select(Customer.name).where(Customer.last_order_at <= when)).all()
    assert sorted(found) == ["bulk", "orm"]


def test_allocated_ids_do_not_collide_with_existing_rows(session: Session) -> None:
    session.add(Customer(name="first", timezone="UTC"))
    session.flush()
    ids = allocate_ids(session, Customer, 3)
    assert len(set(ids)) == 3
    assert min(ids) > session.scalar(select(Customer.id))  # type: ignore[operator]


def test_columns_of_different_lengths_are_refused_and_nothing_is_written(
    session: Session,
) -> None:
    ids = allocate_ids(session, Customer, 2)
    with pytest.raises(ValueError, match="different lengths"):
        insert_columns(session, CustomerTag, {"customer_id": ids, "tag": ["vip"]})
    assert session.scalar(select(func.count()).select_from(CustomerTag)) == 0
