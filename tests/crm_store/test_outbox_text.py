"""The outbox's one entrance: a text cut to its channel's limits, one at a time or many."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.conversations import identity_for, open_conversation
from crm_store.models import (
    Author,
    Channel,
    ChannelIdentity,
    Language,
    Message,
    MessagePurpose,
    OutboxMessage,
    OutboxStatus,
)
from crm_store.outbox import PRIORITY, Draft, enqueue, enqueue_many
from crm_store.text_limits import MAX_MESSAGE_CHARS, TELEGRAM_MAX_CHARS
from tests.factories import utc

NOW = utc(2026, 3, 2, 1, 30)
# 2,400 characters of sentences: two SMS messages, one Telegram message.
LONG = "這是一段很長的訊息，用來測試分段。" * 150


def identity(session: Session, channel: Channel, address: str) -> ChannelIdentity:
    return identity_for(
        session,
        channel=channel,
        address=address,
        language=Language.ZH_TW,
        timezone="Asia/Taipei",
        now=NOW,
    )


def rows(session: Session) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


@pytest.mark.parametrize(("channel", "parts"), [(Channel.SMS, 2), (Channel.TELEGRAM, 1)])
def test_enqueue_cuts_a_text_to_its_channels_limit(
    session: Session, channel: Channel, parts: int
) -> None:
    who = identity(session, channel, "+886912000001" if channel is Channel.SMS else "12345")
    conversation = open_conversation(session, who, now=NOW)
    queued = enqueue(
        session,
        key="k",
        identity=who,
        purpose=MessagePurpose.REPLY,
        text=LONG,
        author=Author.BOT,
        conversation=conversation,
        buttons=[{"title": "好", "payload": "/affirm"}],
        now=NOW,
    )
    queued_rows = rows(session)
    assert [r.idempotency_key for r in queued_rows] == ["k", "k:2"][:parts]
    limit = MAX_MESSAGE_CHARS if channel is Channel.SMS else TELEGRAM_MAX_CHARS
    assert all(len(r.body) <= limit for r in queued_rows)
    assert "".join(r.body for r in queued_rows) == LONG.strip()
    assert queued.message is not None
    assert queued.message.text == "\n".join(r.body for r in queued_rows)
    assert [r.payload for r in queued_rows][-1] == {
        "buttons": [{"title": "好", "payload": "/affirm"}]
    }
    assert queued.message.payload == queued_rows[-1].payload


def test_enqueue_takes_a_text_or_parts_not_both(session: Session) -> None:
    who = identity(session, Channel.SMS, "+886912000001")
    with pytest.raises(ValueError, match="text and parts"):
        enqueue(
            session,
            key="k",
            identity=who,
            purpose=MessagePurpose.REPLY,
            text="hi",
            parts=["hi"],
            author=Author.BOT,
            now=NOW,
        )


def test_enqueue_many_queues_each_draft_cut_to_its_channel_as_enqueue_would(
    session: Session,
) -> None:
    sms = identity(session, Channel.SMS, "+886912000001")
    telegram = identity(session, Channel.TELEGRAM, "12345")
    session.commit()
    count = enqueue_many(
        session,
        [
            Draft("c:1", sms.customer_id, sms.id, Channel.SMS, LONG),
            Draft("c:2", telegram.customer_id, telegram.id, Channel.TELEGRAM, " 週年慶 85 折 "),
        ],
        purpose=MessagePurpose.MARKETING,
        now=NOW,
        campaign_id=None,
    )
    session.expire_all()
    assert count == 2
    queued = rows(session)
    assert [(r.idempotency_key, r.identity_id) for r in queued] == [
        ("c:1", sms.id),
        ("c:1:2", sms.id),
        ("c:2", telegram.id),
    ]
    assert all(len(r.body) <= MAX_MESSAGE_CHARS for r in queued)
    assert queued[2].body == "週年慶 85 折"
    for row in queued:
        assert row.status is OutboxStatus.PENDING
        assert row.purpose is MessagePurpose.MARKETING
        assert row.priority == PRIORITY[MessagePurpose.MARKETING]
        assert row.not_before == NOW and row.created_at == NOW
        assert row.attempts == 0 and row.message_id is None and row.claimed_by is None
    assert session.scalar(select(Message.id)) is None


def test_enqueue_many_of_nothing_queues_nothing(session: Session) -> None:
    assert enqueue_many(session, [], purpose=MessagePurpose.MARKETING, now=NOW) == 0
    assert rows(session) == []
