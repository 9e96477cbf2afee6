"""The store's crontab check agrees with the scheduler's reading (APScheduler's)."""

from __future__ import annotations

from datetime import UTC

import pytest
from apscheduler.triggers.cron import CronTrigger

from crm_store.cron import check_crontab

EXPRESSIONS = [
    # good
    "0 2 * * MON",
    "0 2 * * mon-fri",
    "*/15 * * * *",
    "0 9 1,15 * *",
    "30 8 last * *",
    "0 0 1 jan,jul *",
    "0 0 * * 0",
    "5/10 1-5/2 * * *",
    "0 0 31 2 *",
    "0-0/5 * * * *",
    "0 2 * jan5 *",
    "  0   2 * * 6 ",
    # bad
    "",
    "   ",
    "0 2 * *",
    "0 2 * * * *",
    "60 * * * *",
    "* 24 * * *",
    "* * 0 * *",
    "* * 32 * *",
    "* * * 13 *",
    "* * * * 7",
    "*/0 * * * *",
    "*/60 * * * *",
    "* */24 * * *",
    "5-1 * * * *",
    "50/20 * * * *",
    "1,,2 * * * *",
    "1, * * * *",
    "a * * * *",
    "* * * foo *",
    "* * * * funday",
    "* * * * mon-xyz",
    "* * * dec-jan *",
    "* * * * sun-mon",
    "* * last * *",
    "* * lastly * *",
    "* * * last *",
    "? * * * *",
    "L * * * *",
    "-1 * * * *",
    "99 99 99 99 99",
    "1-2-3 * * * *",
    "* * * * 1/0",
]


def scheduler_reading(expression: str) -> str | None:
    try:
        CronTrigger.from_crontab(expression, timezone=UTC)
    except ValueError as error:
        return str(error)
    return None


def store_reading(expression: str) -> str | None:
    try:
        check_crontab(expression)
    except ValueError as error:
        return str(error)
    return None


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_the_store_accepts_and_refuses_exactly_what_the_scheduler_does(expression: str) -> None:
    assert store_reading(expression) == scheduler_reading(expression)


def test_a_bad_crontab_says_which_part_is_wrong() -> None:
    with pytest.raises(ValueError, match=r"Error validating expression '70'.*maximum value \(59\)"):
        check_crontab("70 2 * * *")
