"""Routing a conversation's waiting messages: to Rasa, or to the staff inbox.

`Router.process` takes every inbound message of a conversation not yet handled,
sends them to Rasa as one burst when the bot has the conversation, and in one
transaction marks them handled and queues the reply in the outbox. When Rasa cannot
answer the messages stay unhandled (and are replayed when it is back) and the
customer gets one holding reply per outage. While staff have the conversation the
messages are only marked as delivered to the inbox.
"""

from __future__ import annotations

import enum
import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from channels.inbound import LANGUAGE_SWITCH
from channels.metrics import Metrics
from channels.rasa_client import BotMessage, RasaClient, RasaUnavailable
from channels.senders import split_for_channel
from channels.texts import HOLDING_REPLY
from crm_store import outbox
from crm_store.db import session_scope
from crm_store.models import (
    Author,
    Channel,
    ChannelIdentity,
    Conversation,
    ConversationMode,
    Direction,
    Message,
    MessagePurpose,
)
from crm_store.surveys import parse_score, pending_survey

log = logging.getLogger(__name__)


class Routed(enum.Enum):
    NOTHING = "nothing"  # no waiting messages
    ANSWERED = "answered"  # Rasa answered; the reply is in the outbox
    TO_STAFF = "to_staff"  # a person has the conversation
    SILENCED = "silenced"  # an opted-out SMS number: stored, never answered
    RASA_DOWN = "rasa_down"  # left waiting for Rasa


def send_text(
    session: Session,
    *,
    key: str,
    identity: ChannelIdentity,
    conversation: Conversation | None,
    text: str,
    purpose: MessagePurpose,
    author: Author,
    now: datetime,
    buttons: Sequence[dict[str, Any]] = (),
    staff_user_id: int | None = None,
) -> outbox.Queued:
    """Queue `text` for `identity`, cut to the channel's limits (once per `key`)."""
    return outbox.enqueue(
        session,
        key=key,
        identity=identity,
        purpose=purpose,
        parts=split_for_channel(identity.channel, text),
        author=author,
        conversation=conversation,
        payload={"buttons": list(buttons)} if buttons else None,
        now=now,
        staff_user_id=staff_user_id,
    )


def sender_id(identity: ChannelIdentity) -> str:
    """The conversation's id at Rasa, which the actions parse back (bot/actions/context)."""
    return f"{identity.channel}:{identity.address}"


def _waiting(session: Session, conversation_id: int) -> list[Message]:
    return list(
        session.scalars(
            select(Message)
            .where(
                Message.conversation_id == conversation_id,
                Message.direction == Direction.INBOUND,
                Message.handled_at.is_(None),
            )
            .order_by(Message.id)
        )
    )


def _as_typed(text: str, last_buttons: Sequence[dict[str, Any]]) -> str:
    """A tapped quick-reply button arrives as its title; Rasa wants its payload."""
    for button in last_buttons:
        if text.strip() == str(button.get("title", "")).strip() and button.get("payload"):
            return str(button["payload"])
    return text


def _last_buttons(session: Session, conversation_id: int) -> list[dict[str, Any]]:
    last = session.scalar(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.direction == Direction.OUTBOUND)
        .order_by(Message.id.desc())
        .limit(1)
    )
    return list((last.payload or {}).get("buttons", [])) if last is not None else []


class Router:
    def __init__(
        self,
        factory: sessionmaker[Session],
        rasa: RasaClient,
        *,
        metrics: Metrics,
        clock: Callable[[], datetime],
    ) -> None:
        self._factory, self._rasa, self._metrics, self._clock = factory, rasa, metrics, clock

    def process(self, conversation_id: int) -> Routed:
        with session_scope(self._factory) as session:
            conversation = session.get_one(Conversation, conversation_id)
            waiting = _waiting(session, conversation_id)
            if not waiting:
                return Routed.NOTHING
            identity = conversation.identity
            channel = identity.channel
            if conversation.mode is ConversationMode.HUMAN:
                self._mark_handled(session, waiting)
                self._metrics.inbound.labels(channel, "to_staff").inc(len(waiting))
                return Routed.TO_STAFF
            if channel is Channel.SMS and identity.opted_out:
                self._mark_handled(session, waiting)
                self._metrics.inbound.labels(channel, "silenced").inc(len(waiting))
                return Routed.SILENCED
            buttons = _last_buttons(session, conversation_id)
            text = "\n".join(_as_typed(message.text, buttons) for message in waiting)
            # An answer to a pending survey ("😍", "非常滿意") may be lost on the NLU: the
            # gateway reads the score itself and hands Rasa the intent with its entity.
            score = parse_score(text) if not text.startswith("/") else None
            if score is not None and pending_survey(session, identity.customer_id) is not None:
                text = "/give_score" + json.dumps({"score": str(score)})
            ids = [message.id for message in waiting]
            switched = any(LANGUAGE_SWITCH in (message.payload or {}) for message in waiting)
            language = identity.customer.language if switched else None
            rasa_sender = sender_id(identity)

        started = time.perf_counter()
        try:
            replies = self._rasa.send(rasa_sender, text, language=language, detect=False)
        except RasaUnavailable as error:
            log.warning("Rasa did not answer conversation %d: %s", conversation_id, error)
            self.hold(conversation_id)
            return Routed.RASA_DOWN
        self._metrics.rasa_seconds.observe(time.perf_counter() - started)

        with session_scope(self._factory) as session:
            now = self._clock()
            handled = session.execute(
                update(Message)
                .where(Message.id.in_(ids), Message.handled_at.is_(None))
                .values(handled_at=now)
            )
            if not handled.rowcount:  # type: ignore[attr-defined]
                return Routed.NOTHING
            if replies:
                conversation = session.get_one(Conversation, conversation_id)
                send_text(
                    session,
                    key=f"reply:{ids[-1]}",
                    identity=conversation.identity,
                    conversation=conversation,
                    text=_joined(replies),
                    purpose=MessagePurpose.REPLY,
                    author=Author.BOT,
                    now=now,
                    buttons=[button for reply in replies for button in reply.buttons],
                )
        self._metrics.inbound.labels(channel, "answered").inc(len(ids))
        return Routed.ANSWERED

    def hold(self, conversation_id: int) -> bool:
        """Queue the holding reply, once per outage: keyed by the oldest waiting message."""
        with session_scope(self._factory) as session:
            conversation = session.get_one(Conversation, conversation_id)
            waiting = _waiting(session, conversation_id)
            if not waiting or conversation.mode is ConversationMode.HUMAN:
                return False
            identity = conversation.identity
            queued = send_text(
                session,
                key=f"holding:{waiting[0].id}",
                identity=identity,
                conversation=conversation,
                text=HOLDING_REPLY[identity.customer.language],
                purpose=MessagePurpose.REPLY,
                author=Author.SYSTEM,
                now=self._clock(),
            )
        if queued.new:
            self._metrics.holding_replies.inc()
        return queued.new

    def conversations_waiting(self) -> list[int]:
        """Conversations with the bot that have messages nobody answered yet."""
        with self._factory() as session:
            return list(
                session.scalars(
                    select(Message.conversation_id)
                    .join(Conversation, Conversation.id == Message.conversation_id)
                    .where(
                        Message.direction == Direction.INBOUND,
                        Message.handled_at.is_(None),
                        Conversation.mode == ConversationMode.BOT,
                    )
                    .distinct()
                )
            )

    def _mark_handled(self, session: Session, messages: Sequence[Message]) -> None:
        now = self._clock()
        for message in messages:
            message.handled_at = now


def _joined(replies: Sequence[BotMessage]) -> str:
    """The bot's replies to one burst, as one message: one notification, fewer SMS parts."""
    return "\n\n".join(reply.text for reply in replies)
