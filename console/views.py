"""The staff console's pages: sign-in, the live queue, a conversation, finishing it.

Server-rendered with Jinja2; a little plain JavaScript (static/console.js) keeps the
queue and the transcript live over server-sent events and posts forms with the CSRF
token. Replies go out through the outbox, over the customer's own channel.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from channels.outgoing import send_text
from channels.rasa_client import RasaClient, RasaUnavailable
from channels.routing import sender_id
from console import auth, charts
from console.texts import CANNED, HANDED_BACK, translator
from crm_store import campaigns, handoffs, reports, segments
from crm_store.analytics import lifetime_value
from crm_store.audit import record_audit
from crm_store.customers import open_tickets, recent_orders
from crm_store.db import session_scope
from crm_store.models import (
    AuditLog,
    Author,
    Campaign,
    Conversation,
    ConversationNote,
    Customer,
    DesiredOutcome,
    Handoff,
    HandoffStatus,
    Language,
    Message,
    MessagePurpose,
    OutboxMessage,
    OutboxStatus,
    RecoveryStep,
    StaffRole,
    StaffUser,
    Ticket,
)
from crm_store.policy import load_policy
from crm_store.settings import Settings
from crm_store.staff import authenticate
from crm_store.tickets import steps_done

log = logging.getLogger(__name__)
TEMPLATES = Jinja2Templates(directory=Path(__file__).with_name("templates"))
# A live page's event stream ends after this long; the browser reconnects by itself.
STREAM_SECONDS = 60.0
POLL_SECONDS = 0.25
# How many of the latest messages sent outside the chat a transcript shows.
OUTREACH_SHOWN = 20


def _outreach_sent(conversation: Conversation) -> tuple[ColumnElement[bool], ...]:
    """What the shop sent outside the chat to the conversation's address (campaigns,
    greetings, win-back): the customer's reply often answers one of these."""
    return (
        OutboxMessage.customer_id == conversation.customer_id,
        OutboxMessage.identity_id == conversation.identity_id,
        OutboxMessage.message_id.is_(None),
        OutboxMessage.status == OutboxStatus.SENT,
        OutboxMessage.sent_at.is_not(None),
    )


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Services:
    """What the console needs from the app it is mounted in."""

    settings: Settings
    factory: Callable[[Request], sessionmaker[Session]]
    rasa: Callable[[Request], RasaClient]
    wake_sender: Callable[[Request], None]


def router(services: Services) -> APIRouter:
    routes = APIRouter(prefix="/console", include_in_schema=False)
    throttle = auth.SignInThrottle()
    agent = Depends(auth.requires(auth.AGENT_PAGES, services.factory))
    marketer = Depends(auth.requires(auth.MARKETER_PAGES, services.factory))
    admin = Depends(auth.requires(auth.ADMIN_PAGES, services.factory))
    anyone = Depends(auth.requires(auth.ANY_STAFF, services.factory))
    policy = load_policy()
    shop_zone = services.settings.opening_hours.timezone

    def shop_time(moment: datetime, pattern: str) -> str:
        """Staff read every time in the shop's zone, whatever the database keeps."""
        return moment.astimezone(shop_zone).strftime(pattern)

    def ui_language(request: Request, user: StaffUser | None) -> Language:
        chosen = request.session.get("lang")
        if chosen in {language.value for language in Language}:
            return Language(chosen)
        return user.language if user is not None else Language.ZH_TW

    def page(
        request: Request, template: str, user: StaffUser | None, status: int = 200, **context: Any
    ) -> HTMLResponse:
        language = ui_language(request, user)
        return TEMPLATES.TemplateResponse(
            request,
            template,
            {
                "user": user,
                "t": translator(language),
                "lang": language.value,
                "csrf": auth.csrf_token(request),
                "now": utc_now(),
                "local": shop_time,
                **context,
            },
            status_code=status,
        )

    # --- signing in ------------------------------------------------------------------

    @routes.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request) -> HTMLResponse:
        return page(request, "login.html", None)

    @routes.post("/login", response_model=None)
    async def login(
        request: Request, email: Annotated[str, Form()], password: Annotated[str, Form()]
    ) -> Response:
        await auth.check_csrf(request)
        client = request.client.host if request.client else "unknown"
        keys = (f"ip:{client}", f"email:{email.strip().lower()}")
        wait = throttle.retry_after(*keys)
        if wait:
            minutes = max(1, round(wait / 60))
            error = translator(ui_language(request, None))("too_many_attempts", minutes=minutes)
            response = page(request, "login.html", None, status=429, error=error, email=email)
            response.headers["Retry-After"] = str(int(wait) + 1)
            return response
        factory = services.factory(request)
        with session_scope(factory) as session:
            user = await asyncio.to_thread(authenticate, session, email=email, password=password)
            record_audit(
                session,
                actor=email.strip().lower()[:120],
                action="staff.sign_in" if user else "staff.sign_in_failed",
                entity="staff_user",
                entity_id=None if user is None else user.id,
                details={"ip": client},
            )
            if user is not None:
                user.last_login_at = utc_now()
        if user is None:
            throttle.failed(*keys)
            error = translator(ui_language(request, None))("bad_credentials")
            return page(request, "login.html", None, status=401, error=error, email=email)
        throttle.succeeded(*keys)
        auth.sign_in(request, user)
        return RedirectResponse(auth.home_page(user), status_code=303)

    @routes.post("/logout")
    async def logout(request: Request, user: StaffUser = anyone) -> Response:
        auth.sign_out(request)
        return RedirectResponse("/console/login", status_code=303)

    @routes.post("/language")
    async def language(
        request: Request,
        lang: Annotated[str, Form()],
        user: StaffUser = anyone,
    ) -> Response:
        if lang in {language.value for language in Language}:
            request.session["lang"] = lang
        return RedirectResponse(request.headers.get("referer") or "/console", status_code=303)

    # --- the queue -------------------------------------------------------------------

    def queue_context(request: Request) -> dict[str, Any]:
        with services.factory(request)() as session:
            entries = handoffs.queue(session)
        return {"entries": entries, "waiting": sum(1 for e in entries if e.agent is None)}

    @routes.get("", response_class=HTMLResponse)
    async def queue_page(request: Request, user: StaffUser = agent) -> HTMLResponse:
        context = await asyncio.to_thread(queue_context, request)
        return page(request, "queue.html", user, **context)

    @routes.get("/queue", response_class=HTMLResponse)
    async def queue_fragment(request: Request, user: StaffUser = agent) -> HTMLResponse:
        context = await asyncio.to_thread(queue_context, request)
        return page(request, "queue_list.html", user, **context)

    def snapshot(factory: sessionmaker[Session], conversation_id: int | None) -> tuple[str, str]:
        """What a live page compares: the open handoffs, and the newest transcript entries."""
        with factory() as session:
            rows = session.execute(
                select(Handoff.id, Handoff.status, Handoff.claimed_by, Handoff.due_at)
                .where(Handoff.status.in_(handoffs.OPEN))
                .order_by(Handoff.id)
            ).all()
            newest = ""
            conversation = (
                session.get(Conversation, conversation_id) if conversation_id is not None else None
            )
            if conversation is not None:
                last_message = session.scalar(
                    select(func.max(Message.id)).where(Message.conversation_id == conversation.id)
                )
                last_note = session.scalar(
                    select(func.max(ConversationNote.id)).where(
                        ConversationNote.conversation_id == conversation.id
                    )
                )
                last_outreach = session.scalar(
                    select(func.max(OutboxMessage.sent_at)).where(*_outreach_sent(conversation))
                )
                newest = f"{last_message}:{last_note}:{last_outreach}"
        version = ";".join(f"{r.id}:{r.status}:{r.claimed_by}:{r.due_at}" for r in rows)
        return version, newest

    @routes.get("/events")
    async def events(
        request: Request, conversation: int | None = None, user: StaffUser = agent
    ) -> StreamingResponse:
        factory = services.factory(request)

        async def stream() -> AsyncIterator[str]:
            queue_version, newest = await asyncio.to_thread(snapshot, factory, conversation)
            yield "retry: 1000\n\n"
            deadline = asyncio.get_running_loop().time() + STREAM_SECONDS
            while asyncio.get_running_loop().time() < deadline:
                if await request.is_disconnected():
                    return
                await asyncio.sleep(POLL_SECONDS)
                version, latest = await asyncio.to_thread(snapshot, factory, conversation)
                if version != queue_version:
                    waiting = sum(1 for part in version.split(";") if ":waiting:" in part)
                    yield f"event: queue\ndata: {json.dumps({'waiting': waiting})}\n\n"
                    queue_version = version
                if latest != newest:
                    yield "event: messages\ndata: {}\n\n"
                    newest = latest

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    # --- a conversation --------------------------------------------------------------

    def transcript(session: Session, conversation_id: int) -> list[dict[str, Any]]:
        conversation = session.get(Conversation, conversation_id)
        if conversation is None:
            raise HTTPException(status_code=404, detail="no such conversation")
        messages = session.scalars(
            select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
        ).all()
        notes = session.scalars(
            select(ConversationNote).where(ConversationNote.conversation_id == conversation_id)
        ).all()
        outreach = session.scalars(
            select(OutboxMessage)
            .where(*_outreach_sent(conversation))
            .order_by(OutboxMessage.sent_at.desc())
            .limit(OUTREACH_SHOWN)
        ).all()
        staff = {u.id: u.display_name for u in session.scalars(select(StaffUser))}
        entries = (
            [
                {
                    "kind": "message",
                    "id": m.id,
                    "at": m.created_at,
                    "author": m.author.value,
                    "direction": m.direction.value,
                    "text": m.text,
                    "status": m.delivery_status.value,
                    "staff": staff.get(m.staff_user_id or 0),
                }
                for m in messages
            ]
            + [
                {
                    "kind": "note",
                    "id": n.id,
                    "at": n.created_at,
                    "author": "note",
                    "direction": "note",
                    "text": n.text,
                    "status": "",
                    "staff": staff.get(n.staff_user_id),
                }
                for n in notes
            ]
            + [
                {
                    "kind": "outreach",
                    "id": o.id,
                    "at": o.sent_at,
                    "author": o.purpose.value,
                    "direction": "out",
                    "text": o.body,
                    "status": "delivered" if o.delivered_at else "sent",
                    "staff": None,
                }
                for o in outreach
            ]
        )
        return sorted(entries, key=lambda entry: entry["at"])

    def conversation_context(session: Session, conversation_id: int) -> dict[str, Any]:
        conversation = session.get(Conversation, conversation_id)
        if conversation is None:
            raise HTTPException(status_code=404, detail="no such conversation")
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
            "value": lifetime_value(customer, now=utc_now()),
            "entries": transcript(session, conversation_id),
            "colleagues": list(
                session.scalars(
                    select(StaffUser).where(
                        StaffUser.active.is_(True),
                        StaffUser.role.in_((StaffRole.AGENT, StaffRole.ADMIN)),
                    )
                )
            ),
            "canned": CANNED[customer.language],
            "outcomes": list(DesiredOutcome),
            "root_causes": policy.root_causes,
            # One id a reply: sending the same form twice (a double click, a retry after
            # a dropped connection, the back button) sends the message once.
            "reply_id": uuid.uuid4().hex,
        }

    @routes.get("/conversations/{conversation_id}", response_class=HTMLResponse)
    async def conversation_page(
        request: Request, conversation_id: int, user: StaffUser = agent
    ) -> HTMLResponse:
        def render() -> HTMLResponse:
            # Rendered with the session open: the page follows the records' relations.
            with services.factory(request)() as session:
                context = conversation_context(session, conversation_id)
                return page(request, "conversation.html", user, **context)

        return await asyncio.to_thread(render)

    @routes.get("/conversations/{conversation_id}/transcript", response_class=HTMLResponse)
    async def transcript_fragment(
        request: Request, conversation_id: int, user: StaffUser = agent
    ) -> HTMLResponse:
        def load() -> list[dict[str, Any]]:
            with services.factory(request)() as session:
                return transcript(session, conversation_id)

        entries = await asyncio.to_thread(load)
        return page(request, "transcript.html", user, entries=entries)

    def own_open_handoff(session: Session, conversation_id: int, user: StaffUser) -> Handoff:
        handoff = handoffs.open_handoff_of(session, conversation_id)
        if handoff is None or handoff.status is not HandoffStatus.CLAIMED:
            raise HTTPException(status_code=409, detail="claim this customer first")
        if handoff.claimed_by != user.id and user.role is not StaffRole.ADMIN:
            raise HTTPException(status_code=409, detail="another agent has this customer")
        return handoff

    @routes.post("/handoffs/{handoff_id}/claim", response_model=None)
    async def claim(request: Request, handoff_id: int, user: StaffUser = agent) -> Response:
        def work() -> tuple[int, str | None]:
            with session_scope(services.factory(request)) as session:
                try:
                    handoff = handoffs.claim(session, handoff_id, agent=user, now=utc_now())
                except handoffs.HandoffNotFound as error:
                    raise HTTPException(status_code=404, detail=str(error)) from error
                except handoffs.AlreadyClaimed as error:
                    holder = session.get(StaffUser, error.handoff.claimed_by or 0)
                    return error.handoff.conversation_id, holder.display_name if holder else "?"
                return handoff.conversation_id, None

        conversation_id, holder = await asyncio.to_thread(work)
        if holder is not None:
            t = translator(ui_language(request, user))
            return page(
                request, "message.html", user, status=409, text=t("already_claimed", agent=holder)
            )
        return RedirectResponse(f"/console/conversations/{conversation_id}", status_code=303)

    @routes.post("/conversations/{conversation_id}/reply", response_model=None)
    async def reply(
        request: Request,
        conversation_id: int,
        text: Annotated[str, Form(min_length=1, max_length=4000)],
        reply_id: Annotated[str, Form(pattern=r"^[0-9a-f]{32}$")],
        user: StaffUser = agent,
    ) -> Response:
        def work() -> None:
            now = utc_now()
            try:
                with session_scope(services.factory(request)) as session:
                    own_open_handoff(session, conversation_id, user)
                    conversation = session.get_one(Conversation, conversation_id)
                    queued = send_text(
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
        services.wake_sender(request)
        return after_post(request, conversation_id)

    @routes.post("/conversations/{conversation_id}/notes", response_model=None)
    async def note(
        request: Request,
        conversation_id: int,
        text: Annotated[str, Form(min_length=1, max_length=4000)],
        user: StaffUser = agent,
    ) -> Response:
        def work() -> None:
            with session_scope(services.factory(request)) as session:
                session.get_one(Conversation, conversation_id)
                handoffs.add_note(
                    session, conversation_id, agent=user, text=text.strip(), now=utc_now()
                )
                record_audit(
                    session,
                    actor=user.email,
                    action="conversation.note",
                    entity="conversation",
                    entity_id=conversation_id,
                )

        await asyncio.to_thread(work)
        return after_post(request, conversation_id)

    def after_post(request: Request, conversation_id: int) -> Response:
        if request.headers.get(auth.CSRF_HEADER):  # the page's script: it updates itself
            return Response(status_code=204)
        return RedirectResponse(f"/console/conversations/{conversation_id}", status_code=303)

    @routes.post("/conversations/{conversation_id}/transfer", response_model=None)
    async def transfer(
        request: Request,
        conversation_id: int,
        to: Annotated[int, Form()],
        user: StaffUser = agent,
    ) -> Response:
        def work() -> None:
            with session_scope(services.factory(request)) as session:
                handoff = own_open_handoff(session, conversation_id, user)
                colleague = session.get(StaffUser, to)
                if colleague is None or colleague.role not in auth.AGENT_PAGES:
                    raise HTTPException(status_code=400, detail="no such agent")
                handoffs.transfer(session, handoff, to=colleague, by=user, now=utc_now())

        await asyncio.to_thread(work)
        return RedirectResponse("/console", status_code=303)

    @routes.post("/conversations/{conversation_id}/finish", response_model=None)
    async def finish(
        request: Request,
        conversation_id: int,
        root_cause: Annotated[str, Form()] = "",
        outcome: Annotated[str, Form()] = "",
        agreed_action: Annotated[str, Form()] = "",
        compensation_kind: Annotated[str, Form()] = "",
        compensation_value: Annotated[str, Form()] = "",
        user: StaffUser = agent,
    ) -> Response:
        resolution = None
        if root_cause:
            if root_cause not in policy.root_causes:
                raise HTTPException(status_code=400, detail=f"unknown root cause {root_cause!r}")
            try:
                value = Decimal(compensation_value) if compensation_value.strip() else None
                chosen = DesiredOutcome(outcome) if outcome else None
            except (InvalidOperation, ValueError) as error:
                raise HTTPException(status_code=400, detail=f"bad value: {error}") from error
            resolution = handoffs.Resolution(
                outcome=chosen,
                agreed_action=agreed_action.strip(),
                compensation_kind=compensation_kind.strip() or None,
                compensation_value=value,
                root_cause=root_cause,
            )

        def work() -> str:
            now = utc_now()
            with session_scope(services.factory(request)) as session:
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
                send_text(
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
        services.wake_sender(request)
        # If Rasa is down the bot still answers later, from the slots it had.
        with suppress(RasaUnavailable):
            await asyncio.to_thread(services.rasa(request).resume, rasa_sender)
        return RedirectResponse("/console", status_code=303)

    # --- the dashboard (step 8: which causes recur) -------------------------------------

    def report_window(weeks: int) -> tuple[datetime, datetime]:
        until = utc_now()
        return until - timedelta(weeks=max(1, min(weeks, 104))), until

    def dashboard_context(request: Request, weeks: int, user: StaffUser) -> dict[str, Any]:
        since, until = report_window(weeks)
        tz = services.settings.default_timezone
        with services.factory(request)() as session:
            complaints = reports.complaints_by_week(session, since=since, until=until, tz=tz)
            repeats = reports.repeat_complaints(session, since=since, until=until)
            csat = reports.csat_by_week(session, since=since, until=until, tz=tz)
            times = reports.handoff_times(session, since=since, until=until)
        labels = reports.week_labels(since=since, until=until, tz=tz)
        by_cause: dict[str, dict[str, float]] = {week: {} for week in labels}
        by_category: dict[str, dict[str, float]] = {week: {} for week in labels}
        for row in complaints:
            causes = by_cause.setdefault(row.week, {})
            causes[row.root_cause] = causes.get(row.root_cause, 0) + row.count
            categories = by_category.setdefault(row.week, {})
            categories[row.category.value] = categories.get(row.category.value, 0) + row.count
        t = translator(ui_language(request, user))
        return {
            "weeks": weeks,
            "cause_chart": charts.bar_chart(
                by_cause, title=t("chart_causes"), no_data=t("no_data")
            ),
            "category_chart": charts.bar_chart(
                by_category, title=t("chart_categories"), no_data=t("no_data")
            ),
            "csat_chart": charts.line_chart(
                [(row.week, row.average_score) for row in csat],
                title=t("chart_csat"),
                y_min=1,
                y_max=5,
                no_data=t("no_data"),
            ),
            "repeats": repeats,
            "times": times,
            "csat": csat,
        }

    @routes.get("/dashboard", response_class=HTMLResponse)
    async def dashboard(
        request: Request, weeks: int = 12, user: StaffUser = anyone
    ) -> HTMLResponse:
        context = await asyncio.to_thread(dashboard_context, request, weeks, user)
        return page(request, "dashboard.html", user, **context)

    @routes.get("/dashboard/{report}.csv")
    async def dashboard_csv(
        request: Request, report: str, weeks: int = 12, user: StaffUser = anyone
    ) -> Response:
        since, until = report_window(weeks)
        tz = services.settings.default_timezone

        def load() -> str:
            with services.factory(request)() as session:
                if report == "complaints":
                    return reports.to_csv(
                        reports.complaints_by_week(session, since=since, until=until, tz=tz)
                    )
                if report == "repeats":
                    return reports.to_csv(
                        reports.repeat_complaints(session, since=since, until=until)
                    )
                if report == "csat":
                    return reports.to_csv(
                        reports.csat_by_week(session, since=since, until=until, tz=tz)
                    )
                if report == "handoffs":
                    return reports.to_csv(
                        [reports.handoff_times(session, since=since, until=until)]
                    )
                raise HTTPException(status_code=404, detail=f"no report {report!r}")

        text = await asyncio.to_thread(load)
        # The byte-order mark makes spreadsheet programs read the Chinese as UTF-8.
        return Response(
            "\ufeff" + text,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{report}.csv"'},
        )

    # --- other roles' pages ----------------------------------------------------------

    # --- marketers' campaigns -------------------------------------------------------

    def campaigns_page(request: Request, user: StaffUser, **context: Any) -> HTMLResponse:
        with services.factory(request)() as session:
            rows = list(session.scalars(select(Campaign).order_by(Campaign.id.desc())))
        status = 400 if context.get("error") else 200
        return page(request, "campaigns.html", user, status=status, campaigns=rows, **context)

    @routes.get("/campaigns", response_class=HTMLResponse)
    async def campaign_list(request: Request, user: StaffUser = marketer) -> HTMLResponse:
        return await asyncio.to_thread(campaigns_page, request, user, form={})

    @routes.post("/campaigns", response_model=None)
    async def campaign_create(
        request: Request,
        name: Annotated[str, Form()],
        segment: Annotated[str, Form()] = "{}",
        template_zh: Annotated[str, Form()] = "",
        template_en: Annotated[str, Form()] = "",
        send_at: Annotated[str, Form()] = "",
        recurrence: Annotated[str, Form()] = "",
        user: StaffUser = marketer,
    ) -> Response:
        form = {
            "name": name,
            "segment": segment,
            "template_zh": template_zh,
            "template_en": template_en,
            "send_at": send_at,
            "recurrence": recurrence,
        }

        def work() -> int | str:
            try:
                chosen = json.loads(segment or "{}")
                if not isinstance(chosen, dict):
                    return 'segment: write a JSON object, e.g. {"tiers": ["gold"]}'
                when = None
                if send_at:
                    zone = services.settings.opening_hours.timezone
                    when = datetime.fromisoformat(send_at).replace(tzinfo=zone)
            except ValueError as error:
                return str(error)
            templates = {
                language: text
                for language, text in (("zh-TW", template_zh), ("en", template_en))
                if text.strip()
            }
            with session_scope(services.factory(request)) as session:
                try:
                    created = campaigns.create(
                        session,
                        name=name,
                        segment=chosen,
                        message_templates=templates,
                        send_at=when,
                        recurrence=recurrence.strip() or None,
                        by=user,
                        now=utc_now(),
                    )
                except campaigns.CampaignError as error:
                    session.rollback()
                    return str(error)
                return created.id

        result = await asyncio.to_thread(work)
        if isinstance(result, str):
            return await asyncio.to_thread(campaigns_page, request, user, form=form, error=result)
        return RedirectResponse(f"/console/campaigns/{result}", status_code=303)

    def campaign_context(request: Request, campaign_id: int) -> dict[str, Any]:
        with services.factory(request)() as session:
            campaign = session.get(Campaign, campaign_id)
            if campaign is None:
                raise HTTPException(status_code=404, detail="no such campaign")
            shown = segments.preview(
                session,
                segments.Segment.from_dict(campaign.segment),
                campaign.templates,
                now=utc_now(),
                shop=services.settings.shop_name,
            )
            result = campaigns.report(session, campaign)
            names = {
                u.id: u.display_name
                for u in session.scalars(
                    select(StaffUser).where(
                        StaffUser.id.in_([campaign.created_by or 0, campaign.approved_by or 0])
                    )
                )
            }
        measures = ("sent", "delivered", "failed", "skipped", "replied", "opted_out", "converted")
        chart = charts.bar_chart(
            {name.replace("_", " "): {name: float(getattr(result, name))} for name in measures},
            title=campaign.name,
            no_data="—",
        )
        return {
            "campaign": campaign,
            "preview": shown,
            "report": result,
            "chart": chart,
            "author": names.get(campaign.created_by or 0),
            "approver": names.get(campaign.approved_by or 0),
            "segment_json": json.dumps(campaign.segment, ensure_ascii=False),
        }

    @routes.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
    async def campaign_page(
        request: Request, campaign_id: int, user: StaffUser = marketer
    ) -> HTMLResponse:
        context = await asyncio.to_thread(campaign_context, request, campaign_id)
        return page(request, "campaign.html", user, **context)

    steps = {
        "approve": campaigns.approve,
        "schedule": campaigns.schedule,
        "pause": campaigns.pause,
        "resume": campaigns.resume,
        "cancel": campaigns.cancel,
    }

    @routes.post("/campaigns/{campaign_id}/{action}", response_model=None)
    async def campaign_action(
        request: Request, campaign_id: int, action: str, user: StaffUser = marketer
    ) -> Response:
        step = steps.get(action)
        if step is None:
            raise HTTPException(status_code=404, detail=f"no action {action!r}")

        def work() -> str | None:
            with session_scope(services.factory(request)) as session:
                campaign = session.get(Campaign, campaign_id)
                if campaign is None:
                    raise HTTPException(status_code=404, detail="no such campaign")
                try:
                    step(session, campaign, by=user, now=utc_now())
                except campaigns.CampaignError as error:
                    session.rollback()
                    return str(error)
            return None

        error = await asyncio.to_thread(work)
        if error is not None:
            context = await asyncio.to_thread(campaign_context, request, campaign_id)
            return page(request, "campaign.html", user, status=409, error=error, **context)
        return RedirectResponse(f"/console/campaigns/{campaign_id}", status_code=303)

    @routes.get("/admin/staff", response_class=HTMLResponse)
    async def staff_page(request: Request, user: StaffUser = admin) -> HTMLResponse:
        def load() -> tuple[list[StaffUser], list[AuditLog]]:
            with services.factory(request)() as session:
                return (
                    list(session.scalars(select(StaffUser).order_by(StaffUser.email))),
                    list(session.scalars(select(AuditLog).order_by(AuditLog.id.desc()).limit(200))),
                )

        staff, audit = await asyncio.to_thread(load)
        return page(request, "staff.html", user, staff=staff, audit=audit)

    return routes
