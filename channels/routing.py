"""Routing a conversation's waiting messages: to Rasa, or to the staff inbox.

`Router.process` takes every inbound message of a conversation not yet handled,
sends them to Rasa as one burst when the bot has the conversation, and in one
transaction marks them handled and queues the reply in the outbox. When Rasa cannot
answer the messages stay unhandled (and are replayed when it is back) and the
customer gets one holding reply per outage. While staff have the conversation the
messages are only marked as delivered to the inbox.

Whatever Rasa answers, the customer gets one sensible message: a turn that comes back
empty, stacked (a policy loop that tripped Rasa's circuit breaker) or the same as the
bot's previous reply is a failed turn. It becomes an apology and a hand-off to staff,
so nobody who wrote is left unanswered or stuck in a loop. Channels without buttons
(SMS) get the options as numbered lines, answerable by number or by words.
"""

from __future__ import annotations

import enum
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from channels.inbound import LANGUAGE_SWITCH
from channels.metrics import Metrics
from channels.rasa_client import BotMessage, RasaClient, RasaUnavailable
from channels.senders import split_for_channel
from channels.texts import (
    BOT_FAILED,
    HOLDING_REPLY,
    NUMBER_HINT,
    STAFF_REPLY_LATER,
    STAFF_REPLY_SOON,
    TICKET_REFERENCE,
    WITH_STAFF,
    say,
)
from crm_store import outbox
from crm_store.conversations import end_turn, take_turn
from crm_store.customers import open_tickets
from crm_store.db import session_scope
from crm_store.models import (
    Author,
    Channel,
    ChannelIdentity,
    Conversation,
    ConversationMode,
    Direction,
    HandoffReason,
    Language,
    Message,
    MessagePurpose,
)
from crm_store.settings import Settings
from crm_store.surveys import parse_score, pending_survey
from crm_store.tickets import request_handoff
from crm_store.time_text import format_business_hours, format_datetime

log = logging.getLogger(__name__)


class Routed(enum.Enum):
    NOTHING = "nothing"  # no waiting messages
    ANSWERED = "answered"  # Rasa answered; the reply is in the outbox
    TO_STAFF = "to_staff"  # a person has the conversation
    SILENCED = "silenced"  # an opted-out SMS number: stored, never answered
    RASA_DOWN = "rasa_down"  # left waiting for Rasa
    BUSY = "busy"  # another gateway is answering the conversation; it takes these too
    FAILED = "failed"  # Rasa's answer was unusable; apologised and handed to staff


class TurnFailure(enum.StrEnum):
    """Why a reply from Rasa cannot be sent as it is."""

    SILENT = "the assistant gave no reply"
    STACKED = "the assistant repeated one reply within a turn"
    REPEATED = "the assistant gave the same reply twice in a row"
    OVERDUE = "the assistant did not answer in time"


# A customer waiting for staff who writes again hears from us at most this often.
STAFF_ACKNOWLEDGED_FOR = timedelta(minutes=30)
# The same text this often in one turn is a policy loop, not an answer.
STACKED_AT = 3


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


_NUMBERED = re.compile(r"^\s*(\d{1,2})\s*[.、:：)]?\s*")
_ANSWER_NUMBER = re.compile(
    r"^\s*(?:#|no\.?\s*|第)?\s*([1-9])\s*(?:號|个|個|項)?\s*[.!。！]?\s*$", re.I
)


def option_title(button: dict[str, Any]) -> str:
    """A button's words without a number the bot already put in front ("1. 購物金")."""
    return _NUMBERED.sub("", str(button.get("title", "")), count=1).strip()


def numbered_options(buttons: Sequence[dict[str, Any]], language: Language) -> str:
    """The options as lines a customer can answer by number, for channels without buttons."""
    lines = [f"{index}. {option_title(button)}" for index, button in enumerate(buttons, start=1)]
    return "\n".join([*lines, NUMBER_HINT[language]])


def _as_typed(text: str, last_buttons: Sequence[dict[str, Any]]) -> str:
    """A tapped button arrives as its title, and an SMS answer as the option's number or
    its words; Rasa wants the button's payload."""
    options = [button for button in last_buttons if button.get("payload")]
    typed = text.strip()
    for button in options:
        if typed.lower() in {
            str(button.get("title", "")).strip().lower(),
            option_title(button).lower(),
        }:
            return str(button["payload"])
    number = _ANSWER_NUMBER.match(typed)
    if number and 1 <= int(number.group(1)) <= len(options):
        return str(options[int(number.group(1)) - 1]["payload"])
    return text


def _last_bot_message(session: Session, conversation_id: int) -> Message | None:
    return session.scalar(
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.direction == Direction.OUTBOUND)
        .order_by(Message.id.desc())
        .limit(1)
    )


def reply_text(replies: Sequence[BotMessage], channel: Channel, language: Language) -> str:
    """The bot's replies to one burst as one message (one notification, fewer SMS parts),
    each reply once; over SMS with the options as numbered lines."""
    texts = dict.fromkeys(reply.text.strip() for reply in replies if reply.text.strip())
    text = "\n\n".join(texts)
    buttons = [button for reply in replies for button in reply.buttons]
    if buttons and channel is Channel.SMS:
        text = f"{text}\n{numbered_options(buttons, language)}"
    return text


def _words(text: str) -> str:
    return " ".join(text.split())


def turn_failure(
    replies: Sequence[BotMessage], answer: str, previous: str | None
) -> TurnFailure | None:
    """Whether Rasa's replies to a turn would leave the customer silent or looping."""
    texts = [reply.text.strip() for reply in replies if reply.text.strip()]
    if not texts:
        return TurnFailure.SILENT
    if max(texts.count(text) for text in texts) >= STACKED_AT:
        return TurnFailure.STACKED
    if previous is not None and _words(answer) == _words(previous):
        return TurnFailure.REPEATED
    return None


@dataclass(frozen=True, slots=True)
class _Turn:
    """The messages of a conversation sent to Rasa as one turn, and what answering needs."""

    conversation_id: int
    message_ids: list[int]
    rasa_sender: str
    channel: Channel
    language: Language
    previous: str | None  # the bot's last reply, to notice a repeated one


class Router:
    def __init__(
        self,
        factory: sessionmaker[Session],
        rasa: RasaClient,
        *,
        settings: Settings,
        metrics: Metrics,
        clock: Callable[[], datetime],
        name: str = "router",
    ) -> None:
        self._factory, self._rasa, self._settings = factory, rasa, settings
        self._metrics, self._clock, self._name = metrics, clock, name
        # Longer than any Rasa call, so a turn is only taken over from a stopped gateway.
        self._turn_lease = timedelta(seconds=2 * settings.rasa_timeout_seconds + 5)

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
                self._acknowledge_for_staff(session, conversation, waiting[-1])
                self._metrics.inbound.labels(channel, "to_staff").inc(len(waiting))
                return Routed.TO_STAFF
            if channel is Channel.SMS and identity.opted_out:
                self._mark_handled(session, waiting)
                self._metrics.inbound.labels(channel, "silenced").inc(len(waiting))
                return Routed.SILENCED
            if not take_turn(
                session,
                conversation_id,
                answerer=self._name,
                now=self._clock(),
                lease=self._turn_lease,
            ):
                return Routed.BUSY
            last = _last_bot_message(session, conversation_id)
            buttons = list((last.payload or {}).get("buttons", [])) if last is not None else []
            previous = last.text if last is not None and last.author is Author.BOT else None
            text = "\n".join(_as_typed(message.text, buttons) for message in waiting)
            # An answer to a pending survey ("😍", "非常滿意") may be lost on the NLU: the
            # gateway reads the score itself and hands Rasa the intent with its entity.
            score = parse_score(text) if not text.startswith("/") else None
            if score is not None and pending_survey(session, identity.customer_id) is not None:
                text = "/give_score" + json.dumps({"score": str(score)})
            switched = any(LANGUAGE_SWITCH in (message.payload or {}) for message in waiting)
            turn = _Turn(
                conversation_id=conversation_id,
                message_ids=[message.id for message in waiting],
                rasa_sender=sender_id(identity),
                channel=channel,
                language=identity.customer.language,
                previous=previous,
            )

        ended = False
        try:
            started = time.perf_counter()
            try:
                replies = self._rasa.send(
                    turn.rasa_sender,
                    text,
                    language=turn.language if switched else None,
                    detect=False,
                )
            except RasaUnavailable as error:
                log.warning("Rasa did not answer conversation %d: %s", conversation_id, error)
                self.hold(conversation_id)
                return Routed.RASA_DOWN
            self._metrics.rasa_seconds.observe(time.perf_counter() - started)
            ended = True
            return self._reply(turn, replies)
        finally:
            if not ended:
                with session_scope(self._factory) as session:
                    end_turn(session, conversation_id, answerer=self._name)

    def _reply(self, turn: _Turn, replies: list[BotMessage]) -> Routed:
        """In one transaction: mark the turn's messages handled, queue Rasa's answer (or
        the apology when the answer is unusable) and give the turn back."""
        conversation_id, ids, channel = turn.conversation_id, turn.message_ids, turn.channel
        answer = reply_text(replies, channel, turn.language)
        failure = turn_failure(replies, answer, turn.previous)
        with session_scope(self._factory) as session:
            now = self._clock()
            end_turn(session, conversation_id, answerer=self._name)
            handled = session.execute(
                update(Message)
                .where(Message.id.in_(ids), Message.handled_at.is_(None))
                .values(handled_at=now)
            )
            if not handled.rowcount:  # type: ignore[attr-defined]
                return Routed.NOTHING
            conversation = session.get_one(Conversation, conversation_id)
            author, buttons = Author.BOT, [button for reply in replies for button in reply.buttons]
            if failure is not None:
                answer = self._hand_over_failed_turn(session, conversation, failure, now=now)
                author, buttons = Author.SYSTEM, []
            send_text(
                session,
                key=f"reply:{ids[-1]}",
                identity=conversation.identity,
                conversation=conversation,
                text=answer,
                purpose=MessagePurpose.REPLY,
                author=author,
                now=now,
                buttons=buttons,
            )
        if failure is not None:
            log.warning("conversation %d handed to staff: %s", conversation_id, failure.value)
            self._metrics.inbound.labels(channel, "failed").inc(len(ids))
            self._forget_failed_turn(turn.rasa_sender)
            return Routed.FAILED
        self._metrics.inbound.labels(channel, "answered").inc(len(ids))
        return Routed.ANSWERED

    def _hand_over_failed_turn(
        self,
        session: Session,
        conversation: Conversation,
        failure: TurnFailure,
        *,
        now: datetime,
    ) -> str:
        """Put the conversation in the staff queue; the apology, who answers and when."""
        customer = conversation.identity.customer
        ticket = next(iter(open_tickets(session, customer.id)), None)
        request_handoff(
            session,
            conversation=conversation,
            customer=customer,
            reason=HandoffReason.BOT_FAILURE,
            ticket=ticket,
            now=now,
            note=failure.value,
        )
        language = customer.language
        text = say(BOT_FAILED, language, when=self._staff_answer_when(language, now))
        if ticket is not None:
            text += say(TICKET_REFERENCE, language, reference=ticket.reference)
        return text

    def _acknowledge_for_staff(
        self, session: Session, conversation: Conversation, latest: Message
    ) -> None:
        """A customer who writes while waiting for staff, and has heard nothing from us for
        a while, is told the message is with a colleague and when they answer."""
        now = self._clock()
        heard_from_us = session.scalar(
            select(func.max(Message.created_at)).where(
                Message.conversation_id == conversation.id,
                Message.direction == Direction.OUTBOUND,
            )
        )
        if heard_from_us is not None and now - heard_from_us < STAFF_ACKNOWLEDGED_FOR:
            return
        language = conversation.identity.customer.language
        send_text(
            session,
            key=f"with-staff:{latest.id}",
            identity=conversation.identity,
            conversation=conversation,
            text=say(WITH_STAFF, language, when=self._staff_answer_when(language, now)),
            purpose=MessagePurpose.REPLY,
            author=Author.SYSTEM,
            now=now,
        )

    def _staff_answer_when(self, language: Language, now: datetime) -> str:
        hours = self._settings.opening_hours
        if hours.is_open(now):
            return say(STAFF_REPLY_SOON, language, minutes=str(self._settings.handoff_wait_minutes))
        return say(
            STAFF_REPLY_LATER,
            language,
            opening=format_datetime(hours.next_opening(now), language),
            hours=format_business_hours(hours, language),
        )

    def _forget_failed_turn(self, rasa_sender: str) -> None:
        """Leave Rasa's tracker listening, so a loop does not start again when staff hand
        the customer back (Rasa keeps the tracker through restarts)."""
        try:
            self._rasa.resume(rasa_sender)
        except RasaUnavailable as error:
            log.warning("could not reset the tracker of %s: %s", rasa_sender, error)

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

    def hand_over_overdue(self) -> int:
        """Hand to staff every conversation whose oldest unanswered message has waited
        longer than `bot_answer_deadline_seconds`; returns how many."""
        now = self._clock()
        deadline = now - timedelta(seconds=self._settings.bot_answer_deadline_seconds)
        handed = 0
        with session_scope(self._factory) as session:
            overdue = session.scalars(
                select(Message.conversation_id)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(
                    Message.direction == Direction.INBOUND,
                    Message.handled_at.is_(None),
                    Message.created_at < deadline,
                    Conversation.mode == ConversationMode.BOT,
                )
                .distinct()
            ).all()
            for conversation_id in overdue:
                conversation = session.get_one(Conversation, conversation_id)
                ids = [message.id for message in _waiting(session, conversation_id)]
                claimed = session.execute(
                    update(Message)
                    .where(Message.id.in_(ids), Message.handled_at.is_(None))
                    .values(handled_at=now)
                )
                if not ids or not claimed.rowcount:  # type: ignore[attr-defined]
                    continue  # answered meanwhile
                send_text(
                    session,
                    key=f"reply:{ids[-1]}",
                    identity=conversation.identity,
                    conversation=conversation,
                    text=self._hand_over_failed_turn(
                        session, conversation, TurnFailure.OVERDUE, now=now
                    ),
                    purpose=MessagePurpose.REPLY,
                    author=Author.SYSTEM,
                    now=now,
                )
                handed += 1
        if handed:
            log.warning("%d conversations handed to staff: the bot did not answer in time", handed)
        return handed

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
