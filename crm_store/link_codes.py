"""One-time codes that prove a chat is the owner of a phone number the shop knows.

A chat app that shares no phone numbers (LINE) cannot tell us whose chat it is, and a
number anyone could type proves nothing. So a chat that gives a known number alone is
sent a code by SMS to that number (`issue`); writing the code back in the chat within
`CODE_LIFETIME` (`redeem`) shows the phone is theirs. A chat's newest code is its live
one, with `MAX_ATTEMPTS` tries at it; a phone gets at most `CODES_PER_PHONE_HOUR` codes
an hour, whoever asks, so nobody can flood a stranger's phone with them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from crm_store.models import ChannelIdentity, LinkCode

CODE_LIFETIME = timedelta(minutes=10)
MAX_ATTEMPTS = 5
CODES_PER_PHONE_HOUR = 3
# Kept this long after they were sent, for counting; then removed.
_KEPT = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Redeemed:
    """What a code written in a chat came to: the phone's identity when it matched, else
    the tries left at the live code (0 when there is none any more)."""

    phone: ChannelIdentity | None
    tries_left: int


def issue(
    session: Session, *, chat: ChannelIdentity, phone: ChannelIdentity, now: datetime
) -> str | None:
    """A new code for `chat` to prove it owns `phone`, replacing its earlier one; None when
    the phone has had its codes for the hour."""
    session.execute(
        delete(LinkCode)
        .where(LinkCode.issued_at < now - _KEPT)
        .execution_options(synchronize_session=False)
    )
    sent_this_hour = session.scalar(
        select(func.count())
        .select_from(LinkCode)
        .where(
            LinkCode.phone_identity_id == phone.id, LinkCode.issued_at > now - timedelta(hours=1)
        )
    )
    if (sent_this_hour or 0) >= CODES_PER_PHONE_HOUR:
        return None
    code = f"{secrets.randbelow(10**6):06d}"
    session.add(
        LinkCode(
            chat_identity_id=chat.id,
            phone_identity_id=phone.id,
            code=code,
            issued_at=now,
            attempts=0,
        )
    )
    session.flush()
    return code


def _live(session: Session, chat: ChannelIdentity, *, now: datetime) -> LinkCode | None:
    newest = session.scalar(
        select(LinkCode)
        .where(LinkCode.chat_identity_id == chat.id)
        .order_by(LinkCode.issued_at.desc(), LinkCode.id.desc())
        .limit(1)
    )
    if newest is None or newest.issued_at <= now - CODE_LIFETIME:
        return None
    return newest if newest.attempts < MAX_ATTEMPTS else None


def pending(session: Session, chat: ChannelIdentity, *, now: datetime) -> bool:
    """Whether `chat` has a live code to write back."""
    return _live(session, chat, now=now) is not None


def redeem(session: Session, *, chat: ChannelIdentity, code: str, now: datetime) -> Redeemed:
    """Try `code` against `chat`'s live code; a match or the last failed try ends it."""
    live = _live(session, chat, now=now)
    if live is None:
        return Redeemed(phone=None, tries_left=0)
    if secrets.compare_digest(live.code, code):
        live.attempts = MAX_ATTEMPTS  # used: it counts for the hour but opens nothing more
        return Redeemed(phone=session.get(ChannelIdentity, live.phone_identity_id), tries_left=0)
    live.attempts += 1
    return Redeemed(phone=None, tries_left=MAX_ATTEMPTS - live.attempts)
