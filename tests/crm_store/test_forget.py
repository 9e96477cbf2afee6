from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.customers import CustomerNotFound, find_customer_by_identity, forget_customer
from crm_store.models import (
    AuditLog,
    Author,
    Channel,
    ComplaintCategory,
    Conversation,
    DeliveryStatus,
    Direction,
    Message,
    MessagePurpose,
    OutboxMessage,
    OutboxStatus,
    Ticket,
)
from tests.factories import make_customer, make_order, utc


def test_forget_erases_personal_data_and_keeps_anonymous_aggregates(session: Session) -> None:
    customer = make_customer(
        session,
        name="林志明",
        birthday=date(1988, 8, 8),
        phone="+886912345678",
        telegram_chat_id="777",
    )
    customer.email = "lin@example.com"
    make_order(session, customer, placed_at=utc(2026, 1, 1))
    identity = customer.identities[0]
    conversation = Conversation(customer_id=customer.id, identity_id=identity.id)
    session.add(conversation)
    session.flush()
    session.add(
        Message(
            conversation_id=conversation.id,
            direction=Direction.INBOUND,
            author=Author.CUSTOMER,
            channel=Channel.SMS,
            channel_message_id="SM1",
            text="我的地址是台北市信義路一段",
            delivery_status=DeliveryStatus.RECEIVED,
        )
    )
    session.add(
        Ticket(
            customer_id=customer.id,
            category=ComplaintCategory.DELIVERY,
            description="包裹壞了",
            root_cause="courier_delay",
            satisfaction_score=2,
        )
    )
    session.add(
        OutboxMessage(
            idempotency_key="birthday:1:2026",
            customer_id=customer.id,
            identity_id=identity.id,
            channel=Channel.SMS,
            purpose=MessagePurpose.MARKETING,
            body="生日快樂 林志明",
            not_before=utc(2026, 8, 8),
        )
    )
    session.commit()

    forget_customer(session, customer.id, actor="test")
    session.commit()
    session.expire_all()

    assert customer.name == "(erased)"
    assert customer.email is None and customer.birthday is None and customer.birth_month is None
    assert customer.erased_at is not None
    assert find_customer_by_identity(session, Channel.SMS, "+886912345678") is None
    assert find_customer_by_identity(session, Channel.TELEGRAM, "777") is None
    assert all(not i.reachable and not i.marketing_consent for i in customer.identities)
    assert session.scalars(select(Message.text)).all() == ["[erased]"]
    ticket = session.scalars(select(Ticket)).one()
    assert ticket.description == "[erased]"
    assert (ticket.root_cause, ticket.satisfaction_score) == ("courier_delay", 2)
    outbox = session.scalars(select(OutboxMessage)).one()
    assert outbox.status is OutboxStatus.CANCELLED
    assert "林志明" not in outbox.body
    # Totals stay for reports.
    assert customer.order_count == 1 and customer.total_spent > 0
    audit = session.scalars(select(AuditLog).where(AuditLog.action == "customer.forget")).one()
    assert audit.entity_id == str(customer.id)

    # The same number writing in later is a stranger, and may be stored again.
    make_customer(session, name="new", phone="+886912345678")
    session.flush()
    assert find_customer_by_identity(session, Channel.SMS, "+886912345678").name == "new"


def test_forget_unknown_customer_changes_nothing(session: Session) -> None:
    with pytest.raises(CustomerNotFound):
        forget_customer(session, 12345, actor="test")
    assert session.scalars(select(AuditLog)).all() == []


def test_erased_customers_leave_win_back_lists(session: Session) -> None:
    from crm_store.customers import lapsed_customers

    customer = make_customer(session)
    make_order(session, customer, placed_at=utc(2025, 1, 1))
    now = utc(2026, 11, 1)
    assert lapsed_customers(session, now=now, lapsed_days=180) == [customer]
    forget_customer(session, customer.id, actor="test")
    session.flush()
    assert lapsed_customers(session, now=now - timedelta(days=0), lapsed_days=180) == []
