from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from crm_store import inbox, transcripts
from crm_store.conversations import identity_for, open_conversation
from crm_store.handoffs import add_note
from crm_store.models import (
    Author,
    Channel,
    ChannelIdentity,
    Conversation,
    DeliveryStatus,
    Direction,
    Language,
    Message,
    StaffRole,
)
from tests.factories import make_staff, utc

NOW = utc(2026, 11, 23, 3, 0)


def talk(session: Session, channel: Channel, address: str) -> tuple[ChannelIdentity, Conversation]:
    identity = identity_for(
        session,
        channel=channel,
        address=address,
        language=Language.EN,
        timezone="Asia/Taipei",
        now=NOW,
    )
    return identity, open_conversation(session, identity, now=NOW)


def say(session: Session, conversation: Conversation, text: str, minute: int) -> Message:
    message = Message(
        conversation_id=conversation.id,
        direction=Direction.INBOUND,
        author=Author.CUSTOMER,
        channel=conversation.identity.channel,
        text=text,
        delivery_status=DeliveryStatus.RECEIVED,
        created_at=NOW + timedelta(minutes=minute),
    )
    session.add(message)
    session.flush()
    return message


def test_messages_of_a_conversation_or_of_an_address_after_an_id(session: Session) -> None:
    _, chat = talk(session, Channel.WEBCHAT, "cookie-1")
    _, other = talk(session, Channel.WEBCHAT, "cookie-2")
    first = say(session, chat, "hello", 1)
    say(session, other, "someone else", 2)
    second = say(session, chat, "anyone there?", 3)

    in_conversation = transcripts.messages(session, conversation_id=chat.id)
    assert [m.text for m in in_conversation] == ["hello", "anyone there?"]
    at_address = transcripts.messages(session, address=(Channel.WEBCHAT, "cookie-1"))
    assert [m.id for m in at_address] == [first.id, second.id]
    later = transcripts.messages(session, address=(Channel.WEBCHAT, "cookie-1"), after=first.id)
    assert [m.id for m in later] == [second.id]
    assert transcripts.messages(session, conversation_id=chat.id, limit=1) == [first]
    with pytest.raises(ValueError):
        transcripts.messages(session)


def test_a_staff_transcript_interleaves_notes_and_marks_each_new_entry(session: Session) -> None:
    agent = make_staff(session, "agent@shop.test", StaffRole.AGENT)
    _, conversation = talk(session, Channel.TELEGRAM, "555")
    empty = transcripts.newest(session, conversation)
    say(session, conversation, "my parcel is late", 1)
    after_message = transcripts.newest(session, conversation)
    add_note(session, conversation.id, agent=agent, text="checked", now=NOW + timedelta(minutes=2))
    say(session, conversation, "hello?", 3)

    entries = transcripts.transcript(session, conversation)
    assert [(e.kind, e.text) for e in entries] == [
        ("message", "my parcel is late"),
        ("note", "checked"),
        ("message", "hello?"),
    ]
    assert entries[1].staff == agent.display_name
    assert len({empty, after_message, transcripts.newest(session, conversation)}) == 3


def test_the_queue_version_counts_who_waits() -> None:
    assert inbox.waiting_in("") == 0
    assert inbox.waiting_in("1:waiting:None:None;2:claimed:3:None;4:waiting:None:x") == 2
