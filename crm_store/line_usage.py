"""What LINE messages cost: reply tokens, which are free, and pushes, which the plan counts.

LINE answers an event with its reply token at no cost, once and only for a short while
(`REPLY_TOKEN_FRESH`); anything else is a push, counted against the shop's monthly plan
(`LINE_MONTHLY_QUOTA`). Both are kept in the store so that every gateway and the
scheduler see the same: the newest token of each user (`keep_reply_token`), taken by
whoever sends first (`take_reply_token`), and the pushes of each month
(`count_push`), which survive restarts. `LinePlan.meter` is what the console
shows, and `quota_refusal` why a campaign may not start.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Executable, bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_store.db import OnConflict, savepoint
from crm_store.models import Channel, LinePushCount, LineReplyToken
from crm_store.settings import Settings

# LINE does not say how long a token lives, only that it is short: past this, push.
REPLY_TOKEN_FRESH = timedelta(seconds=50)


def keep_reply_token(session: Session, *, user_id: str, token: str, now: datetime) -> None:
    """Remember `token` as `user_id`'s newest (an older unused one is replaced), in one
    statement: a dispatcher may take (delete) the older one at the same moment."""
    _UPSERT_TOKEN.execute(session, {"user_id": user_id, "token": token, "received_at": now})


def _upsert_token(dialect_insert: Callable[..., Any]) -> Executable:
    statement = dialect_insert(LineReplyToken).values(
        user_id=bindparam("user_id"), token=bindparam("token"), received_at=bindparam("received_at")
    )
    return statement.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=[LineReplyToken.user_id],
        set_={"token": statement.excluded.token, "received_at": statement.excluded.received_at},
    )


_UPSERT_TOKEN = OnConflict(_upsert_token)


def take_reply_token(session: Session, *, user_id: str, now: datetime) -> str | None:
    """`user_id`'s token if it is still fresh, taken for this send alone; else None.

    The row is deleted on the condition that it still holds that token, so of two
    dispatchers reaching for it at once only one gets it.
    """
    found = session.execute(
        select(LineReplyToken.token, LineReplyToken.received_at).where(
            LineReplyToken.user_id == user_id
        )
    ).first()
    if found is None or found.received_at < now - REPLY_TOKEN_FRESH:
        return None
    taken = session.execute(
        delete(LineReplyToken)
        .where(LineReplyToken.user_id == user_id, LineReplyToken.token == found.token)
        .execution_options(synchronize_session=False)
    )
    return str(found.token) if taken.rowcount else None  # type: ignore[attr-defined]


def month_of(now: datetime, *, timezone: str) -> str:
    """The plan's month `now` falls in, in the shop's time zone ("2026-12")."""
    return f"{now.astimezone(ZoneInfo(timezone)):%Y-%m}"


def count_push(session: Session, *, now: datetime, timezone: str) -> None:
    """Count one push against the month (an atomic increment: many senders share it)."""
    month = month_of(now, timezone=timezone)
    bumped = session.execute(
        update(LinePushCount)
        .where(LinePushCount.month == month)
        .values(pushes=LinePushCount.pushes + 1)
    )
    if bumped.rowcount:  # type: ignore[attr-defined]
        return
    try:
        with savepoint(session):
            session.add(LinePushCount(month=month, pushes=1))
            session.flush()
    except IntegrityError:  # another sender counted the month's first push meanwhile
        count_push(session, now=now, timezone=timezone)


def pushes_in_month(session: Session, *, now: datetime, timezone: str) -> int:
    month = month_of(now, timezone=timezone)
    return session.scalar(select(LinePushCount.pushes).where(LinePushCount.month == month)) or 0


@dataclass(frozen=True, slots=True)
class LineMeter:
    """The month's pushes against the plan, as we counted them (and LINE, when asked)."""

    quota: int
    used: int
    # What LINE itself reports, when the credentials are set and it answered.
    line_quota: int | None = None
    line_used: int | None = None

    @property
    def left(self) -> int:
        """What may still be pushed: the stricter of our count and LINE's."""
        quota = self.quota if self.line_quota is None else min(self.quota, self.line_quota)
        used = self.used if self.line_used is None else max(self.used, self.line_used)
        return max(0, quota - used)


@dataclass(frozen=True, slots=True)
class LinePlan:
    """The shop's LINE plan: its messages a month (`LINE_MONTHLY_QUOTA`), and the time
    zone its months begin in."""

    quota: int = 200
    timezone: str = "Asia/Taipei"
    # LINE's own (plan, used) for the month, as last read (`channels.line_sender`); None
    # where it was not asked or did not answer.
    reported: tuple[int | None, int | None] = (None, None)

    @classmethod
    def of(cls, settings: Settings) -> LinePlan:
        return cls(quota=settings.line_monthly_quota, timezone=settings.default_timezone)

    def meter(self, session: Session, *, now: datetime) -> LineMeter:
        """The month's pushes as counted in the store (and by LINE, when reported),
        against the plan."""
        used = pushes_in_month(session, now=now, timezone=self.timezone)
        line_quota, line_used = self.reported
        return LineMeter(quota=self.quota, used=used, line_quota=line_quota, line_used=line_used)


DEFAULT_LINE_PLAN = LinePlan()


class OverQuota(Exception):
    """A campaign would push more over LINE than the month has left."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def expected_pushes(by_channel: Mapping[str, int], *, holdout_percent: int) -> int:
    """About what a campaign previewed with these recipients `by_channel` will push over
    LINE: its LINE recipients but the held out."""
    line_recipients = by_channel.get(Channel.LINE.value, 0)
    return line_recipients - round(line_recipients * holdout_percent / 100)


def quota_refusal(line_recipients: int, found: LineMeter) -> str | None:
    """Why a campaign reaching `line_recipients` on LINE may not start; None when it may."""
    if line_recipients <= found.left:
        return None
    return (
        f"{line_recipients} LINE recipients but only {found.left} of the month's"
        f" {found.quota} LINE pushes left"
    )
