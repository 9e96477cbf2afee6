from datetime import UTC, datetime

import pytest

from crm_store.business_hours import BusinessHours, InvalidBusinessHours

TAIPEI = "Asia/Taipei"


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_open_and_next_opening_in_the_shops_time_zone() -> None:
    hours = BusinessHours.parse("mon-fri 09:00-18:00; sat 10:00-14:00", TAIPEI)
    # Monday 2026-11-23 02:00 UTC is 10:00 in Taipei: open.
    assert hours.is_open(at(2026, 11, 23, 2, 0))
    # Friday 2026-11-27 11:00 UTC is 19:00 in Taipei: closed until Saturday 10:00.
    friday_evening = at(2026, 11, 27, 11, 0)
    assert not hours.is_open(friday_evening)
    assert hours.next_opening(friday_evening).isoformat() == "2026-11-28T10:00:00+08:00"
    # Saturday 15:00 Taipei: next is Monday 09:00.
    assert hours.next_opening(at(2026, 11, 28, 7, 0)).isoformat() == "2026-11-30T09:00:00+08:00"
    # Early Monday morning: later the same day.
    assert hours.next_opening(at(2026, 11, 22, 23, 0)).isoformat() == "2026-11-23T09:00:00+08:00"


def test_ranges_may_wrap_around_the_week() -> None:
    hours = BusinessHours.parse("fri-mon 10:00-16:00", TAIPEI)
    assert sorted(hours.hours) == [0, 4, 5, 6]


@pytest.mark.parametrize(
    "text", ["", "weekdays 9-5", "mon-fri 18:00-09:00", "mon-xyz 09:00-18:00", "mon 9:00"]
)
def test_unreadable_hours_are_refused_with_an_example(text: str) -> None:
    with pytest.raises(InvalidBusinessHours):
        BusinessHours.parse(text, TAIPEI)
