"""Personal data over LINE: the first promotion says how to refuse, and a refusal
written in the chat stops the promotions, through the real line-bot-sdk against the
fake Messaging API."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm_store.models import Channel, Language, MessagePurpose, OutboxMessage, OutboxStatus
from crm_store.opt_out_notice import OPT_OUT_NOTICE
from tests.channels.conftest import RunningGateway, wait_until
from tests.channels.gateway_helpers import identity, queue
from tests.channels.line_helpers import LineUser, post_line
from tests.fakes.line import FakeLine

AMY = "U4af4980629cccccccccccccccccccccc"


@pytest.fixture
def gateway(line_shop: RunningGateway) -> RunningGateway:
    """The gateway these tests drive: with LINE set up."""
    return line_shop


def test_a_line_follower_is_told_how_to_refuse_and_a_refusal_stops_promotions(
    gateway: RunningGateway, fake_line: FakeLine
) -> None:
    assert post_line(gateway, fake_line.follow_event(AMY)).status_code == 200
    queue(gateway, Channel.LINE, AMY, "週年慶全館八折！", purpose=MessagePurpose.MARKETING)
    [promotion] = fake_line.wait_for_sent(AMY)
    assert promotion["text"] == f"週年慶全館八折！\n{OPT_OUT_NOTICE[Language.ZH_TW]}"

    answer = LineUser(gateway, fake_line, AMY).says("別再發廣告了")
    assert "停止" in answer
    assert not gateway.query(lambda s: identity(s, Channel.LINE, AMY)).marketing_consent
    queue(gateway, Channel.LINE, AMY, "新品上市", purpose=MessagePurpose.MARKETING)
    wait_until(
        lambda: (
            gateway.query(
                lambda s: s.scalars(
                    select(OutboxMessage.status).order_by(OutboxMessage.id.desc()).limit(1)
                ).one()
            )
            is OutboxStatus.CANCELLED
        ),
        what="the next promotion cancelled",
    )
    assert len(fake_line.sent_to(AMY)) == 2  # the promotion and the confirmation
