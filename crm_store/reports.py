"""The numbers behind the staff dashboard: step 8 of the recovery script, prevent recurrence.

Every report covers a time window ``since <= moment < until`` of aware datetimes. Weeks
are ISO weeks (Monday to Sunday) in the shop's time zone, labelled like ``2026-W47``; the
week of each row is worked out here in Python rather than in SQL, so SQLite and
PostgreSQL agree to the minute around midnight. The expected scale is a few thousand
rows per window, so the reports load the few columns they need and count in Python.
"""

from __future__ import annotations

import csv
import enum
import io
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.holdouts import ConversionDay
from crm_store.models import (
    ComplaintCategory,
    Customer,
    Handoff,
    HandoffStatus,
    SatisfactionSurvey,
    SurveyStatus,
    Ticket,
)

UNKNOWN_ROOT_CAUSE = "unknown"
SATISFIED_SCORES = frozenset({4, 5})
# Spreadsheet programs run a cell that starts with one of these as a formula; customer
# names come from chat profiles, so a name like "=HYPERLINK(...)" must stay text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class WeekCount:
    """How many complaints of one category and root cause were opened in one week."""

    week: str
    category: ComplaintCategory
    root_cause: str
    count: int


@dataclass(frozen=True, slots=True)
class RepeatComplaint:
    """A customer who complained again soon after an earlier complaint.

    `tickets` counts only the complaints that came within the repeat window of another
    one by the same customer; `first_created_at` and `last_created_at` bound those.
    """

    customer_id: int
    customer_name: str
    tickets: int
    first_created_at: datetime
    last_created_at: datetime
    categories: tuple[ComplaintCategory, ...]


@dataclass(frozen=True, slots=True)
class WeekScore:
    """Survey answers in one week: how many, their average (1-5) and the CSAT.

    The CSAT is the percentage of answers scoring 4 or 5, i.e. satisfied customers.
    """

    week: str
    responses: int
    average_score: float
    csat_percent: float


@dataclass(frozen=True, slots=True)
class HandoffTimes:
    """How long customers waited for a person, and how long the person then took.

    Waiting runs from the request to the moment staff claimed the conversation, handling
    from the claim to the end of the handoff; both in minutes, as the median (p50) and
    the time 95 in 100 customers were served within (p95). None when nothing to measure.
    """

    requested: int
    still_waiting: int
    waiting_p50_minutes: float | None
    waiting_p95_minutes: float | None
    handling_p50_minutes: float | None
    handling_p95_minutes: float | None


ReportRow = WeekCount | RepeatComplaint | WeekScore | HandoffTimes | ConversionDay


def iso_week(moment: datetime, tz: str) -> str:
    """The ISO week label, like ``2026-W47``, of `moment` as seen in time zone `tz`."""
    year, week, _ = moment.astimezone(ZoneInfo(tz)).isocalendar()
    return f"{year}-W{week:02d}"


def week_labels(*, since: datetime, until: datetime, tz: str) -> list[str]:
    """Every week the window touches, in order, so a chart can show the quiet weeks too."""
    if until <= since:
        return []
    zone = ZoneInfo(tz)
    day = since.astimezone(zone).date()
    last_day = (until - timedelta(microseconds=1)).astimezone(zone).date()
    day -= timedelta(days=day.weekday())
    labels: list[str] = []
    while day <= last_day:
        year, week, _ = day.isocalendar()
        labels.append(f"{year}-W{week:02d}")
        day += timedelta(days=7)
    return labels


def complaints_by_week(
    session: Session, *, since: datetime, until: datetime, tz: str
) -> list[WeekCount]:
    """Complaints opened per week, category and root cause: what keeps going wrong.

    A complaint not yet resolved has no root cause and counts as ``unknown``. Rows come
    by week, then category, then root cause.
    """
    rows = session.execute(
        select(Ticket.created_at, Ticket.category, Ticket.root_cause).where(
            Ticket.created_at >= since, Ticket.created_at < until
        )
    )
    counts: Counter[tuple[str, ComplaintCategory, str]] = Counter()
    for created_at, category, root_cause in rows:
        counts[(iso_week(created_at, tz), category, root_cause or UNKNOWN_ROOT_CAUSE)] += 1
    return [
        WeekCount(week=week, category=category, root_cause=root_cause, count=count)
        for (week, category, root_cause), count in sorted(
            counts.items(), key=lambda item: (item[0][0], item[0][1].value, item[0][2])
        )
    ]


def repeat_complaints(
    session: Session, *, since: datetime, until: datetime, within_days: int = 30
) -> list[RepeatComplaint]:
    """Customers who complained twice or more within `within_days` days of each other.

    These are the customers the first fix did not satisfy, or who keep meeting the same
    problem. Only complaints opened in the window count; two complaints exactly
    `within_days` apart are a repeat. Customers with the most repeats come first.
    """
    if within_days < 0:
        raise ValueError(f"within_days must not be negative, not {within_days}")
    window = timedelta(days=within_days)
    rows = session.execute(
        select(Ticket.customer_id, Customer.name, Ticket.created_at, Ticket.category)
        .join(Customer, Customer.id == Ticket.customer_id)
        .where(Ticket.created_at >= since, Ticket.created_at < until)
        .order_by(Ticket.customer_id, Ticket.created_at, Ticket.id)
    )
    names: dict[int, str] = {}
    tickets: defaultdict[int, list[tuple[datetime, ComplaintCategory]]] = defaultdict(list)
    for customer_id, name, created_at, category in rows:
        names[customer_id] = name
        tickets[customer_id].append((created_at, category))

    found: list[RepeatComplaint] = []
    for customer_id, opened in tickets.items():
        repeats = [
            (created_at, category)
            for index, (created_at, category) in enumerate(opened)
            if (index > 0 and created_at - opened[index - 1][0] <= window)
            or (index + 1 < len(opened) and opened[index + 1][0] - created_at <= window)
        ]
        if len(repeats) < 2:
            continue
        found.append(
            RepeatComplaint(
                customer_id=customer_id,
                customer_name=names[customer_id],
                tickets=len(repeats),
                first_created_at=repeats[0][0],
                last_created_at=repeats[-1][0],
                categories=tuple(
                    sorted({category for _, category in repeats}, key=lambda c: c.value)
                ),
            )
        )
    found.sort(key=lambda repeat: (-repeat.tickets, repeat.customer_id))
    return found


def csat_by_week(session: Session, *, since: datetime, until: datetime, tz: str) -> list[WeekScore]:
    """How satisfied customers were with the fix, per week of their answer.

    Counts answered follow-up surveys; the average is rounded to 2 decimals and the CSAT
    (share of 4 and 5 scores) to 1 decimal. Weeks without answers are left out.
    """
    rows = session.execute(
        select(SatisfactionSurvey.answered_at, SatisfactionSurvey.score).where(
            SatisfactionSurvey.status == SurveyStatus.ANSWERED,
            SatisfactionSurvey.score.is_not(None),
            SatisfactionSurvey.answered_at >= since,
            SatisfactionSurvey.answered_at < until,
        )
    )
    scores: defaultdict[str, list[int]] = defaultdict(list)
    for answered_at, score in rows:
        if answered_at is not None and score is not None:
            scores[iso_week(answered_at, tz)].append(score)
    return [
        WeekScore(
            week=week,
            responses=len(week_scores),
            average_score=round(statistics.fmean(week_scores), 2),
            csat_percent=round(
                100 * sum(score in SATISFIED_SCORES for score in week_scores) / len(week_scores),
                1,
            ),
        )
        for week, week_scores in sorted(scores.items())
    ]


def handoff_times(session: Session, *, since: datetime, until: datetime) -> HandoffTimes:
    """How quickly staff picked up conversations handed to them, and how long they took.

    Covers handoffs requested in the window; `still_waiting` is how many of them nobody
    has claimed yet. Minutes are rounded to 1 decimal.
    """
    rows = session.execute(
        select(Handoff.status, Handoff.requested_at, Handoff.claimed_at, Handoff.finished_at).where(
            Handoff.requested_at >= since, Handoff.requested_at < until
        )
    )
    requested = still_waiting = 0
    waiting: list[float] = []
    handling: list[float] = []
    for status, requested_at, claimed_at, finished_at in rows:
        requested += 1
        if status == HandoffStatus.WAITING:
            still_waiting += 1
        if claimed_at is not None:
            waiting.append(_minutes(claimed_at - requested_at))
            if finished_at is not None:
                handling.append(_minutes(finished_at - claimed_at))
    return HandoffTimes(
        requested=requested,
        still_waiting=still_waiting,
        waiting_p50_minutes=_percentile(waiting, 50),
        waiting_p95_minutes=_percentile(waiting, 95),
        handling_p50_minutes=_percentile(handling, 50),
        handling_p95_minutes=_percentile(handling, 95),
    )


def to_csv(rows: Sequence[ReportRow]) -> str:
    """The rows of one report as CSV text with a header row; empty text for no rows.

    Times are ISO 8601, several categories are joined with ``;``, and text that a
    spreadsheet would run as a formula is prefixed with an apostrophe.
    """
    if not rows:
        return ""
    kind = type(rows[0])
    if any(type(row) is not kind for row in rows):
        raise ValueError("to_csv takes the rows of one report, all of one type")
    names = [field.name for field in fields(kind)]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(names)
    for row in rows:
        writer.writerow([_csv_cell(getattr(row, name)) for name in names])
    return out.getvalue()


def _minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60


def _percentile(values: list[float], percent: int) -> float | None:
    if not values:
        return None
    if len(values) < 2:
        return round(statistics.median(values), 1)
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return round(cuts[percent - 1], 1)


def _csv_cell(value: object) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return _csv_text(str(value.value))
    if isinstance(value, tuple):
        return _csv_text(";".join(str(_csv_cell(item)) for item in value))
    if isinstance(value, bool | int | float):
        return value
    return _csv_text(str(value))


def _csv_text(text: str) -> str:
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text
