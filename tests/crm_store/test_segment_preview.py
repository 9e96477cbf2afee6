"""A segment's preview: counts and rendered samples in each language, and bad templates."""

from datetime import date

import pytest
from sqlalchemy.orm import Session

from crm_store.models import (
    Channel,
    Language,
)
from crm_store.segments import (
    Sample,
    Segment,
    preview,
)
from crm_store.templates import InvalidTemplate
from tests.crm_store.segment_people import NOW, Reach, person

TEMPLATES = {
    "zh-TW": "{{ first_name }}您好，{{ shop }}祝您{{ birthday.month }}月生日快樂！",
    "en": (
        "Happy birthday, {{ first_name }}! From {{ shop }}{% if coupon %}: {{ coupon }}{% endif %}"
    ),
}


def test_preview_counts_and_renders_samples_in_each_language(session: Session) -> None:
    for number, name in enumerate(("王小明", "陳美玲", "林志玲", "李大華"), start=1):
        person(session, name, Reach(Channel.SMS), birthday=date(1990, number, 1))
    person(
        session,
        "Alice Chen",
        Reach(Channel.TELEGRAM),
        Reach(Channel.SMS),
        language=Language.EN,
        birthday=date(1991, 6, 2),
    )
    result = preview(session, Segment(), TEMPLATES, now=NOW, shop="好物", coupon="B-1")
    assert result.size == 5
    assert result.by_language == {"zh-TW": 4, "en": 1}
    assert result.by_channel == {"sms": 4, "telegram": 1}
    # The English customer is last by id, yet shown: every language gets a sample.
    assert result.samples == [
        Sample("王小明", Language.ZH_TW, Channel.SMS, "小明您好，好物祝您1月生日快樂！"),
        Sample("陳美玲", Language.ZH_TW, Channel.SMS, "美玲您好，好物祝您2月生日快樂！"),
        Sample(
            "Alice Chen", Language.EN, Channel.TELEGRAM, "Happy birthday, Alice! From 好物: B-1"
        ),
    ]


def test_preview_falls_back_to_the_other_language(session: Session) -> None:
    person(
        session, "Alice Chen", Reach(Channel.SMS), language=Language.EN, birthday=date(1991, 6, 2)
    )
    result = preview(session, Segment(), {"zh-TW": TEMPLATES["zh-TW"]}, now=NOW, shop="好物")
    assert [s.text for s in result.samples] == ["Alice您好，好物祝您6月生日快樂！"]
    result = preview(session, Segment(), {"zh-TW": "", "en": "Hi {{ name }}"}, now=NOW, shop="S")
    assert [s.text for s in result.samples] == ["Hi Alice Chen"]


def test_preview_sample_count_and_empty_audience(session: Session) -> None:
    for number in range(6):
        person(session, f"客戶{number}", Reach(Channel.SMS), birthday=date(1990, 1, 1))
    assert len(preview(session, Segment(), TEMPLATES, now=NOW, shop="S", samples=4).samples) == 4
    result = preview(session, Segment(), TEMPLATES, now=NOW, shop="S", samples=0)
    assert (result.size, result.samples) == (6, [])
    result = preview(session, Segment(languages=(Language.EN,)), TEMPLATES, now=NOW, shop="S")
    assert (result.size, result.by_language, result.by_channel, result.samples) == (0, {}, {}, [])


def test_preview_reports_bad_templates(session: Session) -> None:
    person(session, "王小明", Reach(Channel.SMS))  # no birthday: `birthday.month` fails
    with pytest.raises(InvalidTemplate, match="en template: unknown field 'nickname'"):
        preview(session, Segment(), {"zh-TW": "x", "en": "{{ nickname }}"}, now=NOW, shop="S")
    with pytest.raises(InvalidTemplate, match="no attribute 'month'"):
        preview(session, Segment(), TEMPLATES, now=NOW, shop="S")
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        preview(session, Segment(), {"fr": "Bonjour"}, now=NOW, shop="S")
    with pytest.raises(ValueError, match="no message template"):
        preview(session, Segment(), {"zh-TW": "", "en": ""}, now=NOW, shop="S")
