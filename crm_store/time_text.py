"""Dates and times as each language writes them, for values inside responses."""

from __future__ import annotations

from datetime import date, datetime

from crm_store.business_hours import DAYS, BusinessHours
from crm_store.models import Language

_ZH_WEEKDAYS = "一二三四五六日"
_EN_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def format_date(day: date, language: Language) -> str:
    """``11月25日（三）`` or ``Wed 25 Nov``."""
    if language is Language.EN:
        return f"{_EN_WEEKDAYS[day.weekday()]} {day.day} {day:%b}"
    return f"{day.month}月{day.day}日（{_ZH_WEEKDAYS[day.weekday()]}）"


def format_datetime(moment: datetime, language: Language) -> str:
    """``11月25日（三）09:00`` or ``Wed 25 Nov, 09:00``, in the moment's own zone."""
    separator = ", " if language is Language.EN else " "
    return f"{format_date(moment.date(), language)}{separator}{moment:%H:%M}"


def format_business_hours(hours: BusinessHours, language: Language) -> str:
    """``週一至週五 09:00–18:00`` or ``Mon–Fri 09:00–18:00``."""
    groups: list[tuple[int, int, str]] = []
    for day in range(len(DAYS)):
        span = hours.hours.get(day)
        if span is None:
            continue
        text = f"{span[0]:%H:%M}–{span[1]:%H:%M}"
        if groups and groups[-1][1] == day - 1 and groups[-1][2] == text:
            groups[-1] = (groups[-1][0], day, text)
        else:
            groups.append((day, day, text))
    parts = []
    for first, last, text in groups:
        if language is Language.EN:
            days = _EN_WEEKDAYS[first] + (f"–{_EN_WEEKDAYS[last]}" if last != first else "")
        else:
            days = f"週{_ZH_WEEKDAYS[first]}" + (
                f"至週{_ZH_WEEKDAYS[last]}" if last != first else ""
            )
        parts.append(f"{days} {text}")
    return ("; " if language is Language.EN else "；").join(parts)
