"""Taiwanese SMS end to end: a campaign planned by the scheduler and sent by its
dispatcher through Mitake's fake over real HTTP, delivery reports to the running
gateway, and Twilio's numbers going on as before."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from channels.dispatch import Dispatcher
from channels.metrics import Metrics
from channels.senders import Outgoing, build_senders
from console.routes.campaigns import campaign_context
from crm_store import outbox, outbox_results
from crm_store.models import (
    Author,
    Channel,
    ChannelIdentity,
    Language,
    MessagePurpose,
    OutboxMessage,
    OutboxStatus,
    StaffRole,
    StaffUser,
)
from crm_store.tw_sms_rules import TAIPEI
from scheduler import outreach
from scheduler.service import OUTREACH
from tests.channels.conftest import RunningGateway, running_gateway, wait_until
from tests.channels.gateway_helpers import identity, queue
from tests.crmbot.test_cli import crmbot
from tests.factories import make_customer, make_staff, scheduled_campaign
from tests.fakes import FakeMitake, FakeTelegram, FakeTwilio

TOKEN = "mitake-callback-secret"
SHOP = "小島選物"
ISLAND_FAN, LUNCH_BUYER, ABROAD = "+886912600001", "+886912600002", "+14155550123"


@pytest.fixture
def fake_mitake() -> Iterator[FakeMitake]:
    with FakeMitake() as fake:
        yield fake


@pytest.fixture
def taiwan_gateway(
    database_url: str,
    fake_telegram: FakeTelegram,
    fake_twilio: FakeTwilio,
    fake_mitake: FakeMitake,
) -> Iterator[RunningGateway]:
    """The gateway answering customers; campaigns are the scheduler's (`send_outreach`)."""
    with running_gateway(
        database_url,
        telegram=fake_telegram,
        twilio=fake_twilio,
        **fake_mitake.settings(),
        mitake_callback_token=TOKEN,
        shop_name=SHOP,
        shop_line_id="@islandshop",
        sms_allowed_links="shop.example.tw, 02-2345-6789",
        gateway_sends_everything=False,
        quiet_hours="21:00-09:00",
    ) as running:
        yield running


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, 1, hour, minute, tzinfo=TAIPEI)


def send_outreach(gw: RunningGateway, now: datetime) -> int:
    """One round of the scheduler's dispatcher at `now`, with the senders it builds."""

    async def round_() -> int:
        senders = build_senders(gw.settings)
        dispatcher = Dispatcher(
            gw.store,
            senders,
            worker="scheduler",
            metrics=Metrics(),
            policy=gw.settings.sending_policy,
            purposes=OUTREACH,
            clock=lambda: now,
        )
        try:
            return await dispatcher.dispatch_once()
        finally:
            for sender in senders.values():
                await sender.close()

    return asyncio.run(round_())


def start_campaign(gw: RunningGateway, templates: dict[str, str], *, now: datetime) -> int:
    """Three customers (two in Taiwan, one abroad), and a campaign to them the planner starts."""
    with gw.store() as session, session.begin():
        if not session.scalar(select(ChannelIdentity.id).where(ChannelIdentity.address == ABROAD)):
            make_customer(session, name="林小島", phone=ISLAND_FAN)
            make_customer(session, name="陳午餐", phone=LUNCH_BUYER)
            make_customer(session, name="Amy Chen", phone=ABROAD, language=Language.EN)
            make_staff(session, "mia@shop.test", StaffRole.MARKETER)
            make_staff(session, "leo@shop.test", StaffRole.MARKETER)
        staff = {member.email: member for member in session.scalars(select(StaffUser))}
        campaign = scheduled_campaign(
            session,
            author=staff["mia@shop.test"],
            approver=staff["leo@shop.test"],
            templates=templates,
            send_at=now,
            now=now,
        )
        assert outreach.campaign.plan(session, now=now, settings=gw.settings) == 3
        return campaign.id


def rows_of(gw: RunningGateway, campaign_id: int) -> dict[str, OutboxMessage]:
    def read(session: Session) -> dict[str, OutboxMessage]:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.campaign_id == campaign_id)
        )
        return {session.get_one(ChannelIdentity, row.identity_id).address: row for row in rows}

    return gw.query(read)


def test_a_taiwanese_campaign_waits_out_lunch_goes_out_tagged_and_reports_delivery(
    taiwan_gateway: RunningGateway, fake_mitake: FakeMitake, fake_twilio: FakeTwilio
) -> None:
    gw = taiwan_gateway
    campaign_id = start_campaign(
        gw,
        {
            "zh-TW": "{{ first_name }}，冬季特賣全館 8 折！https://shop.example.tw/winter",
            "en": "Hi {{ first_name }}, winter sale: 20% off at https://shop.example.tw/winter",
        },
        now=at(12, 40),
    )

    # Lunch in Taipei: Taiwan's numbers wait, the number abroad goes by Twilio as ever.
    assert send_outreach(gw, at(12, 45)) == 3
    [abroad] = fake_twilio.sent_to(ABROAD)
    # (The first marketing message may also say how to refuse more: not Taiwan's rules.)
    assert abroad["body"].startswith("Hi Amy, winter sale: 20% off at https://shop.example.tw/w")
    assert fake_mitake.sent == []
    rows = rows_of(gw, campaign_id)
    for phone in (ISLAND_FAN, LUNCH_BUYER):
        assert rows[phone].status is OutboxStatus.PENDING
        assert rows[phone].not_before == at(13, 30)
        assert rows[phone].last_error == "Taiwan's quiet hours for promotions"
    assert send_outreach(gw, at(13, 29)) == 0

    # 13:30: out through Mitake, each with the shop's tag first and our id for it.
    assert send_outreach(gw, at(13, 30)) == 2
    sent = {message.dstaddr: message for message in fake_mitake.sent}
    assert sorted(sent) == ["0912600001", "0912600002"]
    assert sent["0912600001"].smbody.startswith(
        "【小島選物】小島，冬季特賣全館 8 折！https://shop.example.tw/winter"
    )
    # Their first promotion says how to refuse more where we can hear it: Mitake carries
    # no replies, so on LINE, not "reply 退訂"; abroad, a reply to Twilio does.
    assert sent["0912600001"].smbody.endswith(
        "（不想再收到優惠訊息？加 LINE：@islandshop 傳「退訂」即停止接收）"
    )
    assert "回覆「退訂」" not in sent["0912600001"].smbody
    assert abroad["body"].endswith("(Reply STOP to opt out of these messages.)")
    rows = rows_of(gw, campaign_id)
    for phone, local in ((ISLAND_FAN, "0912600001"), (LUNCH_BUYER, "0912600002")):
        assert sent[local].smbody.startswith("【小島選物】")
        assert sent[local].clientid == f"crmbot-{rows[phone].id}"
        assert sent[local].response == f"{gw.url}/sms/mitake/status/{TOKEN}"
        assert rows[phone].status is OutboxStatus.SENT
        assert rows[phone].provider_message_id == sent[local].msgid
    assert len(fake_twilio.sent) == 1

    # A report from anyone without the secret address is refused and changes nothing.
    forged = fake_mitake.report(
        sent["0912600002"], flag="6", url=f"{gw.url}/sms/mitake/status/guessed-token"
    )
    assert forged.status_code == 403
    tokenless = fake_mitake.report(sent["0912600002"], url=f"{gw.url}/sms/mitake/status/")
    assert tokenless.status_code == 404
    assert gw.query(lambda s: identity(s, Channel.SMS, LUNCH_BUYER).reachable)

    # Mitake's own reports: one delivered, one to a number that is no more.
    delivered = fake_mitake.report(sent["0912600001"])
    assert delivered.status_code == 200
    assert delivered.text == f"magicid=sms_gateway_rpack\nmsgid={sent['0912600001'].msgid}\n"
    assert fake_mitake.report(sent["0912600002"], flag="6", statusstr="UNDELIV").status_code == 200
    rows = rows_of(gw, campaign_id)
    assert rows[ISLAND_FAN].delivered_at is not None
    assert rows[LUNCH_BUYER].status is OutboxStatus.FAILED
    assert rows[LUNCH_BUYER].last_error == "provider reported failure mitake-6-UNDELIV"
    gone = gw.query(lambda s: identity(s, Channel.SMS, LUNCH_BUYER))
    assert (gone.reachable, gone.unreachable_reason) == (False, "wrong number")
    malformed = fake_mitake.report(sent["0912600001"], flag="x")
    assert malformed.status_code == 400


def test_a_promotion_with_an_unregistered_link_is_refused_with_the_reason(
    taiwan_gateway: RunningGateway,
    fake_mitake: FakeMitake,
    fake_twilio: FakeTwilio,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gw = taiwan_gateway
    campaign_id = start_campaign(
        gw,
        {
            "zh-TW": "{{ first_name }}，加 LINE lin.ee/Ab12cd 領 100 元券，或撥 0912-345-678",
            "en": "Hi {{ first_name }}, get NT$100 off: lin.ee/Ab12cd",
        },
        now=at(15),
    )
    # The preview says why, on the console and in `crmbot campaign preview`.
    why = "zh-TW: not in SMS_ALLOWED_LINKS: lin.ee/Ab12cd, 0912-345-678"
    page = campaign_context(gw.store, campaign_id, settings=gw.settings, clock=lambda: at(15))
    assert page["sms_refusals"] == [why, "en: not in SMS_ALLOWED_LINKS: lin.ee/Ab12cd"]
    for name, value in fake_mitake.settings().items():
        monkeypatch.setenv(name.upper(), value)
    monkeypatch.setenv("SMS_ALLOWED_LINKS", gw.settings.sms_allowed_links)
    preview = crmbot(database_url, "campaign", "preview", str(campaign_id))
    assert f"SMS to Taiwanese numbers will be refused: {why}" in preview.stdout, preview.stderr

    assert send_outreach(gw, at(15)) == 3
    assert fake_mitake.sent == []
    rows = rows_of(gw, campaign_id)
    for phone in (ISLAND_FAN, LUNCH_BUYER):
        assert rows[phone].status is OutboxStatus.CANCELLED
        assert rows[phone].last_error == "not in SMS_ALLOWED_LINKS: lin.ee/Ab12cd, 0912-345-678"
    # Twilio abroad is none of Taiwan's business.
    assert rows[ABROAD].status is OutboxStatus.SENT
    assert fake_twilio.sent_to(ABROAD)[0]["body"].startswith(
        "Hi Amy, get NT$100 off: lin.ee/Ab12cd"
    )


def test_answers_say_where_to_reach_the_shop_and_a_resent_row_goes_out_once(
    taiwan_gateway: RunningGateway, fake_mitake: FakeMitake, fake_twilio: FakeTwilio
) -> None:
    gw = taiwan_gateway
    with gw.store() as session, session.begin():
        make_customer(session, name="林小島", phone=ISLAND_FAN)
        make_customer(session, name="Amy Chen", phone=ABROAD, language=Language.EN)
    queue(gw, Channel.SMS, ISLAND_FAN, "您的訂單 N0000123 已出貨囉，明天到～")
    queue(gw, Channel.SMS, ABROAD, "Your order N0000124 has shipped.")
    [answer] = wait_until(lambda: fake_mitake.sent, what="the answer through Mitake")
    assert answer.smbody == (
        "【小島選物】您的訂單 N0000123 已出貨囉，明天到～"
        "\n（此號碼無法接收回覆，請加 LINE：@islandshop）"
    )
    assert fake_twilio.wait_for_sent(ABROAD)[0]["body"] == "Your order N0000124 has shipped."
    wait_until(
        lambda: gw.query(
            lambda s: set(s.scalars(select(OutboxMessage.status))) == {OutboxStatus.SENT}
        ),
        what="both answers recorded as sent",
    )

    # A dispatcher that died after Mitake took a message: the next one sends it again
    # with the same id, and Mitake sends nothing a second time.
    with gw.store() as session, session.begin():
        customer = identity(session, Channel.SMS, ISLAND_FAN)
        outbox.enqueue(
            session,
            key="refund:island",
            identity=customer,
            text="小島，您的退款 NT$350 已退回信用卡",
            purpose=MessagePurpose.TRANSACTIONAL,
            author=Author.SYSTEM,
            now=at(15),
        )
        [claimed] = outbox.claim_due(session, worker="died", now=at(15), limit=5, purposes=OUTREACH)
    first = asyncio.run(_send_directly(gw, claimed))
    with gw.store() as session, session.begin():
        outbox_results.release(session, [claimed.outbox_id], worker="died")
    assert send_outreach(gw, at(15, 1)) == 1
    refund = [message for message in fake_mitake.sent if "退款" in message.smbody]
    assert [message.smbody for message in refund] == [
        "【小島選物】小島，您的退款 NT$350 已退回信用卡"
    ]
    row = gw.query(lambda s: s.get_one(OutboxMessage, claimed.outbox_id))
    assert (row.status, row.provider_message_id) == (OutboxStatus.SENT, first)


async def _send_directly(gw: RunningGateway, row: outbox.Claimed) -> str | None:
    senders = build_senders(gw.settings)
    try:
        return await senders[Channel.SMS].send(
            Outgoing(ISLAND_FAN, row.body, outbox_id=row.outbox_id, purpose=row.purpose)
        )
    finally:
        for sender in senders.values():
            await sender.close()
