"""Routing a conversation's waiting messages: to Rasa, or to the staff inbox.

`Router.process` takes every inbound message of a conversation not yet handled,
sends them to Rasa as one burst when the bot has the conversation, and in one
transaction marks them handled and queues the reply in the outbox. When Rasa cannot
answer the messages stay unhandled (and are replayed when it is back) and the
customer gets one holding reply per outage. While staff have the conversation the
messages are only marked as delivered to the inbox.

Whatever Rasa answers, the customer gets one sensible message: a failed turn
(`channels.turns`) becomes an apology and a hand-off to staff (`channels.staff_wait`),
so nobody who wrote is left unanswered or stuck in a loop.

With several gateways, the router takes the conversation's turn in the store before
it calls Rasa, so one customer's messages reach the bot one turn at a time, in order.
A reply goes to the dispatcher straight away, already claimed, when nothing queued
earlier for the customer is still unsent: no wait for the outbox's next round.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.orm import Session, joinedload, sessionmaker

from channels.dispatch import Dispatcher
from channels.inbound import LANGUAGE_SWITCH
from channels.metrics import Metrics
from channels.rasa_client import BotMessage, RasaClient, RasaUnavailable
from channels.staff_wait import acknowledge_for_staff, hand_over_failed_turn
from channels.texts import HOLDING_REPLY
from channels.turns import TurnFailure, as_typed, reply_text, turn_failure
from contract import rasa as contract
from crm_store.conversations import end_turn, keep_turn, take_turn, waiting_for_bot
from crm_store.db import session_scope
from crm_store.models import (
    Author,
    Channel,
    ChannelIdentity,
    Conversation,
    ConversationMode,
    Customer,
    Direction,
    Language,
    Message,
    MessagePurpose,
)
from crm_store.outbox import Claimed, enqueue
from crm_store.sending_rules import consent_refusal
from crm_store.settings import Settings
from crm_store.surveys import parse_score, pending_survey

log = logging.getLogger(__name__)


# Who sends a reply queued already claimed: the identity and its rows (`Dispatcher.take`).
HandOver = Callable[[ChannelIdentity, Sequence[Claimed]], None]


class Routed(enum.Enum):
    NOTHING = "nothing"  # no waiting messages
    ANSWERED = "answered"  # Rasa answered; the reply is in the outbox
    SENDING = "sending"  # Rasa answered; the dispatcher is sending the reply already
    TO_STAFF = "to_staff"  # a person has the conversation
    SILENCED = "silenced"  # an opted-out SMS number: stored, never answered
    RASA_DOWN = "rasa_down"  # left waiting for Rasa
    BUSY = "busy"  # another gateway is answering the conversation; it takes these too
    FAILED = "failed"  # Rasa's answer was unusable; apologised and handed to staff


def sender_id(identity: ChannelIdentity) -> str:
    """The conversation's id at Rasa, which the actions read back (`contract.rasa`)."""
    return contract.sender_id(identity.channel, identity.address)


# Built once: the router runs these for every message, and building a statement costs
# more than running it.
_CONVERSATION = (
    select(Conversation)
    .where(Conversation.id == bindparam("id"))
    .options(joinedload(Conversation.identity).joinedload(ChannelIdentity.customer))
)
# What deciding a turn reads, as plain rows: loading objects through the ORM costs more
# than these queries. Each waiting message comes with what can change while it waits.
_WAITING = (
    select(
        Message.id,
        Message.text,
        Message.payload,
        Conversation.mode,
        ChannelIdentity.opted_out,
        ChannelIdentity.customer_id,
        Customer.language,
    )
    .join(Conversation, Conversation.id == Message.conversation_id)
    .join(ChannelIdentity, ChannelIdentity.id == Conversation.identity_id)
    .join(Customer, Customer.id == ChannelIdentity.customer_id)
    .where(
        Message.conversation_id == bindparam("id"),
        Message.direction == Direction.INBOUND,
        Message.handled_at.is_(None),
    )
    .order_by(Message.id)
)
_LAST_BOT_MESSAGE = (
    select(Message.text, Message.author, Message.payload)
    .where(Message.conversation_id == bindparam("id"), Message.direction == Direction.OUTBOUND)
    .order_by(Message.id.desc())
    .limit(1)
)
_CUSTOMER_OF = select(ChannelIdentity.customer_id).where(ChannelIdentity.id == bindparam("id"))
_MARK_HANDLED = (
    update(Message)
    .where(Message.id.in_(bindparam("ids", expanding=True)), Message.handled_at.is_(None))
    .values(handled_at=bindparam("now"))
)


def _conversation(session: Session, conversation_id: int) -> Conversation:
    """The conversation with its identity and customer, which routing always needs, in
    one query."""
    return session.scalars(_CONVERSATION, {"id": conversation_id}).one()


def _waiting(session: Session, conversation_id: int) -> list[Row[Any]]:
    """The conversation's unanswered messages, oldest first: their ids, texts, payloads,
    and the conversation's mode, opt-out, customer and language."""
    return list(session.connection().execute(_WAITING, {"id": conversation_id}))


def _mark_waiting_handled(session: Session, ids: list[int], *, now: datetime) -> bool:
    """Mark the messages `ids` handled; False when another answerer had done so already.
    Run on the connection: the ORM's bulk update machinery costs more than the update."""
    handled = session.connection().execute(_MARK_HANDLED, {"ids": ids, "now": now})
    return bool(handled.rowcount)


@dataclass(frozen=True, slots=True)
class _Turn:
    """The messages of a conversation sent to Rasa as one turn, and what answering needs."""

    conversation: Conversation  # with its identity and customer, detached
    message_ids: list[int]
    rasa_sender: str
    language: Language
    previous: str | None  # the bot's last reply, to notice a repeated one

    @property
    def identity(self) -> ChannelIdentity:
        return self.conversation.identity


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
        dispatcher: Dispatcher | None = None,
    ) -> None:
        """With a `dispatcher`, replies go to it straight away rather than through the
        outbox's next round."""
        self._factory, self._rasa, self._settings = factory, rasa, settings
        self._metrics, self._clock, self._name = metrics, clock, name
        self._dispatcher = dispatcher
        # Longer than any Rasa call, so a turn is only taken over from a stopped gateway.
        self._turn_lease = timedelta(seconds=settings.rasa_timeout_seconds + 10)

    def process(
        self,
        conversation_id: int,
        *,
        conversation: Conversation | None = None,
        hand_over: HandOver | None = None,
    ) -> Routed:
        """Answer the conversation's waiting messages. `conversation`, as the store has
        just left it (with its identity and customer), spares loading it again; what can
        change meanwhile (who answers, an opt-out, the language) is read afresh. A reply
        queued claimed goes to `hand_over`, by default the dispatcher's `take`."""
        with session_scope(self._factory) as session:
            waiting = _waiting(session, conversation_id)
            if not waiting:
                return Routed.NOTHING
            latest = waiting[-1]
            mode, opted_out, language = latest.mode, latest.opted_out, latest.language
            ids = [message.id for message in waiting]
            now = self._clock()
            if mode is ConversationMode.HUMAN:
                staffed = _conversation(session, conversation_id)  # acknowledging changes it
                _mark_waiting_handled(session, ids, now=now)
                acknowledge_for_staff(session, staffed, ids[-1], settings=self._settings, now=now)
                self._metrics.inbound.labels(staffed.identity.channel, "to_staff").inc(len(ids))
                return Routed.TO_STAFF
            if conversation is None or conversation.identity.customer_id != latest.customer_id:
                # Not given, or its customer merged into another since (a shared phone).
                conversation = _conversation(session, conversation_id)
            channel = conversation.identity.channel
            if channel is Channel.SMS and opted_out:
                _mark_waiting_handled(session, ids, now=now)
                self._metrics.inbound.labels(channel, "silenced").inc(len(ids))
                return Routed.SILENCED
            if not take_turn(
                session, conversation_id, answerer=self._name, now=now, lease=self._turn_lease
            ):
                return Routed.BUSY
            last = session.connection().execute(_LAST_BOT_MESSAGE, {"id": conversation_id}).first()
            buttons = list((last.payload or {}).get("buttons", [])) if last is not None else []
            previous = last.text if last is not None and last.author is Author.BOT else None
            text = "\n".join(as_typed(message.text, buttons) for message in waiting)
            # An answer to a pending survey ("😍", "非常滿意") may be lost on the NLU: the
            # gateway reads the score itself and hands Rasa the intent with its entity.
            score = parse_score(text) if not contract.is_payload(text) else None
            customer_id = conversation.identity.customer_id
            if score is not None and pending_survey(session, customer_id) is not None:
                text = contract.score_payload(score)
            switched = any(LANGUAGE_SWITCH in (message.payload or {}) for message in waiting)
            turn = _Turn(
                conversation=conversation,
                message_ids=ids,
                rasa_sender=sender_id(conversation.identity),
                language=language,
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
            return self._reply(turn, replies, hand_over)
        finally:
            if not ended:
                with session_scope(self._factory) as session:
                    end_turn(session, conversation_id, answerer=self._name)

    def _reply(self, turn: _Turn, replies: list[BotMessage], hand_over: HandOver | None) -> Routed:
        """In one transaction: mark the turn's messages handled, queue Rasa's answer (or
        the apology when the answer is unusable) and give the turn back."""
        conversation, ids, identity = turn.conversation, turn.message_ids, turn.identity
        channel = identity.channel
        answer = reply_text(replies, channel, turn.language)
        failure = turn_failure(replies, answer, turn.previous)
        with session_scope(self._factory) as session:
            now = self._clock()
            end_turn(session, conversation.id, answerer=self._name)
            if not _mark_waiting_handled(session, ids, now=now):
                return Routed.NOTHING
            author, buttons = Author.BOT, [button for reply in replies for button in reply.buttons]
            customer_id = session.connection().execute(_CUSTOMER_OF, {"id": identity.id}).scalar()
            if failure is not None or customer_id != identity.customer_id:
                # Handing over changes the conversation; a merge during the turn, its customer.
                conversation = _conversation(session, conversation.id)
                identity = conversation.identity
            if failure is not None:
                answer = hand_over_failed_turn(
                    session, conversation, failure, settings=self._settings, now=now
                )
                author, buttons = Author.SYSTEM, []
            queued = enqueue(
                session,
                key=f"reply:{ids[-1]}",
                identity=identity,
                conversation=conversation,
                text=answer,
                purpose=MessagePurpose.REPLY,
                author=author,
                now=now,
                buttons=buttons,
                claim_for=self._claim_for(identity),
            )
        if queued.claimed and self._dispatcher is not None:
            (hand_over or self._dispatcher.take)(identity, queued.claimed)
        if failure is not None:
            log.warning("conversation %d handed to staff: %s", conversation.id, failure.value)
            self._metrics.inbound.labels(channel, "failed").inc(len(ids))
            self._forget_failed_turn(turn.rasa_sender)
            return Routed.FAILED
        self._metrics.inbound.labels(channel, "answered").inc(len(ids))
        return Routed.SENDING if queued.claimed and self._dispatcher else Routed.ANSWERED

    def _claim_for(self, identity: ChannelIdentity) -> str | None:
        """Who sends a reply to `identity` at once: the dispatcher, when there is one and
        the sending rules let the reply go."""
        if self._dispatcher is None or consent_refusal(identity, MessagePurpose.REPLY):
            return None
        return self._dispatcher.claimant

    def _forget_failed_turn(self, rasa_sender: str) -> None:
        """Leave Rasa's tracker listening, so a loop does not start again when staff hand
        the customer back (Rasa keeps the tracker through restarts)."""
        try:
            self._rasa.resume(rasa_sender)
        except RasaUnavailable as error:
            log.warning("could not reset the tracker of %s: %s", rasa_sender, error)

    def hold(self, conversation_id: int) -> bool:
        """Queue the holding reply, once per outage: keyed by the oldest waiting message.

        Only while this router still has the conversation's turn: renewing it locks the
        conversation, so the answer's transaction (which gives the turn back) cannot slip
        in between, and the holding reply never follows the answer."""
        with session_scope(self._factory) as session:
            if not keep_turn(
                session,
                conversation_id,
                answerer=self._name,
                now=self._clock(),
                lease=self._turn_lease,
            ):
                return False
            conversation = _conversation(session, conversation_id)
            waiting = _waiting(session, conversation_id)
            if not waiting or conversation.mode is ConversationMode.HUMAN:
                return False
            identity = conversation.identity
            queued = enqueue(
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
            for conversation_id in waiting_for_bot(session, received_before=deadline):
                conversation = _conversation(session, conversation_id)
                ids = [message.id for message in _waiting(session, conversation_id)]
                if not ids or not _mark_waiting_handled(session, ids, now=now):
                    continue  # answered meanwhile
                enqueue(
                    session,
                    key=f"reply:{ids[-1]}",
                    identity=conversation.identity,
                    conversation=conversation,
                    text=hand_over_failed_turn(
                        session,
                        conversation,
                        TurnFailure.OVERDUE,
                        settings=self._settings,
                        now=now,
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
            return waiting_for_bot(session)
