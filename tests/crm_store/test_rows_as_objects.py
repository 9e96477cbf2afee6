"""Rows read and written with Core on the hot path, made objects of the session as a query
through the ORM would have made them (`crm_store.db.inserted`, `as_loaded`)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from crm_store.conversations import known_identity, new_identity
from crm_store.models import Channel, ChannelIdentity, Customer, Language, Tier
from tests.factories import make_customer, utc

NOW = utc(2026, 12, 2, 9, 0)


def test_an_inserted_row_is_an_object_of_the_session_with_its_defaults(session: Session) -> None:
    identity = new_identity(
        session,
        channel=Channel.TELEGRAM,
        address="777",
        language=Language.EN,
        timezone="Asia/Taipei",
        display_name="Amy",
        now=NOW,
    )
    customer = identity.customer
    assert customer.tier is Tier.STANDARD  # a column default, filled in by the insert
    assert session.get(Customer, customer.id) is customer  # no second object for the row
    assert customer in session and not session.dirty

    customer.name = "Amy 林"  # tracked as a loaded object's change is
    session.commit()
    session.expire_all()
    assert session.get_one(Customer, customer.id).name == "Amy 林"


def test_a_known_identity_is_the_object_the_session_holds(session: Session) -> None:
    customer = make_customer(session, name="Alice", telegram_chat_id="4242")
    held = customer.identities[0]
    held.display_name = "Alice W."  # not flushed: the session's object wins, as in a query

    found = known_identity(session, channel=Channel.TELEGRAM, address="4242")
    assert found is held
    assert found.display_name == "Alice W."
    assert found.customer is customer


def test_a_known_identity_comes_with_its_customer_in_a_new_session(session: Session) -> None:
    customer_id = make_customer(session, name="Bob", phone="+886912000000").id
    session.commit()
    session.expunge_all()

    found = known_identity(session, channel=Channel.SMS, address="+886912000000")
    assert found is not None
    session.close()  # detached: what was read must be there without the session
    assert (found.customer.id, found.customer.name) == (customer_id, "Bob")
    assert found.address == "+886912000000"


def test_an_identity_added_but_not_flushed_is_found(session: Session) -> None:
    customer = make_customer(session, name="Carol")
    session.add(ChannelIdentity(customer=customer, channel=Channel.SMS, address="+886933000000"))

    found = known_identity(session, channel=Channel.SMS, address="+886933000000")
    assert found is not None and found.customer is customer
    assert known_identity(session, channel=Channel.SMS, address="+886944000000") is None
