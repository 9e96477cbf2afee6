"""One conversation: the page an agent works in, claiming the customer, replying,
notes, passing the customer to a colleague, and finishing (handing back to the bot).

Replies go out through the outbox, over the customer's own channel.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from contextlib import suppress
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from channels.rasa_client import RasaUnavailable
from channels.routing import sender_id
from console import auth
from console.deps import Agent, Clock, PolicyDep, RasaDep, SessionFactory, WakeSender
from console.pages import Render
from console.texts import CANNED, HANDED_BACK
from crm_store import handoffs, inbox, transcripts
from crm_store.analytics import lifetime_value
from crm_store.audit import record_audit
from crm_store.customers import open_tickets, recent_orders
from crm_store.db import session_scope
from crm_store.models import (
    Author,
    Conversation,
    Customer,
    DesiredOutcome,
    Handoff,
    HandoffStatus,
    MessagePurpose,
    RecoveryStep,
    StaffRole,
    StaffUser,
    Ticket,
)
from crm_store.outbox import enqueue
from crm_store.policy import Policy
from crm_store.tickets import steps_done

log = logging.getLogger(__name__)
router = APIRouter(prefix="/console", include_in_schema=False)


def conversation_of(session: Session, conversation_id: int) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise HTTPException(status_code=404, detail="no such conversation")
    return conversation


def conversation_context(
    session: Session, conversation_id: int, *, policy: Policy, now: datetime
) -> dict[str, Any]:
    conversation = conversation_of(session, conversation_id)
    customer = session.get_one(Customer, conversation.customer_id)
    handoff = handoffs.open_handoff_of(session, conversation_id)
    ticket = None
    if handoff is not None and handoff.ticket_id is not None:
        ticket = session.get(Ticket, handoff.ticket_id)
    done = steps_done(ticket) if ticket is not None else {}
    return {
        "conversation": conversation,
        "identity": conversation.identity,
        "customer": customer,
        "identities": list(customer.identities),
        "handoff": handoff,
        "ticket": ticket,
        "steps": [(step, done.get(step)) for step in RecoveryStep],
        "orders": list(recent_orders(session, customer.id)),
        "tickets": list(open_tickets(session, customer.id)),
        "value": lifetime_value(customer, now=now),
        "entries": transcripts.transcript(session, conversation),
        "colleagues": inbox.colleagues(session),
        "canned": CANNED[customer.language],
        "outcomes": list(DesiredOutcome),
        "root_causes": policy.root_causes,
        # One id a reply: sending the same form twice (a double click, a retry after
        # a dropped connection, the back button) sends the message once.
        "reply_id": uuid.uuid4().hex,
    }


@router.get("/conversations/{conversation_id}", response_class=HTMLResponse)
async def conversation_page(
    conversation_id: int,
    user: Agent,
    factory: SessionFactory,
    policy: PolicyDep,
    clock: Clock,
    render: Render,
) -> HTMLResponse:
    def page() -> HTMLResponse:
        # Rendered with the session open: the page follows the records' relations.
        with factory() as session:
            context = conversation_context(session, conversation_id, policy=policy, now=clock())
            return render("conversation.html", user, **context)

    return await asyncio.to_thread(page)


@router.get("/conversations/{conversation_id}/transcript", response_class=HTMLResponse)
async def transcript_fragment(
    conversation_id: int, user: Agent, factory: SessionFactory, render: Render
) -> HTMLResponse:
    def load() -> list[transcripts.Entry]:
        with factory() as session:
            return transcripts.transcript(session, conversation_of(session, conversation_id))

    entries = await asyncio.to_thread(load)
    return render("transcript.html", user, entries=entries)


def own_open_handoff(session: Session, conversation_id: int, user: StaffUser) -> Handoff:
    handoff = handoffs.open_handoff_of(session, conversation_id)
    if handoff is None or handoff.status is not HandoffStatus.CLAIMED:
        raise HTTPException(status_code=409, detail="claim this customer first")
    if handoff.claimed_by != user.id and user.role is not StaffRole.ADMIN:
        raise HTTPException(status_code=409, detail="another agent has this customer")
    return handoff


@router.post("/handoffs/{handoff_id}/claim", response_model=None)
async def claim(
    handoff_id: int, user: Agent, factory: SessionFactory, clock: Clock, render: Render
) -> Response:
    def work() -> tuple[int, str | None]:
        with session_scope(factory) as session:
            try:
                handoff = handoffs.claim(session, handoff_id, agent=user, now=clock())
            except handoffs.HandoffNotFound as error:
                raise HTTPException(status_code=404, detail=str(error)) from error
            except handoffs.AlreadyClaimed as error:
                holder = session.get(StaffUser, error.handoff.claimed_by or 0)
                return error.handoff.conversation_id, holder.display_name if holder else "?"
            return handoff.conversation_id, None

    conversation_id, holder = await asyncio.to_thread(work)
    if holder is not None:
        text = render.translator(user)("already_claimed", agent=holder)
        return render("message.html", user, status=409, text=text)
    return RedirectResponse(f"/console/conversations/{conversation_id}", status_code=303)


def after_post(request: Request, conversation_id: int) -> Response:
    if request.headers.get(auth.CSRF_HEADER):  # the page's script: it updates itself
        return Response(status_code=204)
    return RedirectResponse(f"/console/conversations/{conversation_id}", status_code=303)


@router.post("/conversations/{conversation_id}/reply", response_model=None)
async def reply(
    request: Request,
    conversation_id: int,
    text: Annotated[str, Form(min_length=1, max_length=4000)],
    reply_id: Annotated[str, Form(pattern=r"^[0-9a-f]{32}$")],
    user: Agent,
    factory: SessionFactory,
    clock: Clock,
    wake_sender: WakeSender,
) -> Response:
    def work() -> None:
        now = clock()
        try:
            with session_scope(factory) as session:
                own_open_handoff(session, conversation_id, user)
                conversation = session.get_one(Conversation, conversation_id)
                queued = enqueue(
                    session,
                    key=f"agent:{conversation_id}:{reply_id}",
                    identity=conversation.identity,
                    conversation=conversation,
                    text=text.strip(),
                    purpose=MessagePurpose.REPLY,
                    author=Author.AGENT,
                    now=now,
                    staff_user_id=user.id,
                )
                if queued.new:
                    record_audit(
                        session,
                        actor=user.email,
                        action="conversation.reply",
                        entity="conversation",
                        entity_id=conversation_id,
                    )
        except IntegrityError:
            # The same form, sent at the same moment by a second request, was queued
            # by the first: this one has nothing left to do.
            log.info("reply %s to conversation %s was sent already", reply_id, conversation_id)

    await asyncio.to_thread(work)
    wake_sender()
    return after_post(request, conversation_id)


@router.post("/conversations/{conversation_id}/notes", response_model=None)
async def note(
    request: Request,
    conversation_id: int,
    text: Annotated[str, Form(min_length=1, max_length=4000)],
    user: Agent,
    factory: SessionFactory,
    clock: Clock,
) -> Response:
    def work() -> None:
        with session_scope(factory) as session:
            session.get_one(Conversation, conversation_id)
            handoffs.add_note(session, conversation_id, agent=user, text=text.strip(), now=clock())
            record_audit(
                session,
                actor=user.email,
                action="conversation.note",
                entity="conversation",
                entity_id=conversation_id,
            )

    await asyncio.to_thread(work)
    return after_post(request, conversation_id)


@router.post("/conversations/{conversation_id}/transfer", response_model=None)
async def transfer(
    conversation_id: int,
    to: Annotated[int, Form()],
    user: Agent,
    factory: SessionFactory,
    clock: Clock,
) -> Response:
    def work() -> None:
        with session_scope(factory) as session:
            handoff = own_open_handoff(session, conversation_id, user)
            colleague = session.get(StaffUser, to)
            if colleague is None or colleague.role not in auth.AGENT_PAGES:
                raise HTTPException(status_code=400, detail="no such agent")
            handoffs.transfer(session, handoff, to=colleague, by=user, now=clock())

    await asyncio.to_thread(work)
    return RedirectResponse("/console", status_code=303)


def resolution_of(
    policy: Policy,
    *,
    root_cause: str,
    outcome: str,
    agreed_action: str,
    compensation_kind: str,
    compensation_value: str,
) -> handoffs.Resolution | None:
    """The finishing form's outcome for the ticket; none without a root cause (400 for
    a value the form cannot mean)."""
    if not root_cause:
        return None
    if root_cause not in policy.root_causes:
        raise HTTPException(status_code=400, detail=f"unknown root cause {root_cause!r}")
    try:
        value = Decimal(compensation_value) if compensation_value.strip() else None
        chosen = DesiredOutcome(outcome) if outcome else None
    except (InvalidOperation, ValueError) as error:
        raise HTTPException(status_code=400, detail=f"bad value: {error}") from error
    return handoffs.Resolution(
        outcome=chosen,
        agreed_action=agreed_action.strip(),
        compensation_kind=compensation_kind.strip() or None,
        compensation_value=value,
        root_cause=root_cause,
    )


@router.post("/conversations/{conversation_id}/finish", response_model=None)
async def finish(
    conversation_id: int,
    user: Agent,
    factory: SessionFactory,
    policy: PolicyDep,
    clock: Clock,
    rasa: RasaDep,
    wake_sender: WakeSender,
    root_cause: Annotated[str, Form()] = "",
    outcome: Annotated[str, Form()] = "",
    agreed_action: Annotated[str, Form()] = "",
    compensation_kind: Annotated[str, Form()] = "",
    compensation_value: Annotated[str, Form()] = "",
) -> Response:
    resolution = resolution_of(
        policy,
        root_cause=root_cause,
        outcome=outcome,
        agreed_action=agreed_action,
        compensation_kind=compensation_kind,
        compensation_value=compensation_value,
    )

    def work() -> str:
        now = clock()
        with session_scope(factory) as session:
            handoff = own_open_handoff(session, conversation_id, user)
            handoffs.finish(
                session,
                handoff,
                agent=user,
                resolution=resolution,
                survey_after=policy.survey_after,
                now=now,
            )
            conversation = session.get_one(Conversation, conversation_id)
            identity = conversation.identity
            language = identity.customer.language
            enqueue(
                session,
                key=f"handed-back:{handoff.id}",
                identity=identity,
                conversation=conversation,
                text=HANDED_BACK[language].format(agent=user.display_name),
                purpose=MessagePurpose.REPLY,
                author=Author.BOT,
                now=now,
            )
            return sender_id(identity)

    rasa_sender = await asyncio.to_thread(work)
    wake_sender()
    # If Rasa is down the bot still answers later, from the slots it had.
    with suppress(RasaUnavailable):
        await asyncio.to_thread(rasa.resume, rasa_sender)
    return RedirectResponse("/console", status_code=303)
