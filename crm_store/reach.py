"""Which of a customer's identities an outreach message goes to.

One rule for the scheduler's own messages (birthday, survey, win-back) and for
marketers' campaign audiences: the identity is reachable and not opted out, for
marketing (anything but a service message) also consented to marketing, and on a
channel outreach may use; among several, the channel earliest in the preference wins,
then the oldest identity. Written as SQL so that an audience of 100,000 is chosen in
one query (`crm_store.segments.audiences`) and a single customer in a small one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, select
from sqlalchemy.orm import Session

from crm_store.line_usage import LinePlan
from crm_store.models import Channel, ChannelIdentity
from crm_store.settings import Settings

# Web chat visitors are anonymous page sessions that only see replies while the page is
# open, so outreach goes out on Telegram, LINE and SMS only; Telegram first, as it costs
# nothing, then LINE (a push from the plan's monthly messages), then SMS (paid each).
OUTREACH_CHANNELS: tuple[Channel, ...] = (Channel.TELEGRAM, Channel.LINE, Channel.SMS)


@dataclass(frozen=True, slots=True)
class IdentityChoice:
    """The identities that may be written to (`usable`) and the best first (`order`)."""

    usable: tuple[ColumnElement[bool], ...]
    order: tuple[ColumnElement[Any], ...]


def identity_choice(
    *, marketing: bool, channels: Sequence[Channel] = OUTREACH_CHANNELS
) -> IdentityChoice:
    """The rule deciding which identity reaches a customer, as SQL on `ChannelIdentity`."""
    usable = [
        ChannelIdentity.reachable.is_(True),
        ChannelIdentity.opted_out.is_(False),
        ChannelIdentity.channel.in_(channels),
    ]
    if marketing:
        usable.append(ChannelIdentity.marketing_consent.is_(True))
    rank = case(
        {channel.value: index for index, channel in enumerate(channels)},
        value=ChannelIdentity.channel,
    )
    return IdentityChoice(tuple(usable), (rank, ChannelIdentity.id.expression))


def preferred_identity(
    session: Session,
    customer_id: int,
    *,
    marketing: bool,
    channels: Sequence[Channel] = OUTREACH_CHANNELS,
) -> ChannelIdentity | None:
    """The identity a message to this customer goes to, or None when none may be used."""
    choice = identity_choice(marketing=marketing, channels=channels)
    return session.scalars(
        select(ChannelIdentity)
        .where(ChannelIdentity.customer_id == customer_id, *choice.usable)
        .order_by(*choice.order)
        .limit(1)
    ).first()


class PushBudget:
    """The month's LINE pushes left while a planner chooses where its messages go: LINE is
    a choice while some are left, then the customer's next channel is (a greeting by SMS
    rather than one LINE would refuse). From the store's count of the month's pushes."""

    def __init__(self, left: int) -> None:
        self.left = left

    @classmethod
    def of(cls, session: Session, settings: Settings, *, now: datetime) -> PushBudget:
        return cls(LinePlan.of(settings).meter(session, now=now).left)

    @property
    def channels(self) -> tuple[Channel, ...]:
        if self.left > 0:
            return OUTREACH_CHANNELS
        return tuple(channel for channel in OUTREACH_CHANNELS if channel is not Channel.LINE)

    def spend(self, identity: ChannelIdentity, *, new: bool) -> None:
        """Count a message queued to `identity` (`new`: not one queued before)."""
        if new and identity.channel is Channel.LINE:
            self.left -= 1
