"""`crmbot campaign` as a marketer runs it: a holdout set at creation, shown in the
preview, and the uplift over it in the report."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.bulk import bulk_insert
from crm_store.models import (
    CampaignHoldout,
    CampaignVariant,
    ChannelIdentity,
    OutboxMessage,
    OutreachHoldout,
    StaffRole,
)
from crm_store.settings import Settings
from scheduler import outreach
from tests.crmbot.test_cli import crmbot
from tests.factories import (
    bulk_customers,
    consenting_sms_rows,
    lapsed_customers,
    make_staff,
    paid_orders,
)


def test_a_campaign_holds_out_a_share_and_reports_its_uplift(
    database_url: str, session: Session
) -> None:
    now = datetime.now(UTC)
    ids = bulk_customers(session, 600, now=now - timedelta(days=300))
    bulk_insert(session, ChannelIdentity, consenting_sms_rows(ids, now=now))
    make_staff(session, "mia@shop.test", StaffRole.MARKETER)
    make_staff(session, "leo@shop.test", StaffRole.MARKETER)
    session.commit()

    refused = crmbot(
        database_url, "campaign", "create", "年終", "--by", "mia@shop.test",
        "--template", "zh-TW=年終特賣", "--holdout", "70",
    )  # fmt: skip
    assert refused.returncode == 1 and "50 per cent" in refused.stderr

    created = crmbot(
        database_url, "campaign", "create", "年終", "--by", "mia@shop.test",
        "--template", "zh-TW={{ name }}，年終特賣", "--holdout", "20",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    campaign_id = int(re.search(r"#(\d+)", created.stdout).group(1))  # type: ignore[union-attr]
    preview = crmbot(database_url, "campaign", "preview", str(campaign_id))
    assert "600 recipients" in preview.stdout
    assert "about 120 (20 %) are held out" in preview.stdout
    for step, who in (("approve", "leo@shop.test"), ("schedule", "mia@shop.test")):
        done = crmbot(database_url, "campaign", step, str(campaign_id), "--by", who)
        assert done.returncode == 0, done.stderr

    outreach.campaign.start_due(session, now=now + timedelta(minutes=5), shop="小店")
    session.commit()
    held = sorted(
        session.scalars(
            select(CampaignHoldout.customer_id).where(CampaignHoldout.campaign_id == campaign_id)
        )
    )
    messaged = sorted(
        set(
            session.scalars(
                select(OutboxMessage.customer_id).where(OutboxMessage.campaign_id == campaign_id)
            )
        )
    )
    assert (len(messaged), len(held)) == (480, 120)
    # A fifth of the messaged order within the window, a twentieth of the held out.
    buyers = messaged[:96] + held[:6]
    paid_orders(session, buyers, total=1200, placed_at=now + timedelta(days=2))
    session.commit()

    report = crmbot(database_url, "campaign", "report", str(campaign_id))
    assert report.returncode == 0, report.stderr
    lines = report.stdout
    assert "Uplift over the customers held out" in lines
    assert re.search(r"messaged\s*│\s*480\s*│\s*96\s*│\s*20\.0%\s*│\s*NT\$240", lines), lines
    assert re.search(r"held out\s*│\s*120\s*│\s*6\s*│\s*5\.0%\s*│\s*NT\$60", lines), lines
    assert "conversion: +15.0% points" in lines
    assert "about +72 customers ordering" in lines  # 15 points of the 480 messaged
    assert "The message made more customers order than would have anyway." in lines


def test_a_campaign_with_two_versions_shows_both_and_compares_them(
    database_url: str, session: Session
) -> None:
    now = datetime.now(UTC)
    ids = bulk_customers(session, 500, now=now - timedelta(days=300))
    bulk_insert(session, ChannelIdentity, consenting_sms_rows(ids, now=now))
    make_staff(session, "mia@shop.test", StaffRole.MARKETER)
    make_staff(session, "leo@shop.test", StaffRole.MARKETER)
    session.commit()

    uneven = crmbot(
        database_url, "campaign", "create", "AB", "--by", "mia@shop.test",
        "--template", "zh-TW=滿千折百", "--template", "zh-TW=全館免運",
        "--template", "en=NT$100 off",
    )  # fmt: skip
    assert uneven.returncode == 1 and "same number of variants" in uneven.stderr
    created = crmbot(
        database_url, "campaign", "create", "AB", "--by", "mia@shop.test",
        "--template", "zh-TW={{ name }}，滿千折百", "--template", "zh-TW={{ name }}，全館免運",
        "--holdout", "20",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    campaign_id = int(re.search(r"#(\d+)", created.stdout).group(1))  # type: ignore[union-attr]
    preview = crmbot(database_url, "campaign", "preview", str(campaign_id)).stdout
    assert "[A] 顧客" in preview and "[B] 顧客" in preview and "全館免運" in preview
    approved = crmbot(
        database_url, "campaign", "approve", str(campaign_id), "--by", "leo@shop.test"
    )
    assert approved.returncode == 0, approved.stderr
    # Whoever approves sees how it will be measured.
    assert (
        "it holds 20 % of its audience out, sent nothing, splits the rest between 2 versions"
        " at random, and counts orders within 14 days"
    ) in " ".join(approved.stdout.split())
    scheduled = crmbot(
        database_url, "campaign", "schedule", str(campaign_id), "--by", "mia@shop.test"
    )
    assert scheduled.returncode == 0, scheduled.stderr
    outreach.campaign.start_due(session, now=now + timedelta(minutes=5), shop="小店")
    session.commit()
    dealt = dict(
        session.execute(
            select(CampaignVariant.customer_id, CampaignVariant.variant).where(
                CampaignVariant.campaign_id == campaign_id
            )
        ).all()
    )
    # B (free shipping) moves a quarter to order, A a tenth.
    buyers = [c for c, v in dealt.items() if v == 0][:20] + [c for c, v in dealt.items() if v][:50]
    paid_orders(session, buyers, total=900, placed_at=now + timedelta(days=1))
    session.commit()

    report = crmbot(database_url, "campaign", "report", str(campaign_id))
    assert report.returncode == 0, report.stderr
    lines = report.stdout
    assert "Template variants" in lines
    assert re.search(r"variant A\s*│\s*200\s*│\s*20\s*│\s*10\.0%", lines), lines
    assert re.search(r"variant B\s*│\s*200\s*│\s*50\s*│\s*25\.0%", lines), lines
    assert "variant A against held out:" in lines
    assert "variant A against variant B: conversion -15.0% points" in lines
    assert "variant B made more customers order than variant A" in lines


def test_the_win_back_report_measures_the_customers_it_held_out(
    database_url: str, session: Session
) -> None:
    now = datetime.now(UTC)
    lapsed_customers(session, 300, now=now)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]  # the default holdout
    queued = outreach.winback.plan(session, now=now, settings=settings)
    session.commit()
    held = session.scalars(select(OutreachHoldout.customer_id)).all()
    assert held and queued + len(held) == 300

    report = crmbot(database_url, "campaign", "report", "winback")
    assert report.returncode == 0, report.stderr
    assert "Uplift over the customers held out" in report.stdout
    assert re.search(rf"held out\s*│\s*{len(held)}\s*│\s*0\s*│", report.stdout), report.stdout
    assert "Too few customers for a conclusion" in report.stdout  # no orders yet
