"""Business hours: when staff are there to take over a conversation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class InvalidBusinessHours(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """Opening times per weekday (0 = Monday) in one time zone."""

    timezone: ZoneInfo
    hours: dict[int, tuple[time, time]]

    @classmethod
    def parse(cls, text: str, timezone: str) -> BusinessHours:
        """Read ``"mon-fri 09:00-18:00; sat 10:00-14:00"``.

        Raises:
            InvalidBusinessHours: with what is wrong in the text.
        """
        hours: dict[int, tuple[time, time]] = {}
        for part in filter(None, (chunk.strip() for chunk in text.lower().split(";"))):
            try:
                days, span = part.split()
                opens, closes = (time.fromisoformat(t) for t in span.split("-"))
                first, _, last = days.partition("-")
                start, end = DAYS.index(first), DAYS.index(last or first)
            except ValueError as error:
                raise InvalidBusinessHours(
                    f"cannot read {part!r}; write e.g. 'mon-fri 09:00-18:00; sat 10:00-14:00'"
                ) from error
            if closes <= opens:
                raise InvalidBusinessHours(f"{part!r}: closing time is not after opening time")
            for day in (
                range(start, end + 1) if start <= end else [*range(start, 7), *range(end + 1)]
            ):
                hours[day] = (opens, closes)
        if not hours:
            raise InvalidBusinessHours("no opening hours given")
        return cls(ZoneInfo(timezone), hours)

    def is_open(self, now: datetime) -> bool:
        local = now.astimezone(self.timezone)
        span = self.hours.get(local.weekday())
        return span is not None and span[0] <= local.time() < span[1]

    def next_opening(self, now: datetime) -> datetime:
        """`now` when open, else the next moment the shop opens (in its own zone)."""
        if self.is_open(now):
            return now
        local = now.astimezone(self.timezone)
        for offset in range(8):
            day = (local + timedelta(days=offset)).date()
            span = self.hours.get(day.weekday())
            if span is None:
                continue
            opening = datetime.combine(day, span[0], self.timezone)
            if opening > local:
                return opening
        raise AssertionError("a week always has an opening")  # parse() refuses empty hours
