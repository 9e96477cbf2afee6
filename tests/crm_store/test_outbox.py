"""The outbox's enqueue: a transcript message and a row per part, priorities, a key queued once."""

from __future__ import annotations

import threading
import time

from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from crm_store.models import (
    Author,
    ChannelIdentity,
    Conversation,
    DeliveryStatus,
    Direction,
    Message,
    MessagePurpose,
    OutboxMessage,
    OutboxStatus,
)
from crm_store.outbox import Queued, enqueue
from tests.crm_store.outbox_helpers import NOW, count, new_identity, queue, reloaded, row, talk


def test_enqueue_writes_one_transcript_message_and_one_outbox_row_per_part(
    session: Session,
) -> None:
    identity, conversation = talk(session)
    parts = ("第一段。", "第二段。", "第三段。")
    message = queue(session, identity, "reply:42", parts=parts, conversation=conversation).message
    reloaded(session)

    assert message is not None
    assert count(session, Message) == 1
    stored = session.get_one(Message, message.id)
    assert stored.text == "第一段。\n第二段。\n第三段。"
    assert stored.direction is Direction.OUTBOUND
    assert stored.author is Author.BOT
    assert stored.delivery_status is DeliveryStatus.QUEUED
    assert stored.conversation_id == conversation.id
    assert session.get_one(Conversation, conversation.id).last_message_at == NOW

    rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [r.idempotency_key for r in rows] == ["reply:42", "reply:42:2", "reply:42:3"]
    assert [r.body for r in rows] == list(parts)
    assert {r.message_id for r in rows} == {message.id}
    assert {r.status for r in rows} == {OutboxStatus.PENDING}
    assert {r.not_before for r in rows} == {NOW}
    assert {(r.identity_id, r.customer_id) for r in rows} == {(identity.id, identity.customer_id)}


def test_enqueue_without_a_conversation_queues_rows_but_no_transcript(session: Session) -> None:
    identity = new_identity(session)
    result = queue(session, identity, "greeting:1", parts=("a", "b"))
    reloaded(session)
    assert result == Queued(new=True, message=None)
    assert count(session, Message) == 0
    assert [r.message_id for r in session.scalars(select(OutboxMessage))] == [None, None]


def test_buttons_go_with_the_last_part_only(session: Session) -> None:
    identity, conversation = talk(session)
    payload = {"buttons": [{"title": "Yes", "payload": "/affirm"}]}
    enqueue(
        session,
        key="ask",
        identity=identity,
        purpose=MessagePurpose.REPLY,
        parts=["one", "two"],
        author=Author.BOT,
        conversation=conversation,
        payload=payload,
        now=NOW,
    )
    reloaded(session)
    assert row(session, "ask").payload is None
    assert row(session, "ask:2").payload == payload


def test_a_second_enqueue_with_the_same_key_says_so_and_adds_nothing(
    session: Session,
) -> None:
    identity, conversation = talk(session)
    first = queue(session, identity, "birthday:7:2026", parts=("a", "b"), conversation=conversation)
    session.commit()
    again = queue(
        session, identity, "birthday:7:2026", parts=("x", "y", "z"), conversation=conversation
    )
    reloaded(session)
    assert first.new and first.message is not None
    assert again == Queued(new=False)
    assert count(session, Message) == 1
    assert count(session, OutboxMessage) == 2
    assert row(session, "birthday:7:2026").body == "a"


def test_enqueue_gives_each_purpose_its_priority(session: Session) -> None:
    identity = new_identity(session)
    for purpose in MessagePurpose:
        queue(session, identity, f"p:{purpose}", purpose=purpose)
    reloaded(session)
    priority = {purpose: row(session, f"p:{purpose}").priority for purpose in MessagePurpose}
    assert priority[MessagePurpose.REPLY] == priority[MessagePurpose.COMPLIANCE]
    assert (
        priority[MessagePurpose.REPLY]
        < priority[MessagePurpose.TRANSACTIONAL]
        < priority[MessagePurpose.SURVEY]
        < priority[MessagePurpose.MARKETING]
    )


def test_a_key_queued_by_a_concurrent_transaction_meanwhile_is_not_queued_again(
    session_factory: sessionmaker[Session],
) -> None:
    """Two gateways queue the same holding reply at once: the other commits the key right
    before this one inserts it, and this one queues nothing, not even a transcript line."""
    with session_factory() as setup, setup.begin():
        identity_id, conversation_id = (item.id for item in talk(setup))

    def the_other_gateway_queues_it() -> None:
        with session_factory() as other, other.begin():
            queue(other, other.get_one(ChannelIdentity, identity_id), "holding:7")

    with session_factory() as session, session.begin():
        identity = session.get_one(ChannelIdentity, identity_id)
        conversation = session.get_one(Conversation, conversation_id)
        before = count(session, Message)
        engine = session.get_bind()

        inserting: list[str] = []

        def before_the_insert(_conn: object, _cursor: object, statement: str, *_: object) -> None:
            if not inserting and statement.startswith("INSERT INTO outbox"):
                inserting.append(statement)
                the_other_gateway_queues_it()

        event.listen(engine, "before_cursor_execute", before_the_insert)
        try:
            queued = queue(session, identity, "holding:7", conversation=conversation)
        finally:
            event.remove(engine, "before_cursor_execute", before_the_insert)
        assert inserting
        assert queued == Queued(new=False)
    with session_factory() as session:
        assert count(session, OutboxMessage) == 1
        assert count(session, Message) == before


def test_a_key_a_running_transaction_queued_is_waited_for_and_not_queued_again(
    session_factory: sessionmaker[Session],
) -> None:
    """Two gateways queue the same holding reply at the same moment: the second waits for
    the first's transaction and, once it commits, queues nothing, without an error."""
    with session_factory() as setup, setup.begin():
        identity_id, conversation_id = (item.id for item in talk(setup))
    queued_first = threading.Event()

    def the_first_gateway() -> None:
        with session_factory() as first, first.begin():
            queue(first, first.get_one(ChannelIdentity, identity_id), "holding:7")
            queued_first.set()
            time.sleep(0.5)  # still running while the second one queues

    first = threading.Thread(target=the_first_gateway)
    first.start()
    assert queued_first.wait(timeout=10)
    with session_factory() as session, session.begin():
        before = count(session, Message)
        queued = queue(
            session,
            session.get_one(ChannelIdentity, identity_id),
            "holding:7",
            conversation=session.get_one(Conversation, conversation_id),
        )
    first.join()
    assert queued == Queued(new=False)
    with session_factory() as session:
        assert count(session, OutboxMessage) == 1
        assert count(session, Message) == before
