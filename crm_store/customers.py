"""Customers: look-ups by channel, birthdays, recent activity and erasure on request."""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session, selectinload

from crm_store.audit import record_audit
from crm_store.models import (
    AuditLog,
    Channel,
    ChannelIdentity,
    Conversation,
    Customer,
    CustomerTag,
    Message,
    Order,
    OutboxMessage,
    OutboxStatus,
    SatisfactionSurvey,
    SurveyStatus,
    Ticket,
    TicketStatus,
)
from crm_store.phones import InvalidPhoneNumber, normalize_phone

OPEN_TICKET_STATUSES = (TicketStatus.OPEN, TicketStatus.HANDED_OFF, TicketStatus.REOPENED)
ERASED_NAME = "(erased)"
ERASED_TEXT = "[erased]"
# The audit action of staff correcting a customer's details (`crm_store.corrections`);
# its entries hold the old and new values, which erasure drops.
CORRECTED_ACTION = "customer.correct"


class CustomerNotFound(LookupError):
    """No customer matches the given id, phone number or identity."""

    def __init__(self, key: str) -> None:
        super().__init__(f"no customer {key}")
        self.key = key


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    """The time zone called `name`, or UTC when the name is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def find_customer_by_identity(session: Session, channel: Channel, address: str) -> Customer | None:
    """The customer reachable at `address` on `channel` (a chat id, or a phone in E.164)."""
    return session.scalar(
        select(Customer)
        .join(ChannelIdentity)
        .where(ChannelIdentity.channel == channel, ChannelIdentity.address == address)
    )


def get_customer(session: Session, key: str, *, region: str) -> Customer:
    """A customer by numeric id or by phone number (in any form `region` understands).

    Raises:
        CustomerNotFound: when neither matches.
    """
    customer: Customer | None = None
    if key.isdigit() and len(key) < 9:
        customer = session.get(Customer, int(key))
    else:
        try:
            phone = normalize_phone(key, region)
        except InvalidPhoneNumber as error:
            raise CustomerNotFound(f"with id or phone {key!r}") from error
        customer = find_customer_by_identity(session, Channel.SMS, phone)
    if customer is None:
        raise CustomerNotFound(f"with id or phone {key!r}")
    return customer


def birthday_matches(birth_month: int, birth_day: int, today: date) -> bool:
    """Whether a birthday falls on `today`; 29 February is kept on 28 February in other years."""
    if (birth_month, birth_day) == (today.month, today.day):
        return True
    return (
        (birth_month, birth_day) == (2, 29)
        and (today.month, today.day) == (2, 28)
        and not calendar.isleap(today.year)
    )


def customers_with_birthday_today(session: Session, *, now: datetime) -> list[Customer]:
    """Customers whose birthday is today in their own time zone, at instant `now`.

    Every time zone's date is within a day of UTC's, so the index on (month, day) narrows
    the search to three calendar days; each candidate is then checked in its own zone.
    """
    utc_today = now.astimezone(UTC).date()
    days = [utc_today + timedelta(days=offset) for offset in (-1, 0, 1)]
    month_days = {(day.month, day.day) for day in days}
    if any(day.month == 2 and day.day == 28 and not calendar.isleap(day.year) for day in days):
        month_days.add((2, 29))
    candidates = session.scalars(
        select(Customer).where(
            Customer.erased_at.is_(None),
            or_(
                *(
                    and_(Customer.birth_month == month, Customer.birth_day == day)
                    for month, day in sorted(month_days)
                )
            ),
        )
    )
    return [
        customer
        for customer in candidates
        if customer.birth_month is not None
        and customer.birth_day is not None
        and birthday_matches(
            customer.birth_month, customer.birth_day, now.astimezone(zone(customer.timezone)).date()
        )
    ]


def lapsed_customers(
    session: Session,
    *,
    now: datetime,
    lapsed_days: int,
    at_most_days: int | None = None,
    limit: int | None = None,
) -> list[Customer]:
    """Customers whose last order is at least `lapsed_days` old, the worth-keeping first.

    `at_most_days` leaves out customers gone so long that a message is no longer worth
    sending. The order is by money spent, then by number of orders: the customers whose
    loss costs most come first.
    """
    query = select(Customer.id).where(
        Customer.last_order_at <= now - timedelta(days=lapsed_days),
        Customer.erased_at.is_(None),
    )
    if at_most_days is not None:
        query = query.where(Customer.last_order_at >= now - timedelta(days=at_most_days))
    # Rank on ids first (from the covering index), then load only the chosen rows.
    ranked_ids = session.scalars(
        query.order_by(Customer.total_spent.desc(), Customer.order_count.desc(), Customer.id).limit(
            limit
        )
    ).all()
    by_id: dict[int, Customer] = {}
    for start in range(0, len(ranked_ids), 1_000):
        chunk = ranked_ids[start : start + 1_000]
        by_id.update(
            (customer.id, customer)
            for customer in session.scalars(select(Customer).where(Customer.id.in_(chunk)))
        )
    return [by_id[customer_id] for customer_id in ranked_ids]


def recent_orders(session: Session, customer_id: int, *, limit: int = 5) -> Sequence[Order]:
    return session.scalars(
        select(Order)
        .where(Order.customer_id == customer_id)
        .options(selectinload(Order.items))
        .order_by(Order.placed_at.desc(), Order.id.desc())
        .limit(limit)
    ).all()


def open_tickets(session: Session, customer_id: int) -> Sequence[Ticket]:
    return session.scalars(
        select(Ticket)
        .where(Ticket.customer_id == customer_id, Ticket.status.in_(OPEN_TICKET_STATUSES))
        .order_by(Ticket.created_at.desc())
    ).all()


def forget_customer(session: Session, customer_id: int, *, actor: str) -> Customer:
    """Erase a customer's personal data on request, keeping anonymous aggregates.

    Name, contact details, birthday, notes, tags, message texts, complaint texts and
    addresses are erased; orders' amounts and dates, ticket categories, root causes
    and satisfaction scores stay, so reports keep their numbers. Pending messages to
    the customer are cancelled and their channel addresses blanked, so a later
    contact from the same number starts a new, unrelated customer. The audit log's
    corrections of the customer keep which fields changed and lose the values.

    Raises:
        CustomerNotFound: when there is no such customer.
    """
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise CustomerNotFound(f"with id {customer_id}")
    now = datetime.now(UTC)
    customer.name = ERASED_NAME
    customer.email = None
    customer.set_birthday(None)
    customer.notes = None
    customer.erased_at = now
    session.execute(delete(CustomerTag).where(CustomerTag.customer_id == customer_id))

    conversation_ids = select(Conversation.id).where(Conversation.customer_id == customer_id)
    session.execute(
        update(Message)
        .where(Message.conversation_id.in_(conversation_ids))
        .values(text=ERASED_TEXT, payload=None)
    )
    session.execute(
        update(Ticket)
        .where(Ticket.customer_id == customer_id)
        .values(description=ERASED_TEXT, problem_summary=None, agreed_action=None)
    )
    session.execute(
        update(Order).where(Order.customer_id == customer_id).values(shipping_address=None)
    )
    session.execute(
        update(SatisfactionSurvey)
        .where(SatisfactionSurvey.customer_id == customer_id)
        .values(reply_text=None)
    )
    session.execute(
        update(SatisfactionSurvey)
        .where(
            SatisfactionSurvey.customer_id == customer_id,
            SatisfactionSurvey.status.in_((SurveyStatus.SCHEDULED, SurveyStatus.SENT)),
        )
        .values(status=SurveyStatus.CANCELLED)
    )
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.customer_id == customer_id,
            OutboxMessage.status == OutboxStatus.PENDING,
        )
        .values(status=OutboxStatus.CANCELLED, last_error="customer erased")
    )
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.customer_id == customer_id)
        .values(body=ERASED_TEXT, payload=None)
    )
    # Conversations still point at the identity rows, so the rows stay and lose the
    # address, which is the personal part.
    for identity in customer.identities:
        identity.address = f"erased:{identity.id}"
        identity.display_name = None
        identity.reachable = False
        identity.opted_out = True
        identity.marketing_consent = False
        identity.unreachable_reason = "customer erased"
    # The log outlives the erasure: corrections keep which fields changed, not the values.
    corrections = select(AuditLog).where(
        AuditLog.action == CORRECTED_ACTION,
        AuditLog.entity == "customer",
        AuditLog.entity_id == str(customer_id),
    )
    for entry in session.scalars(corrections):
        entry.details = {"fields": sorted((entry.details or {}).get("changes", {}))}
    record_audit(
        session, actor=actor, action="customer.forget", entity="customer", entity_id=customer_id
    )
    return customer


def merge_customer(session: Session, *, source: Customer, into: Customer, actor: str) -> None:
    """Move everything of `source` onto `into` and delete `source`.

    Used when a customer first known only by a Telegram chat turns out to be one the
    shop already knows (they shared their phone number). Order totals are recomputed
    by the caller's next order change; the source is normally a chat-only record.
    """
    if source.id == into.id:
        return
    taken = select(CustomerTag.tag).where(CustomerTag.customer_id == into.id)
    session.execute(
        delete(CustomerTag).where(CustomerTag.customer_id == source.id, CustomerTag.tag.in_(taken))
    )
    for table in (
        CustomerTag,
        ChannelIdentity,
        Order,
        Conversation,
        Ticket,
        OutboxMessage,
        SatisfactionSurvey,
    ):
        session.execute(
            update(table).where(table.customer_id == source.id).values(customer_id=into.id)
        )
    into.order_count += source.order_count
    into.total_spent += source.total_spent
    into.first_order_at = min(
        (at for at in (into.first_order_at, source.first_order_at) if at), default=None
    )
    into.last_order_at = max(
        (at for at in (into.last_order_at, source.last_order_at) if at), default=None
    )
    record_audit(
        session,
        actor=actor,
        action="customer.merge",
        entity="customer",
        entity_id=into.id,
        details={"merged_customer_id": source.id},
    )
    session.flush()
    session.expire_all()
    session.execute(delete(Customer).where(Customer.id == source.id))
