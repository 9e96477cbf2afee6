from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from crm_store.models import (
    ComplaintCategory,
    Conversation,
    Customer,
    Handoff,
    HandoffReason,
    HandoffStatus,
    SatisfactionSurvey,
    SurveyStatus,
    Ticket,
)
from crm_store.reports import (
    HandoffTimes,
    RepeatComplaint,
    WeekCount,
    WeekScore,
    complaints_by_week,
    csat_by_week,
    handoff_times,
    iso_week,
    repeat_complaints,
    to_csv,
    week_labels,
)
from tests.factories import make_customer, make_ticket, utc

TZ = "Asia/Taipei"
TAIPEI = ZoneInfo(TZ)
# Monday 16 November to Monday 30 November 2026, midnight in Taipei: weeks 47 and 48.
SINCE = datetime(2026, 11, 16, tzinfo=TAIPEI)
UNTIL = datetime(2026, 11, 30, tzinfo=TAIPEI)
# Sunday 23:30 in Taipei is still week 47 there; half an hour later it is week 48 in
# Taipei, while in UTC both moments are the afternoon of Sunday the 22nd.
SUNDAY_LATE = datetime(2026, 11, 22, 23, 30, tzinfo=TAIPEI)
MONDAY_EARLY = datetime(2026, 11, 23, 0, 30, tzinfo=TAIPEI)

DELIVERY = ComplaintCategory.DELIVERY
QUALITY = ComplaintCategory.QUALITY
BILLING = ComplaintCategory.BILLING


def complaint(
    session: Session,
    customer: Customer,
    when: datetime,
    category: ComplaintCategory = DELIVERY,
    root_cause: str | None = None,
) -> Ticket:
    ticket = make_ticket(session, customer, category=category, now=when)
    ticket.root_cause = root_cause
    session.flush()
    return ticket


def answered(
    session: Session, customer: Customer, when: datetime | None, score: int | None
) -> None:
    session.add(
        SatisfactionSurvey(
            customer_id=customer.id,
            status=SurveyStatus.ANSWERED,
            due_at=utc(2026, 11, 1),
            answered_at=when,
            score=score,
        )
    )
    session.flush()


def handoff(
    session: Session,
    conversation: Conversation,
    requested_at: datetime,
    *,
    waited: int | None = None,
    handled: int | None = None,
) -> None:
    """A handoff claimed `waited` minutes after the request and finished `handled` later."""
    claimed_at = requested_at + timedelta(minutes=waited) if waited is not None else None
    finished_at = (
        claimed_at + timedelta(minutes=handled)
        if claimed_at is not None and handled is not None
        else None
    )
    status = (
        HandoffStatus.WAITING
        if claimed_at is None
        else HandoffStatus.CLAIMED
        if finished_at is None
        else HandoffStatus.RESOLVED
    )
    session.add(
        Handoff(
            conversation_id=conversation.id,
            reason=HandoffReason.ASKED_FOR_PERSON,
            status=status,
            requested_at=requested_at,
            claimed_at=claimed_at,
            finished_at=finished_at,
        )
    )
    session.flush()


def new_conversation(session: Session) -> Conversation:
    customer = make_customer(session, telegram_chat_id="4242")
    conversation = Conversation(customer_id=customer.id, identity_id=customer.identities[0].id)
    session.add(conversation)
    session.flush()
    return conversation


def test_weeks_are_iso_weeks_in_the_shops_time_zone() -> None:
    assert (
        SUNDAY_LATE.astimezone(ZoneInfo("UTC")).date()
        == MONDAY_EARLY.astimezone(ZoneInfo("UTC")).date()
    )
    assert iso_week(SUNDAY_LATE, TZ) == "2026-W47"
    assert iso_week(MONDAY_EARLY, TZ) == "2026-W48"
    assert iso_week(MONDAY_EARLY, "UTC") == "2026-W47"
    assert iso_week(datetime(2027, 1, 1, tzinfo=TAIPEI), TZ) == "2026-W53"
    assert week_labels(since=SINCE, until=UNTIL, tz=TZ) == ["2026-W47", "2026-W48"]
    assert week_labels(since=SINCE, until=UNTIL + timedelta(seconds=1), tz=TZ) == [
        "2026-W47",
        "2026-W48",
        "2026-W49",
    ]
    assert week_labels(since=UNTIL, until=SINCE, tz=TZ) == []


def test_complaints_are_counted_per_taipei_week_category_and_root_cause(
    session: Session,
) -> None:
    ann = make_customer(session, name="Ann")
    bob = make_customer(session, name="Bob")
    complaint(session, ann, SINCE, DELIVERY, "carrier_delay")  # first moment of the window
    complaint(session, bob, datetime(2026, 11, 18, 9, tzinfo=TAIPEI), DELIVERY, "carrier_delay")
    complaint(session, bob, SUNDAY_LATE, QUALITY, "defect")
    complaint(session, ann, MONDAY_EARLY, QUALITY, "defect")
    complaint(session, ann, datetime(2026, 11, 25, 12, tzinfo=TAIPEI), QUALITY, None)
    complaint(session, bob, datetime(2026, 11, 26, 12, tzinfo=TAIPEI), BILLING, None)
    complaint(session, bob, datetime(2026, 11, 27, 12, tzinfo=TAIPEI), DELIVERY, "address_typo")
    complaint(session, ann, SINCE - timedelta(seconds=1), QUALITY, "defect")  # before
    complaint(session, ann, UNTIL, QUALITY, "defect")  # the window's end is excluded

    assert complaints_by_week(session, since=SINCE, until=UNTIL, tz=TZ) == [
        WeekCount("2026-W47", DELIVERY, "carrier_delay", 2),
        WeekCount("2026-W47", QUALITY, "defect", 1),
        WeekCount("2026-W48", BILLING, "unknown", 1),
        WeekCount("2026-W48", DELIVERY, "address_typo", 1),
        WeekCount("2026-W48", QUALITY, "defect", 1),
        WeekCount("2026-W48", QUALITY, "unknown", 1),
    ]
    # The same tickets by UTC weeks: both late-Sunday tickets fall in week 47.
    by_utc = complaints_by_week(session, since=SINCE, until=UNTIL, tz="UTC")
    assert WeekCount("2026-W47", QUALITY, "defect", 2) in by_utc
    assert complaints_by_week(session, since=UNTIL, until=UNTIL + timedelta(days=1), tz=TZ) == [
        WeekCount("2026-W49", QUALITY, "defect", 1)
    ]


def test_repeat_complaints_respect_within_days(session: Session) -> None:
    since, until = utc(2026, 1, 1), utc(2026, 7, 1)
    ann = make_customer(session, name="Ann")
    bob = make_customer(session, name="Bob")
    cat = make_customer(session, name="Cat")
    dan = make_customer(session, name="Dan")
    # Ann: a lone complaint in January, then three in March within days of each other.
    complaint(session, ann, utc(2026, 1, 5), BILLING)
    complaint(session, ann, utc(2026, 3, 1), QUALITY)
    complaint(session, ann, utc(2026, 3, 10), DELIVERY)
    complaint(session, ann, utc(2026, 3, 20), QUALITY)
    # Bob: exactly 30 days apart, a repeat; Cat: 30 days and a second apart, not one.
    complaint(session, bob, utc(2026, 2, 1), DELIVERY)
    complaint(session, bob, utc(2026, 3, 3), DELIVERY)
    complaint(session, cat, utc(2026, 4, 1), QUALITY)
    complaint(session, cat, utc(2026, 5, 1) + timedelta(seconds=1), QUALITY)
    # Dan: one complaint in the window, the other just before it.
    complaint(session, dan, since - timedelta(days=1), DELIVERY)
    complaint(session, dan, since + timedelta(days=1), DELIVERY)

    assert repeat_complaints(session, since=since, until=until) == [
        RepeatComplaint(
            customer_id=ann.id,
            customer_name="Ann",
            tickets=3,
            first_created_at=utc(2026, 3, 1),
            last_created_at=utc(2026, 3, 20),
            categories=(DELIVERY, QUALITY),
        ),
        RepeatComplaint(
            customer_id=bob.id,
            customer_name="Bob",
            tickets=2,
            first_created_at=utc(2026, 2, 1),
            last_created_at=utc(2026, 3, 3),
            categories=(DELIVERY,),
        ),
    ]
    assert [
        r.customer_name for r in repeat_complaints(session, since=since, until=until, within_days=9)
    ] == ["Ann"]
    assert repeat_complaints(session, since=since, until=until, within_days=9)[0].tickets == 2
    wide = repeat_complaints(session, since=since, until=until, within_days=60)
    assert [(r.customer_name, r.tickets) for r in wide] == [("Ann", 4), ("Bob", 2), ("Cat", 2)]
    assert wide[0].categories == (BILLING, DELIVERY, QUALITY)
    with pytest.raises(ValueError, match="within_days"):
        repeat_complaints(session, since=since, until=until, within_days=-1)


def test_csat_is_the_share_of_four_and_five_scores_per_week(session: Session) -> None:
    ann = make_customer(session, name="Ann")
    for when, score in [
        (datetime(2026, 11, 17, 10, tzinfo=TAIPEI), 5),
        (datetime(2026, 11, 19, 10, tzinfo=TAIPEI), 4),
        (SUNDAY_LATE, 2),
        (MONDAY_EARLY, 1),
        (datetime(2026, 11, 29, 23, 59, tzinfo=TAIPEI), 5),
        (SINCE - timedelta(minutes=1), 1),  # answered before the window
        (UNTIL, 1),  # answered after it
    ]:
        answered(session, ann, when, score)
    answered(session, ann, SUNDAY_LATE, None)  # marked answered without a score
    session.add(
        SatisfactionSurvey(
            customer_id=ann.id,
            status=SurveyStatus.SENT,
            due_at=SINCE,
            sent_at=SINCE,
            answered_at=MONDAY_EARLY,
            score=1,
        )
    )
    session.flush()

    assert csat_by_week(session, since=SINCE, until=UNTIL, tz=TZ) == [
        WeekScore("2026-W47", responses=3, average_score=3.67, csat_percent=66.7),
        WeekScore("2026-W48", responses=2, average_score=3.0, csat_percent=50.0),
    ]
    assert csat_by_week(session, since=UNTIL, until=UNTIL + timedelta(days=7), tz=TZ) == [
        WeekScore("2026-W49", responses=1, average_score=1.0, csat_percent=0.0)
    ]
    assert (
        csat_by_week(
            session, since=UNTIL + timedelta(days=1), until=UNTIL + timedelta(days=7), tz=TZ
        )
        == []
    )


def test_handoff_waiting_and_handling_percentiles(session: Session) -> None:
    conversation = new_conversation(session)
    start = utc(2026, 11, 17, 2)
    handoff(session, conversation, start, waited=5, handled=30)
    handoff(session, conversation, start + timedelta(hours=1), waited=15, handled=50)
    handoff(session, conversation, start + timedelta(hours=2), waited=40)  # still with staff
    handoff(session, conversation, start + timedelta(hours=3))  # nobody has claimed it
    handoff(session, conversation, SINCE - timedelta(minutes=1), waited=999, handled=999)

    assert handoff_times(session, since=SINCE, until=UNTIL) == HandoffTimes(
        requested=4,
        still_waiting=1,
        waiting_p50_minutes=15.0,
        waiting_p95_minutes=37.5,  # 15 + 0.9 x (40 - 15), between the 2nd and 3rd
        handling_p50_minutes=40.0,
        handling_p95_minutes=49.0,
    )


def test_handoff_times_with_one_or_no_measurement(session: Session) -> None:
    conversation = new_conversation(session)
    handoff(session, conversation, utc(2026, 11, 17, 2), waited=7)
    handoff(session, conversation, utc(2026, 11, 18, 2))

    assert handoff_times(session, since=SINCE, until=UNTIL) == HandoffTimes(
        requested=2,
        still_waiting=1,
        waiting_p50_minutes=7.0,
        waiting_p95_minutes=7.0,
        handling_p50_minutes=None,
        handling_p95_minutes=None,
    )
    assert handoff_times(session, since=UNTIL, until=UNTIL + timedelta(days=7)) == HandoffTimes(
        0, 0, None, None, None, None
    )


def test_csv_has_a_header_iso_times_and_harmless_text(session: Session) -> None:
    sly = make_customer(session, name='=HYPERLINK("http://evil.example","x")')
    complaint(session, sly, utc(2026, 11, 17, 1, 2, 3), DELIVERY, "carrier_delay")
    complaint(session, sly, utc(2026, 11, 18, 4, 5, 6), QUALITY)

    weeks = list(
        csv.reader(
            io.StringIO(to_csv(complaints_by_week(session, since=SINCE, until=UNTIL, tz=TZ)))
        )
    )
    assert weeks == [
        ["week", "category", "root_cause", "count"],
        ["2026-W47", "delivery", "carrier_delay", "1"],
        ["2026-W47", "quality", "unknown", "1"],
    ]
    repeats = list(
        csv.reader(io.StringIO(to_csv(repeat_complaints(session, since=SINCE, until=UNTIL))))
    )
    assert repeats == [
        [
            "customer_id",
            "customer_name",
            "tickets",
            "first_created_at",
            "last_created_at",
            "categories",
        ],
        [
            str(sly.id),
            '\'=HYPERLINK("http://evil.example","x")',
            "2",
            "2026-11-17T01:02:03+00:00",
            "2026-11-18T04:05:06+00:00",
            "delivery;quality",
        ],
    ]
    times = list(
        csv.reader(io.StringIO(to_csv([handoff_times(session, since=SINCE, until=UNTIL)])))
    )
    assert times == [
        [
            "requested",
            "still_waiting",
            "waiting_p50_minutes",
            "waiting_p95_minutes",
            "handling_p50_minutes",
            "handling_p95_minutes",
        ],
        ["0", "0", "", "", "", ""],
    ]
    assert to_csv([]) == ""
    with pytest.raises(ValueError, match="one type"):
        to_csv([WeekScore("2026-W47", 1, 5.0, 100.0), HandoffTimes(0, 0, None, None, None, None)])
