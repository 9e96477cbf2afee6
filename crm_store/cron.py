"""Whether a campaign's recurrence is a crontab the scheduler can run.

The scheduler reads a recurrence with APScheduler's ``CronTrigger.from_crontab`` (UTC,
weekday 0 is Monday, names such as ``mon`` and ``jan``, ``last`` for the last day of a
month). The store checks it when a marketer saves a campaign, before any scheduler
sees it, and must not depend on APScheduler for that: this is the same grammar, with
the same error messages, in plain Python. `tests/crm_store/test_cron.py` holds the two
together on a list of good and bad expressions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")

_ALL = re.compile(r"\*(?:/(?P<step>\d+))?$")
_RANGE = re.compile(r"(?P<first>\d+)(?:-(?P<last>\d+))?(?:/(?P<step>\d+))?$")
# Like APScheduler's, these two match a prefix: "jan5" reads as "jan", "lastly" as "last".
_NAMES = re.compile(r"(?P<first>[a-z]+)(?:-(?P<last>[a-z]+))?", re.IGNORECASE)
_LAST = re.compile(r"last", re.IGNORECASE)
_SEPARATOR = re.compile(" *, *")


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    first_name: int = 0
    last_day: bool = False


# In crontab order (minute hour day month weekday), and the order APScheduler checks them.
_MINUTE = _Field("minute", 0, 59)
_HOUR = _Field("hour", 0, 23)
_DAY = _Field("day", 1, 31, last_day=True)
_MONTH = _Field("month", 1, 12, names=MONTHS, first_name=1)
_WEEKDAY = _Field("day_of_week", 0, 6, names=WEEKDAYS)
_CHECK_ORDER = (_MONTH, _DAY, _WEEKDAY, _HOUR, _MINUTE)


def check_crontab(expression: str) -> None:
    """Raise ValueError, saying what is wrong, unless `expression` is a valid crontab."""
    values = expression.split()
    if len(values) != 5:
        raise ValueError(f"Wrong number of fields; got {len(values)}, expected 5")
    minute, hour, day, month, weekday = values
    by_field = {_MINUTE: minute, _HOUR: hour, _DAY: day, _MONTH: month, _WEEKDAY: weekday}
    for field in _CHECK_ORDER:
        for part in _SEPARATOR.split(by_field[field].strip()):
            _check_part(field, part)


def _check_part(field: _Field, part: str) -> None:
    if match := _ALL.match(part):
        step = _step(match["step"])
        _validated(part, lambda: _check_step(field, step, field.high - field.low))
    elif match := _RANGE.match(part):
        step = _step(match["step"])
        first = int(match["first"])
        last = int(match["last"]) if match["last"] is not None else None
        _check_range(field, part, first, last, step)
    elif field.names and (match := _NAMES.match(part)):
        first = _named(field, match["first"])
        last = _named(field, match["last"]) if match["last"] else None
        _check_range(field, part, first, last, None)
    elif not (field.last_day and _LAST.match(part)):
        raise ValueError(f'Unrecognized expression "{part}" for field "{field.name}"')


def _step(text: str | None) -> int | None:
    step = int(text) if text is not None else None
    if step == 0:
        raise ValueError("Increment must be higher than 0")
    return step


def _named(field: _Field, name: str) -> int:
    try:
        return field.names.index(name.lower()) + field.first_name
    except ValueError:
        kind = "month" if field is _MONTH else "weekday"
        raise ValueError(f'Invalid {kind} name "{name}"') from None


def _check_range(field: _Field, part: str, first: int, last: int | None, step: int | None) -> None:
    if last is None and step is None:
        last = first
    if last is not None and first > last:
        raise ValueError("The minimum value in a range must not be higher than the maximum")

    def validate() -> None:
        _check_step(field, step, field.high - field.low)
        if first < field.low:
            raise ValueError(
                f"the first value ({first}) is lower than the minimum value ({field.low})"
            )
        if last is not None and last > field.high:
            raise ValueError(
                f"the last value ({last}) is higher than the maximum value ({field.high})"
            )
        # `or`, not `is None`, as APScheduler has it: a range ending at 0 spans to the top.
        _check_step(field, step, (last or field.high) - first)

    _validated(part, validate)


def _check_step(field: _Field, step: int | None, value_range: int) -> None:
    if step and step > value_range:
        raise ValueError(
            f"the step value ({step}) is higher than the total range of the "
            f"expression ({value_range})"
        )


def _validated(part: str, validate: Callable[[], None]) -> None:
    try:
        validate()
    except ValueError as error:
        raise ValueError(f"Error validating expression {part!r}: {error}") from None
