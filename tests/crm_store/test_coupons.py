import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store import coupons, migrate
from crm_store.coupons import CodeFormat, issue_coupon, month_end
from crm_store.db import make_engine, make_session_factory, session_scope
from crm_store.models import Coupon, CouponPurpose, Language, OrderStatus
from crm_store.orders import record_order
from crm_store.settings import Settings
from scheduler import outreach
from tests.factories import make_customer, make_product, make_ticket

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
TAIPEI = ZoneInfo("Asia/Taipei")
SETTINGS = Settings(  # type: ignore[call-arg]
    _env_file=None, shop_name="小島選物", birthday_hour=10, winback_holdout_percent=0
)


@pytest.mark.parametrize(
    ("purpose", "pattern"),
    [
        (CouponPurpose.BIRTHDAY, r"BDAY-[0-9A-F]{6}"),
        (CouponPurpose.WINBACK, r"BACK-[0-9A-F]{6}"),
        (CouponPurpose.COMPLAINT, r"SORRY-[A-Z0-9]{6}"),
    ],
)
def test_each_purpose_keeps_its_code_format(purpose: CouponPurpose, pattern: str) -> None:
    for _ in range(50):
        assert re.fullmatch(pattern, coupons.CODE_FORMATS[purpose].draw())


def test_an_issued_coupon_is_stored_with_what_it_is_for(session: Session) -> None:
    customer = make_customer(session, phone="+886912500001")
    ticket = make_ticket(session, customer, now=NOW)
    coupon = issue_coupon(
        session,
        purpose=CouponPurpose.COMPLAINT,
        customer_id=customer.id,
        now=NOW,
        value=Decimal(100),
        description="NT$100 購物金",
        ticket_id=ticket.id,
    )
    session.commit()
    stored = session.scalars(select(Coupon)).one()
    assert stored.id == coupon.id and stored.code.startswith("SORRY-")
    assert (stored.customer_id, stored.purpose, stored.ticket_id) == (
        customer.id,
        CouponPurpose.COMPLAINT,
        ticket.id,
    )
    assert (stored.value, stored.description) == (Decimal(100), "NT$100 購物金")
    assert (stored.created_at, stored.expires_at) == (NOW, None)


def test_a_code_already_given_is_drawn_again(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = make_customer(session, phone="+886912500002")
    legacy = make_ticket(session, customer, now=NOW)
    legacy.coupon_code = "SORRY-AAAAAA"  # given before coupons were stored
    session.flush()
    draws: Iterator[str] = iter(["SORRY-BBBBBB", "SORRY-AAAAAA", "SORRY-BBBBBB", "SORRY-CCCCCC"])
    monkeypatch.setattr(CodeFormat, "draw", lambda self, choice: next(draws))
    first = issue_coupon(session, purpose=CouponPurpose.COMPLAINT, customer_id=customer.id, now=NOW)
    second = issue_coupon(
        session, purpose=CouponPurpose.COMPLAINT, customer_id=customer.id, now=NOW
    )
    session.commit()
    assert (first.code, second.code) == ("SORRY-BBBBBB", "SORRY-CCCCCC")
    assert sorted(session.scalars(select(Coupon.code))) == ["SORRY-BBBBBB", "SORRY-CCCCCC"]


def test_a_code_taken_by_a_concurrent_transaction_is_drawn_again(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = make_customer(session, phone="+886912500003")
    session.commit()
    draws: Iterator[str] = iter(["BACK-000001", "BACK-000002"])
    monkeypatch.setattr(CodeFormat, "draw", lambda self, choice: next(draws))
    real_taken = coupons._taken
    looked: list[str] = []

    def taken_after_the_look(session: Session, code: str) -> bool:
        # The first look finds the code free; then someone else takes it.
        if not looked:
            looked.append(code)
            session.add(
                Coupon(
                    code=code,
                    customer_id=customer.id,
                    purpose=CouponPurpose.WINBACK,
                    created_at=NOW,
                )
            )
            session.flush()
            return False
        return real_taken(session, code)

    monkeypatch.setattr(coupons, "_taken", taken_after_the_look)
    coupon = issue_coupon(session, purpose=CouponPurpose.WINBACK, customer_id=customer.id, now=NOW)
    session.commit()
    assert coupon.code == "BACK-000002"
    assert sorted(session.scalars(select(Coupon.code))) == ["BACK-000001", "BACK-000002"]


def test_a_coupon_keyed_to_a_message_is_issued_once(session: Session) -> None:
    customer = make_customer(session, phone="+886912500004")
    first = issue_coupon(
        session, purpose=CouponPurpose.BIRTHDAY, customer_id=customer.id, now=NOW, key="k:1"
    )
    again = issue_coupon(
        session, purpose=CouponPurpose.BIRTHDAY, customer_id=customer.id, now=NOW, key="k:1"
    )
    other = issue_coupon(
        session, purpose=CouponPurpose.BIRTHDAY, customer_id=customer.id, now=NOW, key="k:2"
    )
    assert first.code == again.code != other.code
    assert len(session.scalars(select(Coupon)).all()) == 2


def test_month_end_is_the_next_months_first_instant_in_the_local_zone() -> None:
    assert month_end(datetime(2026, 11, 23, 10, tzinfo=TAIPEI)) == datetime(
        2026, 12, 1, tzinfo=TAIPEI
    )
    assert month_end(datetime(2026, 12, 31, 23, tzinfo=TAIPEI)) == datetime(
        2027, 1, 1, tzinfo=TAIPEI
    )


def test_every_birthday_coupon_sent_is_stored_once(session: Session) -> None:
    customer = make_customer(
        session, name="陳美玲", birthday=date(1990, 11, 23), phone="+886912500005"
    )
    morning = datetime(2026, 11, 23, 10, 0, tzinfo=TAIPEI)
    assert outreach.birthday.plan(session, now=morning, settings=SETTINGS) == 1
    assert outreach.birthday.plan(session, now=morning + timedelta(hours=1), settings=SETTINGS) == 0
    stored = session.scalars(select(Coupon)).one()
    assert stored.code.startswith("BDAY-") and stored.purpose is CouponPurpose.BIRTHDAY
    assert (stored.customer_id, stored.value) == (customer.id, Decimal(100))
    assert stored.expires_at == datetime(2026, 12, 1, tzinfo=TAIPEI)
    assert stored.idempotency_key == f"birthday:{customer.id}:2026"


def test_every_winback_coupon_sent_is_stored(session: Session) -> None:
    product = make_product(session, sku="CPN-01")
    customer = make_customer(session, language=Language.EN, phone="+886912500006")
    record_order(
        session,
        customer=customer,
        number="CPN-0001",
        lines=[(product, 1)],
        status=OrderStatus.DELIVERED,
        placed_at=NOW - timedelta(days=SETTINGS.winback_after_days + 30),
    )
    assert outreach.winback.plan(session, now=NOW, settings=SETTINGS) == 1
    stored = session.scalars(select(Coupon)).one()
    assert stored.code.startswith("BACK-") and stored.purpose is CouponPurpose.WINBACK
    assert (stored.customer_id, stored.value) == (customer.id, Decimal(150))


def test_the_migration_records_coupons_already_given_on_tickets(database_url: str) -> None:
    migrate.downgrade(database_url, "0005")
    engine = make_engine(database_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            customer = make_customer(session, phone="+886912500007")
            ticket = make_ticket(session, customer, now=NOW)
            ticket.compensation_kind, ticket.compensation_value = "coupon", Decimal(300)
            ticket.coupon_code = "SORRY-OLD123"
            make_ticket(session, customer, now=NOW)  # no compensation: no coupon
            ticket_id, customer_id = ticket.id, customer.id
        migrate.upgrade(database_url)
        with session_scope(make_session_factory(engine)) as session:
            stored = session.scalars(select(Coupon)).one()
            assert (stored.code, stored.customer_id, stored.ticket_id) == (
                "SORRY-OLD123",
                customer_id,
                ticket_id,
            )
            assert (stored.purpose, stored.value) == (CouponPurpose.COMPLAINT, Decimal(300))
    finally:
        engine.dispose()
