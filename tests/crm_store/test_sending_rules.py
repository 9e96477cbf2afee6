"""Send-time rules: consent, quiet hours in each customer's own zone, frequency caps."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from crm_store import outbox, outbox_results
from crm_store.consent import set_consent
from crm_store.models import Author, Campaign, CampaignKind, MessagePurpose
from crm_store.sending_rules import SendingPolicy, quiet_until, verdict
from tests.factories import make_customer

POLICY = SendingPolicy(quiet_start=time(21), quiet_end=time(9), marketing_per_window=2)
TAIPEI, LOS_ANGELES = ZoneInfo("Asia/Taipei"), ZoneInfo("America/Los_Angeles")


def test_quiet_hours_are_each_customers_own() -> None:
    # 2026-11-23 14:00 UTC is 22:00 in Taipei (quiet) and 06:00 in Los Angeles (quiet).
    now = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    assert quiet_until("Asia/Taipei", now, POLICY) == datetime(2026, 11, 24, 9, 0, tzinfo=TAIPEI)
    assert quiet_until("America/Los_Angeles", now, POLICY) == datetime(
        2026, 11, 23, 9, 0, tzinfo=LOS_ANGELES
    )
    # 20:00 UTC: 04:00 next day in Taipei (quiet), 12:00 in Los Angeles (not quiet).
    later = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)
    assert quiet_until("Asia/Taipei", later, POLICY) == datetime(2026, 11, 24, 9, 0, tzinfo=TAIPEI)
    assert quiet_until("America/Los_Angeles", later, POLICY) is None


def test_equal_start_and_end_mean_no_quiet_hours() -> None:
    never = SendingPolicy(quiet_start=time(0), quiet_end=time(0))
    for hour in range(24):
        assert quiet_until("Asia/Taipei", datetime(2026, 1, 1, hour, tzinfo=UTC), never) is None


def test_marketing_and_surveys_wait_for_daytime_replies_do_not(session: Session) -> None:
    customer = make_customer(session, phone="+886912300001", timezone="Asia/Taipei")
    identity = customer.identities[0]
    night = datetime(2026, 11, 23, 23, 30, tzinfo=TAIPEI)
    for purpose in (MessagePurpose.MARKETING, MessagePurpose.SURVEY):
        held = verdict(
            session, identity=identity, customer=customer, purpose=purpose, now=night, policy=POLICY
        )
        assert not held.send and held.hold_until == datetime(2026, 11, 24, 9, tzinfo=TAIPEI)
    reply = verdict(
        session,
        identity=identity,
        customer=customer,
        purpose=MessagePurpose.REPLY,
        now=night,
        policy=POLICY,
    )
    assert reply.send


def test_a_customer_who_opts_out_after_planning_gets_nothing(session: Session) -> None:
    customer = make_customer(session, phone="+886912300002")
    identity = customer.identities[0]
    noon = datetime(2026, 11, 23, 12, 0, tzinfo=TAIPEI)
    planned = verdict(
        session,
        identity=identity,
        customer=customer,
        purpose=MessagePurpose.MARKETING,
        now=noon,
        policy=POLICY,
    )
    assert planned.send
    set_consent(session, identity, opted_in=False, now=noon, actor="test")
    later = verdict(
        session,
        identity=identity,
        customer=customer,
        purpose=MessagePurpose.MARKETING,
        now=noon + timedelta(minutes=5),
        policy=POLICY,
    )
    assert not later.send and later.hold_until is None and later.reason == "opted out"


def test_the_frequency_cap_counts_marketing_sent_in_the_window(session: Session) -> None:
    customer = make_customer(session, phone="+886912300003")
    identity = customer.identities[0]
    start = datetime(2026, 11, 16, 12, 0, tzinfo=TAIPEI)
    promotion = Campaign(name="sale", kind=CampaignKind.CUSTOM, segment={}, templates={})
    session.add(promotion)
    session.flush()
    campaign_id = promotion.id
    for number, sent_at in enumerate((start, start + timedelta(days=3))):
        outbox.enqueue(
            session,
            key=f"campaign:{number}:{customer.id}",
            identity=identity,
            purpose=MessagePurpose.MARKETING,
            parts=["sale"],
            author=Author.SYSTEM,
            now=sent_at,
            campaign_id=campaign_id,
        )
        claimed = outbox.claim_due(session, worker="w", now=sent_at, limit=1)
        outbox_results.mark_sent(
            session, claimed[0].outbox_id, worker="w", provider_id=f"SM{number}", now=sent_at
        )

    def marketing_at(now: datetime) -> bool:
        return verdict(
            session,
            identity=identity,
            customer=customer,
            purpose=MessagePurpose.MARKETING,
            now=now,
            policy=POLICY,
            campaign=True,
        ).send

    assert not marketing_at(start + timedelta(days=5))  # two in the last 7 days
    assert marketing_at(start + timedelta(days=7, hours=1))  # the first has left the window
    transactional = verdict(
        session,
        identity=identity,
        customer=customer,
        purpose=MessagePurpose.TRANSACTIONAL,
        now=start + timedelta(days=5),
        policy=POLICY,
    )
    assert transactional.send
    birthday = verdict(
        session,
        identity=identity,
        customer=customer,
        purpose=MessagePurpose.MARKETING,
        now=start + timedelta(days=5),
        policy=POLICY,
    )
    assert birthday.send  # not a campaign: the cap does not hold back a greeting
