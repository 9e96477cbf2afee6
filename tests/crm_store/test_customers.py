from datetime import date, timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_store.customers import (
    CustomerNotFound,
    customers_with_birthday_today,
    find_customer_by_identity,
    get_customer,
    lapsed_customers,
    open_tickets,
    recent_orders,
)
from crm_store.models import (
    Channel,
    ComplaintCategory,
    OrderStatus,
    Ticket,
    TicketStatus,
)
from tests.factories import make_customer, make_order, make_product, utc


def birthday_names(session: Session, now_utc: tuple[int, ...]) -> set[str]:
    return {c.name for c in customers_with_birthday_today(session, now=utc(*now_utc))}


def test_find_customer_by_telegram_chat_and_by_phone(session: Session) -> None:
    alice = make_customer(session, name="Alice", phone="+886912345678", telegram_chat_id="4242")
    make_customer(session, name="Bob", phone="+886912000000")

    assert find_customer_by_identity(session, Channel.TELEGRAM, "4242") is alice
    assert find_customer_by_identity(session, Channel.SMS, "+886912345678") is alice
    assert find_customer_by_identity(session, Channel.SMS, "4242") is None


def test_get_customer_accepts_id_or_phone_in_local_form(session: Session) -> None:
    alice = make_customer(session, name="Alice", phone="+886912345678")

    assert get_customer(session, str(alice.id), region="TW") is alice
    assert get_customer(session, "0912-345-678", region="TW") is alice
    with pytest.raises(CustomerNotFound):
        get_customer(session, "0922 000 111", region="TW")
    with pytest.raises(CustomerNotFound):
        get_customer(session, "not a phone", region="TW")


def test_a_channel_address_belongs_to_one_customer(session: Session) -> None:
    make_customer(session, phone="+886912345678")
    with pytest.raises(IntegrityError):
        make_customer(session, phone="+886912345678")


def test_birthday_is_today_in_the_customers_own_time_zone(session: Session) -> None:
    make_customer(session, name="taipei", birthday=date(1990, 3, 15), timezone="Asia/Taipei")
    make_customer(
        session, name="los_angeles", birthday=date(1985, 3, 15), timezone="America/Los_Angeles"
    )
    make_customer(session, name="other_day", birthday=date(1990, 3, 16))

    # 16:30 UTC on 14 March: already 15 March (00:30) in Taipei, still the 14th in LA.
    assert birthday_names(session, (2026, 3, 14, 16, 30)) == {"taipei"}
    # 07:30 UTC on 15 March: the 15th in both places.
    assert birthday_names(session, (2026, 3, 15, 7, 30)) == {"taipei", "los_angeles"}
    # 20:00 UTC on 15 March: the 16th in Taipei, still the 15th in LA.
    assert birthday_names(session, (2026, 3, 15, 20, 0)) == {"other_day", "los_angeles"}


def test_leap_day_birthday_is_kept_on_28_february_in_other_years(session: Session) -> None:
    make_customer(session, name="leapling", birthday=date(2000, 2, 29))
    make_customer(session, name="feb28", birthday=date(1999, 2, 28))
    make_customer(session, name="mar1", birthday=date(1999, 3, 1))

    # 2027 is not a leap year: the leapling is greeted on the 28th, once.
    assert birthday_names(session, (2027, 2, 28, 4, 0)) == {"leapling", "feb28"}
    assert birthday_names(session, (2027, 3, 1, 4, 0)) == {"mar1"}
    # 2028 is: on the 29th itself, and not on the 28th.
    assert birthday_names(session, (2028, 2, 28, 4, 0)) == {"feb28"}
    assert birthday_names(session, (2028, 2, 29, 4, 0)) == {"leapling"}


def test_leap_day_birthday_in_los_angeles_follows_local_date(session: Session) -> None:
    make_customer(
        session, name="la_leapling", birthday=date(1996, 2, 29), timezone="America/Los_Angeles"
    )
    # 1 March 03:00 UTC is still 28 February evening in Los Angeles.
    assert birthday_names(session, (2027, 3, 1, 3, 0)) == {"la_leapling"}
    assert birthday_names(session, (2027, 2, 28, 3, 0)) == set()


def test_erased_customers_get_no_birthday_greeting(session: Session) -> None:
    customer = make_customer(session, name="gone", birthday=date(1990, 5, 5))
    customer.erased_at = utc(2026, 1, 1)
    session.flush()
    assert birthday_names(session, (2026, 5, 5, 4, 0)) == set()


def test_lapsed_customers_are_ranked_by_money_spent(session: Session) -> None:
    now = utc(2026, 11, 1)
    cheap = make_product(session, price="100")
    dear = make_product(session, price="5000")
    big = make_customer(session, name="big spender")
    make_order(session, big, placed_at=now - timedelta(days=400), product=dear)
    small = make_customer(session, name="small spender")
    make_order(session, small, placed_at=now - timedelta(days=200), product=cheap)
    recent = make_customer(session, name="recent")
    make_order(session, recent, placed_at=now - timedelta(days=200), product=cheap)
    make_order(session, recent, placed_at=now - timedelta(days=10), product=cheap)
    make_customer(session, name="never ordered")
    ancient = make_customer(session, name="ancient")
    make_order(session, ancient, placed_at=now - timedelta(days=2000), product=dear, quantity=2)

    names = [c.name for c in lapsed_customers(session, now=now, lapsed_days=180)]
    assert names == ["ancient", "big spender", "small spender"]
    within = lapsed_customers(session, now=now, lapsed_days=180, at_most_days=720)
    assert [c.name for c in within] == ["big spender", "small spender"]
    assert [c.name for c in lapsed_customers(session, now=now, lapsed_days=180, limit=1)] == [
        "ancient"
    ]


def test_cancelled_orders_do_not_count_towards_totals(session: Session) -> None:
    now = utc(2026, 11, 1)
    product = make_product(session, price="300")
    customer = make_customer(session)
    make_order(session, customer, placed_at=now - timedelta(days=30), product=product)
    make_order(
        session,
        customer,
        placed_at=now - timedelta(days=1),
        product=product,
        quantity=2,
        status=OrderStatus.CANCELLED,
    )
    assert customer.order_count == 1
    assert customer.total_spent == 300
    assert customer.last_order_at == now - timedelta(days=30)


def test_recent_orders_and_open_tickets(session: Session) -> None:
    now = utc(2026, 11, 1)
    customer = make_customer(session)
    for days_ago in (50, 5, 20, 1, 90, 30):
        make_order(session, customer, placed_at=now - timedelta(days=days_ago))
    orders = recent_orders(session, customer.id, limit=3)
    assert [(now - o.placed_at).days for o in orders] == [1, 5, 20]

    for status in (TicketStatus.OPEN, TicketStatus.RESOLVED, TicketStatus.HANDED_OFF):
        session.add(
            Ticket(customer_id=customer.id, category=ComplaintCategory.DELIVERY, status=status)
        )
    session.flush()
    assert sorted(t.status for t in open_tickets(session, customer.id)) == [
        TicketStatus.HANDED_OFF,
        TicketStatus.OPEN,
    ]


def test_times_come_back_time_zone_aware_in_utc(session: Session) -> None:
    customer = make_customer(session)
    customer.last_order_at = utc(2026, 1, 2, 3, 4)
    session.commit()
    session.expire_all()

    reloaded = session.get(type(customer), customer.id)
    assert reloaded is not None
    assert reloaded.last_order_at == utc(2026, 1, 2, 3, 4)
    assert reloaded.created_at.utcoffset() == timedelta(0)


def test_cancelling_an_order_later_takes_it_out_of_the_totals(session: Session) -> None:
    from crm_store.orders import find_order, set_order_status

    now = utc(2026, 11, 1)
    product = make_product(session, price="250")
    customer = make_customer(session)
    make_order(session, customer, placed_at=now - timedelta(days=100), product=product)
    make_order(session, customer, placed_at=now - timedelta(days=3), product=product)
    latest = recent_orders(session, customer.id, limit=1)[0]

    set_order_status(session, latest, OrderStatus.CANCELLED)
    assert (customer.order_count, customer.total_spent) == (1, 250)
    assert customer.last_order_at == now - timedelta(days=100)

    set_order_status(session, latest, OrderStatus.DELIVERED)
    assert (customer.order_count, customer.total_spent) == (2, 500)
    assert customer.last_order_at == now - timedelta(days=3)
    assert find_order(session, f" {latest.number.lower()} ") is latest
