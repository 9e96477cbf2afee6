"""Nobody there: a handoff nobody claims in time, or one made while the shop is closed.

The customer goes back to the bot for everything else, the handoff stays in the queue
with a due time (so does its ticket), and the next agent to claim takes the
conversation back. A customer handed off during opening hours is told when someone
will answer; outside them the bot already said so when it handed off.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from console.texts import PARKED
from crm_store import handoffs
from crm_store.db import session_scope
from crm_store.models import Author, Conversation, Language, MessagePurpose, Ticket
from crm_store.outbox import enqueue
from crm_store.settings import Settings

log = logging.getLogger(__name__)


def due_time(settings: Settings, now: datetime) -> datetime:
    """When a colleague will answer: within the hour if the shop stays open, else soon
    after it next opens."""
    hours = settings.opening_hours
    soon = now + timedelta(hours=1)
    if hours.is_open(now) and hours.is_open(soon):
        return soon
    opening = hours.next_opening(soon)
    return opening + timedelta(minutes=settings.handoff_wait_minutes)


def local_time(moment: datetime, settings: Settings, language: Language) -> str:
    local = moment.astimezone(settings.opening_hours.timezone)
    return local.strftime("%m月%d日 %H:%M" if language is Language.ZH_TW else "%d %b, %H:%M")


def park_unattended(factory: sessionmaker[Session], settings: Settings, *, now: datetime) -> int:
    """Park every handoff nobody can take now; returns how many customers were told."""
    hours = settings.opening_hours
    timeout = timedelta(minutes=settings.handoff_claim_timeout_minutes)
    told = 0
    with session_scope(factory) as session:
        closed = not hours.is_open(now)
        late = now if closed else now - timeout
        for handoff in handoffs.unattended(session, requested_before=late):
            due = due_time(settings, now)
            handoffs.park(session, handoff, due_at=due)
            requested_while_open = hours.is_open(handoff.requested_at)
            if not requested_while_open:
                continue  # the bot told them the opening time when it handed off
            conversation = session.get_one(Conversation, handoff.conversation_id)
            identity = conversation.identity
            language = identity.customer.language
            ticket = None if handoff.ticket_id is None else session.get(Ticket, handoff.ticket_id)
            text = PARKED[language].format(
                due=local_time(due, settings, language),
                ticket=f" ({ticket.reference})" if ticket else "",
            )
            enqueue(
                session,
                key=f"parked:{handoff.id}",
                identity=identity,
                conversation=conversation,
                text=text,
                purpose=MessagePurpose.REPLY,
                author=Author.SYSTEM,
                now=now,
            )
            told += 1
    return told


async def watch(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    wake_sender: Callable[[], None],
    clock: Callable[[], datetime],
    interval: float = 30.0,
) -> None:
    """Forever: park what nobody took, and send what that says."""
    while True:
        try:
            if await asyncio.to_thread(park_unattended, factory, settings, now=clock()):
                wake_sender()
        except Exception:
            log.exception("checking for unattended handoffs failed")
        await asyncio.sleep(interval)
