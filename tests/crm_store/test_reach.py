"""Which identity reaches a customer: one rule for planners and campaign audiences."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from crm_store import segments
from crm_store.consent import set_consent
from crm_store.models import Channel, ChannelIdentity
from crm_store.reach import preferred_identity
from tests.factories import make_customer

NOW = datetime(2026, 11, 23, 4, tzinfo=UTC)


def test_telegram_is_preferred_and_an_opted_out_identity_is_passed_over(
    session: Session,
) -> None:
    customer = make_customer(session, phone="+886912500001", telegram_chat_id="9501")
    chosen = preferred_identity(session, customer.id, marketing=True)
    assert chosen is not None and chosen.channel is Channel.TELEGRAM
    set_consent(session, chosen, opted_in=False, now=NOW, actor="test")
    chosen = preferred_identity(session, customer.id, marketing=True)
    assert chosen is not None and chosen.channel is Channel.SMS


def test_marketing_needs_consent_and_service_messages_do_not(session: Session) -> None:
    customer = make_customer(session, phone="+886912500002", marketing_consent=False)
    assert preferred_identity(session, customer.id, marketing=True) is None
    service = preferred_identity(session, customer.id, marketing=False)
    assert service is not None and service.channel is Channel.SMS


def test_an_unreachable_identity_or_a_channel_outside_the_preference_is_not_used(
    session: Session,
) -> None:
    customer = make_customer(session, phone="+886912500003", telegram_chat_id="9503")
    sms = next(i for i in customer.identities if i.channel is Channel.SMS)
    telegram = next(i for i in customer.identities if i.channel is Channel.TELEGRAM)
    telegram.reachable = False
    assert preferred_identity(session, customer.id, marketing=True) == sms
    assert (
        preferred_identity(session, customer.id, marketing=True, channels=[Channel.TELEGRAM])
        is None
    )


def test_a_campaign_audience_picks_the_same_identity_as_the_planners(session: Session) -> None:
    both = make_customer(session, phone="+886912500004", telegram_chat_id="9504")
    sms_only = make_customer(session, phone="+886912500005")
    make_customer(session, phone="+886912500006", marketing_consent=False)
    recipients = segments.audience(session, segments.Segment(), now=NOW, marketing=True)
    chosen = {
        customer.id: preferred_identity(session, customer.id, marketing=True)
        for customer in (both, sms_only)
    }
    assert {r.customer_id: r.identity_id for r in recipients} == {
        customer_id: identity.id
        for customer_id, identity in chosen.items()
        if isinstance(identity, ChannelIdentity)
    }
