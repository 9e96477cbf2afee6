"""Marketers' campaign pages: create, preview, approve by someone else, schedule, report."""

from __future__ import annotations

from sqlalchemy import select

from crm_store.models import Campaign, CampaignStatus, Language
from tests.console.conftest import Console, csrf_of
from tests.factories import make_customer


def test_a_marketer_creates_previews_and_a_second_person_approves(console: Console) -> None:
    with console.running.store() as session, session.begin():
        for n in range(3):
            make_customer(session, name=f"陳美{n}玲", phone=f"+88691250000{n}")
        make_customer(session, name="Amy Lin", language=Language.EN, telegram_chat_id="9901")
    with console.signed_in("marketer@shop.test") as marketer:
        token = csrf_of(marketer.get("/console/campaigns").text)
        bad = marketer.post(
            "/console/campaigns",
            data={"csrf_token": token, "name": "壞範本", "template_zh": "{{ password }}"},
        )
        assert bad.status_code == 400 and "password" in bad.text
        created = marketer.post(
            "/console/campaigns",
            data={
                "csrf_token": token,
                "name": "週年慶",
                "segment": "{}",
                "template_zh": "{{ first_name }}，週年慶全館 85 折！",
                "template_en": "{{ first_name }}, 15% off this week!",
                "send_at": "2026-12-01T10:00",
            },
        )
        assert created.status_code == 303
        page_url = created.headers["location"]
        page = marketer.get(page_url).text
        assert "4 位收件人" in page and "週年慶全館 85 折" in page and "Amy, 15% off" in page
        own = marketer.post(f"{page_url}/approve", data={"csrf_token": token})
        assert own.status_code == 409 and "other than its author" in own.text
    with console.signed_in("admin@shop.test") as admin:
        token = csrf_of(admin.get("/console/campaigns").text)
        assert admin.post(f"{page_url}/approve", data={"csrf_token": token}).status_code == 303
        assert admin.post(f"{page_url}/schedule", data={"csrf_token": token}).status_code == 303
        assert "<svg" in admin.get(page_url).text
    with console.running.store() as session:
        campaign = session.scalars(select(Campaign)).one()
        assert campaign.status is CampaignStatus.SCHEDULED
        assert campaign.send_at is not None and campaign.send_at.hour == 2  # 10:00 Taipei
