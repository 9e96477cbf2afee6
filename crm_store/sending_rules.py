"""The rules every outgoing message is checked against at the moment it would be sent.

Checked at send time, not when a campaign is planned: a customer who opts out, blocks
the bot or moves into their quiet hours after planning is respected. A verdict is to
send, to hold until a later time (quiet hours: delayed, never dropped), or to skip.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_store.models import (
    Channel,
    ChannelIdentity,
    Customer,
    MessagePurpose,
    OutboxMessage,
    OutboxStatus,
)
from crm_store.tw_sms_rules import (
    TaiwanSms,
    is_taiwanese,
    link_refusal,
    promotional_quiet_until,
)

# Messages a customer did not ask for: they wait for the customer's daytime.
UNSOLICITED = frozenset({MessagePurpose.MARKETING, MessagePurpose.SURVEY})


@dataclass(frozen=True, slots=True)
class SendingPolicy:
    quiet_start: time = time(21, 0)
    quiet_end: time = time(9, 0)
    # At most this many marketing messages per customer in `frequency_window`.
    marketing_per_window: int = 2
    frequency_window: timedelta = timedelta(days=7)
    # Taiwan's rules for SMS to Taiwanese numbers (`crm_store.tw_sms_rules`); None: none.
    taiwan: TaiwanSms | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    send: bool
    reason: str | None = None
    hold_until: datetime | None = None

    @classmethod
    def go(cls) -> Verdict:
        return cls(send=True)

    @classmethod
    def skip(cls, reason: str) -> Verdict:
        return cls(send=False, reason=reason)

    @classmethod
    def hold(cls, until: datetime, reason: str) -> Verdict:
        return cls(send=False, reason=reason, hold_until=until)


def consent_refusal(identity: ChannelIdentity, purpose: MessagePurpose) -> str | None:
    """Why `identity` may not get a message for `purpose`; None when it may.

    An opted-out customer still gets answers to what they write and the confirmations
    carriers require.
    """
    if not identity.reachable:
        return f"unreachable: {identity.unreachable_reason or 'unknown'}"
    if identity.opted_out and purpose not in (MessagePurpose.REPLY, MessagePurpose.COMPLIANCE):
        return "opted out"
    if purpose is MessagePurpose.MARKETING and not identity.marketing_consent:
        return "no marketing consent"
    return None


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def quiet_until(timezone: str, now: datetime, policy: SendingPolicy) -> datetime | None:
    """The end of the customer's quiet hours when `now` falls in them, else None."""
    local = now.astimezone(_zone(timezone))
    start, end, clock = policy.quiet_start, policy.quiet_end, local.time()
    overnight = start > end
    quiet = (clock >= start or clock < end) if overnight else (start <= clock < end)
    if not quiet:
        return None
    day = local.date() + timedelta(days=1) if overnight and clock >= start else local.date()
    return datetime.combine(day, end, local.tzinfo)


def campaign_messages_sent(
    session: Session, customer_id: int, *, now: datetime, window: timedelta
) -> int:
    return int(
        session.scalar(
            select(func.count(OutboxMessage.id)).where(
                OutboxMessage.customer_id == customer_id,
                OutboxMessage.campaign_id.is_not(None),
                OutboxMessage.status == OutboxStatus.SENT,
                OutboxMessage.sent_at >= now - window,
            )
        )
        or 0
    )


def verdict(
    session: Session,
    *,
    identity: ChannelIdentity,
    customer: Customer,
    purpose: MessagePurpose,
    now: datetime,
    policy: SendingPolicy,
    campaign: bool = False,
    text: str = "",
) -> Verdict:
    """Whether to send now. The frequency cap counts marketers' campaigns (`campaign`):
    a birthday greeting is not held back because of last week's promotions. `text` is
    what would be sent (Taiwan's rules look for links in promotional SMS)."""
    refusal = consent_refusal(identity, purpose)
    if refusal is not None:
        return Verdict.skip(refusal)
    taiwanese = _taiwanese_verdict(identity, purpose, text=text, now=now, policy=policy)
    if taiwanese is not None:
        return taiwanese
    if purpose in UNSOLICITED:
        until = quiet_until(customer.timezone, now, policy)
        if until is not None:
            return Verdict.hold(until, "quiet hours")
    if campaign:
        sent = campaign_messages_sent(session, customer.id, now=now, window=policy.frequency_window)
        if sent >= policy.marketing_per_window:
            return Verdict.skip(
                f"frequency cap: {sent} marketing messages in {policy.frequency_window.days} days"
            )
    return Verdict.go()


def _taiwanese_verdict(
    identity: ChannelIdentity,
    purpose: MessagePurpose,
    *,
    text: str,
    now: datetime,
    policy: SendingPolicy,
) -> Verdict | None:
    """Taiwan's rules for a promotional SMS to a Taiwanese number: refused with an
    unregistered link, held in Taiwan's quiet hours; None when they let it go."""
    rules = policy.taiwan
    if (
        rules is None
        or purpose is not MessagePurpose.MARKETING
        or identity.channel is not Channel.SMS
        or not is_taiwanese(identity.address)
    ):
        return None
    refusal = link_refusal(text, allowed=rules.allowed_links)
    if refusal is not None:
        return Verdict.skip(refusal)
    until = promotional_quiet_until(now)
    return None if until is None else Verdict.hold(until, "Taiwan's quiet hours for promotions")
