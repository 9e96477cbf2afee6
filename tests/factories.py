"""Small builders for test data; each adds to the session and flushes."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crm_store import campaigns
from crm_store.bulk import allocate_ids, bulk_insert
from crm_store.models import (
    Campaign,
    Channel,
    ChannelIdentity,
    ComplaintCategory,
    Conversation,
    Customer,
    Language,
    Order,
    OrderStatus,
    Product,
    StaffRole,
    StaffUser,
    Ticket,
    Tier,
)
from crm_store.orders import order_number, record_order
from crm_store.staff import create_staff_user
from crm_store.tickets import open_ticket
from crm_store.variants import Templates

_numbers = itertools.count(1_000_001)


def make_customer(
    session: Session,
    *,
    name: str = "王小明",
    birthday: date | None = None,
    timezone: str = "Asia/Taipei",
    language: Language = Language.ZH_TW,
    tier: Tier = Tier.STANDARD,
    phone: str | None = None,
    telegram_chat_id: str | None = None,
    marketing_consent: bool = True,
) -> Customer:
    customer = Customer(name=name, timezone=timezone, language=language, tier=tier)
    customer.set_birthday(birthday)
    for channel, address in ((Channel.SMS, phone), (Channel.TELEGRAM, telegram_chat_id)):
        if address is not None:
            customer.identities.append(
                ChannelIdentity(
                    channel=channel, address=address, marketing_consent=marketing_consent
                )
            )
    session.add(customer)
    session.flush()
    return customer


def make_product(
    session: Session,
    *,
    sku: str | None = None,
    price: str = "500",
    name_zh: str = "保溫杯",
    name_en: str = "Insulated Bottle",
) -> Product:
    product = Product(
        sku=sku or f"SKU-{next(_numbers)}",
        name_zh=name_zh,
        name_en=name_en,
        category="kitchen",
        price=Decimal(price),
    )
    session.add(product)
    session.flush()
    return product


def make_order(
    session: Session,
    customer: Customer,
    *,
    placed_at: datetime,
    product: Product | None = None,
    quantity: int = 1,
    status: OrderStatus = OrderStatus.DELIVERED,
) -> None:
    record_order(
        session,
        customer=customer,
        number=f"A{next(_numbers)}",
        placed_at=placed_at,
        lines=[(product or make_product(session), quantity)],
        status=status,
    )
    session.flush()


def paid_orders(
    session: Session,
    customer_ids: Sequence[int],
    *,
    total: int,
    placed_at: datetime,
    first_number: int = 1,
) -> None:
    """A paid order of NT$`total` for each of `customer_ids`, all placed at `placed_at`,
    numbered from `first_number` on (as many customers at once as a campaign measures)."""
    session.add_all(
        Order(
            number=order_number(number),
            customer_id=customer,
            status=OrderStatus.PAID,
            total=Decimal(total),
            placed_at=placed_at,
        )
        for number, customer in enumerate(customer_ids, start=first_number)
    )
    session.flush()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc,arg-type]


def make_customer_with_late_order(
    session: Session,
    *,
    chat_id: str | None = None,
    phone: str | None = None,
    language: Language,
    name: str,
    tier: Tier = Tier.STANDARD,
) -> tuple[int, str]:
    """A Telegram or SMS customer with one shipped order that is a day late; commits.

    Returns the customer's id and the order number.
    """
    key = int("".join(filter(str.isdigit, chat_id or phone or "")))
    product = session.scalar(select(Product).where(Product.sku == "BTL-01"))
    if product is None:
        product = make_product(session, sku="BTL-01", price="690")
    customer = make_customer(
        session, name=name, language=language, tier=tier, telegram_chat_id=chat_id, phone=phone
    )
    order = record_order(
        session,
        customer=customer,
        number=f"A{9000000 + key % 1000000:07d}",
        placed_at=datetime.now(UTC) - timedelta(days=4),
        lines=[(product, 1)],
        status=OrderStatus.SHIPPED,
        carrier="黑貓宅急便",
        tracking_number="9012345678",
        expected_delivery=date.today() - timedelta(days=1),
    )
    session.commit()
    return customer.id, order.number


def make_ticket(
    session: Session,
    customer: Customer,
    *,
    conversation: Conversation | None = None,
    category: ComplaintCategory = ComplaintCategory.DELIVERY,
    language: Language = Language.ZH_TW,
    text: str = "late",
    now: datetime | None = None,
) -> Ticket:
    """A complaint opened by `customer`; step 1 logged at `now` (default: the present)."""
    return open_ticket(
        session,
        customer=customer,
        conversation=conversation,
        category=category,
        language=language,
        text=text,
        now=now or datetime.now(UTC),
    )


def make_staff(session: Session, email: str, role: StaffRole) -> StaffUser:
    return create_staff_user(
        session=session,
        email=email,
        display_name=email.split("@")[0],
        role=role,
        password="long enough password",
        actor="test",
    )


def scheduled_campaign(
    session: Session,
    *,
    author: StaffUser,
    approver: StaffUser,
    templates: Templates,
    send_at: datetime,
    now: datetime,
    name: str = "週年慶",
    holdout_percent: int = 0,
) -> Campaign:
    """A campaign to everyone (no one held out unless asked), written by `author`,
    approved by `approver`, scheduled."""
    campaign = campaigns.create(
        session,
        name=name,
        segment={},
        message_templates=templates,
        send_at=send_at,
        recurrence=None,
        by=author,
        now=now,
        holdout_percent=holdout_percent,
    )
    campaigns.approve(session, campaign, by=approver, now=now)
    campaigns.schedule(session, campaign, by=author, now=now)
    return campaign


def bulk_customers(
    session: Session, count: int, *, now: datetime, language: Language = Language.ZH_TW
) -> list[int]:
    """`count` customers named 顧客<id>, inserted at once (COPY on PostgreSQL); their ids."""
    ids = allocate_ids(session, Customer, count)
    bulk_insert(
        session,
        Customer,
        [
            {
                "id": customer_id,
                "name": f"顧客{customer_id}",
                "language": language,
                "timezone": "Asia/Taipei",
                "tier": Tier.STANDARD,
                "order_count": 0,
                "total_spent": 0,
                "created_at": now,
                "updated_at": now,
            }
            for customer_id in ids
        ],
    )
    return ids


def consenting_rows(
    customer_ids: list[int], channel: Channel, addresses: list[str], *, now: datetime
) -> list[dict[str, object]]:
    """Rows for `bulk_insert` into channel identities: customer i reachable at
    `addresses[i]` on `channel`, with marketing consent."""
    return [
        {
            "customer_id": customer_id,
            "channel": channel,
            "address": address,
            "marketing_consent": True,
            "opted_out": False,
            "reachable": True,
            "created_at": now,
        }
        for customer_id, address in zip(customer_ids, addresses, strict=True)
    ]


def consenting_sms_rows(customer_ids: list[int], *, now: datetime) -> list[dict[str, object]]:
    """Rows for `bulk_insert` into channel identities: an SMS number, with marketing
    consent, for each customer (+8869 and the id in eight digits)."""
    numbers = [f"+8869{customer_id:08d}" for customer_id in customer_ids]
    return consenting_rows(customer_ids, Channel.SMS, numbers, now=now)


def lapsed_customers(session: Session, count: int, *, now: datetime) -> list[int]:
    """`count` customers with an SMS number and marketing consent, whose one order (NT$900,
    delivered) was 200 days before `now`: win-back's audience. Their ids."""
    ids = bulk_customers(session, count, now=now - timedelta(days=400))
    bulk_insert(session, ChannelIdentity, consenting_sms_rows(ids, now=now))
    placed = now - timedelta(days=200)
    for customer in ids:
        session.add(
            Order(
                number=order_number(customer),
                customer_id=customer,
                status=OrderStatus.DELIVERED,
                total=Decimal(900),
                placed_at=placed,
            )
        )
    session.execute(
        update(Customer)
        .where(Customer.id.in_(ids))
        .values(last_order_at=placed, order_count=1, total_spent=900)
    )
    return ids
