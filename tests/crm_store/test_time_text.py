from datetime import date, datetime
from zoneinfo import ZoneInfo

from crm_store.business_hours import BusinessHours
from crm_store.models import Language
from crm_store.time_text import format_business_hours, format_date, format_datetime


def test_dates_as_each_language_writes_them() -> None:
    day = date(2026, 11, 25)
    assert format_date(day, Language.ZH_TW) == "11月25日（三）"
    assert format_date(day, Language.EN) == "Wed 25 Nov"
    moment = datetime(2026, 11, 30, 9, 0, tzinfo=ZoneInfo("Asia/Taipei"))
    assert format_datetime(moment, Language.ZH_TW) == "11月30日（一） 09:00"
    assert format_datetime(moment, Language.EN) == "Mon 30 Nov, 09:00"


def test_business_hours_grouped_by_day() -> None:
    hours = BusinessHours.parse("mon-fri 09:00-18:00; sat 10:00-14:00", "Asia/Taipei")
    zh = format_business_hours(hours, Language.ZH_TW)
    assert zh == "週一至週五 09:00–18:00；週六 10:00–14:00"
    assert format_business_hours(hours, Language.EN) == "Mon–Fri 09:00–18:00; Sat 10:00–14:00"
