"""Marketers' campaign pages: create, preview, approve by someone else, schedule, report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from crm_store.bulk import bulk_insert
from crm_store.models import (
    Campaign,
    CampaignHoldout,
    CampaignStatus,
    CampaignVariant,
    ChannelIdentity,
    Language,
    OutreachHoldout,
)
from crm_store.settings import Settings
from scheduler import outreach
from tests.console.conftest import Console, csrf_of
from tests.factories import (
    bulk_customers,
    consenting_sms_rows,
    lapsed_customers,
    make_customer,
    paid_orders,
)


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


def test_the_campaign_page_shows_the_holdout_and_the_uplift_over_it(console: Console) -> None:
    with console.running.store() as session, session.begin():
        ids = bulk_customers(session, 300, now=datetime.now(UTC) - timedelta(days=200))
        bulk_insert(session, ChannelIdentity, consenting_sms_rows(ids, now=datetime.now(UTC)))
    with console.signed_in("marketer@shop.test") as marketer:
        token = csrf_of(marketer.get("/console/campaigns").text)
        form = {"csrf_token": token, "name": "冬季", "template_zh": "冬季新品上市"}
        created = marketer.post("/console/campaigns", data={**form, "holdout_percent": "20"})
        assert created.status_code == 303
        page_url = created.headers["location"]
        page = marketer.get(page_url).text
        assert "約 60 位（20%）列為對照組" in page and 'id="uplift"' not in page
    with console.running.store() as session, session.begin():
        campaign = session.scalars(select(Campaign).where(Campaign.name == "冬季")).one()
        campaign.status, campaign.send_at = CampaignStatus.SCHEDULED, datetime.now(UTC)
        outreach.campaign.start_due(session, now=datetime.now(UTC), shop="小店")
        held = session.scalars(select(CampaignHoldout.customer_id)).all()
        paid_orders(session, held[:3], total=800, placed_at=datetime.now(UTC) + timedelta(hours=1))
    with console.signed_in("marketer@shop.test") as marketer:
        uplift = marketer.get(page_url).text.split('id="uplift"')[1]
        csv_text = marketer.get(f"{page_url}/conversions.csv").text
    assert "收到訊息" in uplift and "對照組" in uplift
    assert "累計下單比例" in uplift and uplift.count("<polyline") == 2
    rows = csv_text.lstrip("\ufeff").splitlines()
    assert rows[0] == "group,day,customers,ordered,share" and len(rows) == 1 + 2 * 14
    assert rows[1] == "messaged,1,240,0,0.0" and rows[14] == "messaged,14,240,0,0.0"
    assert rows[15] == "held_out,1,60,3,0.05" and rows[-1] == "held_out,14,60,3,0.05"
    assert "5.0%" in uplift  # 3 of the 60 held out ordered; none of the 240 messaged
    assert "人數太少，還不能下結論" in uplift  # 3 orders in all: too few to say anything


def test_the_campaigns_page_measures_win_back_against_its_holdout(console: Console) -> None:
    now = datetime.now(UTC)
    with console.running.store() as session, session.begin():
        lapsed_customers(session, 200, now=now)
        outreach.winback.plan(session, now=now, settings=Settings(_env_file=None))  # type: ignore[call-arg]
        held = session.scalars(select(OutreachHoldout.customer_id)).all()
    assert held
    with console.signed_in("marketer@shop.test") as marketer:
        page = marketer.get("/console/campaigns").text
    card = page.split('id="uplift-winback"')[1].split("</section>")[0]
    assert "喚回訊息：近 30 天與對照組相比" in card
    assert f"<td>對照組</td><td>{len(held)}</td><td>0</td>" in card
    assert 'id="uplift-birthday"' not in page  # birthdays hold no one out by default


def test_a_marketer_tests_two_versions_and_the_page_compares_them(console: Console) -> None:
    with console.running.store() as session, session.begin():
        ids = bulk_customers(session, 300, now=datetime.now(UTC) - timedelta(days=200))
        bulk_insert(session, ChannelIdentity, consenting_sms_rows(ids, now=datetime.now(UTC)))
    with console.signed_in("marketer@shop.test") as marketer:
        token = csrf_of(marketer.get("/console/campaigns").text)
        # Form fields repeat: the first of each language is version A, then B, C, D.
        form = {
            "csrf_token": token,
            "name": "雙版本",
            # A blank version is left out.
            "template_zh": [
                "{{ first_name }}，冬季新品上市",
                "{{ first_name }}，今天下單免運！",
                "",
            ],
            "template_en": ["Hi {{ first_name }}, winter is here"],
        }
        uneven = marketer.post("/console/campaigns", data=form)
        assert uneven.status_code == 400 and "same number of variants" in uneven.text
        assert "今天下單免運" in uneven.text  # what they wrote is still there
        form["template_en"] = [*form["template_en"], "Free shipping today, {{ first_name }}!"]
        created = marketer.post("/console/campaigns", data=form)
        assert created.status_code == 303
        page_url = created.headers["location"]
        preview = marketer.get(page_url).text
        assert "版本 A" in preview and "版本 B" in preview and "今天下單免運！" in preview
    with console.running.store() as session, session.begin():
        campaign = session.scalars(select(Campaign).where(Campaign.name == "雙版本")).one()
        assert campaign.templates["zh-TW"][1] == "{{ first_name }}，今天下單免運！"
        campaign.status, campaign.send_at = CampaignStatus.SCHEDULED, datetime.now(UTC)
        outreach.campaign.start_due(session, now=datetime.now(UTC), shop="小店")
        dealt = dict(
            session.execute(select(CampaignVariant.customer_id, CampaignVariant.variant)).all()
        )
        assert len(dealt) == 270 and sorted(set(dealt.values())) == [0, 1]
        paid_orders(
            session,
            [c for c, v in dealt.items() if v == 1][:4],
            total=500,
            placed_at=datetime.now(UTC) + timedelta(hours=2),
        )
    with console.signed_in("marketer@shop.test") as marketer:
        compared = marketer.get(page_url).text.split('id="variants-compared"')[1]
        csv_rows = marketer.get(f"{page_url}/conversions.csv").text.splitlines()
    assert "版本 A 對 對照組" in compared and "版本 A 對 版本 B" in compared
    assert "人數太少，還不能比較 版本 A 與 版本 B" in compared  # 4 orders: too few
    assert "3.0%" in compared  # 4 of the 135 who got B ordered
    assert {row.split(",")[0] for row in csv_rows[1:]} == {"messaged", "held_out", "A", "B"}
