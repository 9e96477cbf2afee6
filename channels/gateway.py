"""The gateway: one FastAPI app for every channel, the router and the outbox dispatcher.

The Procfile runs it inside ``crmbot.web``, beside the staff console.
Each webhook is verified (403 when forged), parsed (400 when malformed), committed
to the store, and acknowledged; answering happens in the background.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from channels import line, mitake, sms, telegram, webchat
from channels.dispatch import Dispatcher, utc_now
from channels.inbound import Inbound, MalformedPayload, store_inbound
from channels.line_profiles import LineProfiles
from channels.line_sender import LineSender
from channels.metrics import Metrics
from channels.privacy import handle_privacy_request
from channels.rasa_client import RasaClient, RasaUnavailable
from channels.routing import Router
from channels.senders import Sender, TelegramSender, build_senders
from channels.texts import TELEGRAM_PHONE_KEPT, TELEGRAM_PHONE_LINKED
from channels.workers import ConversationWorkers, recover
from crm_store.db import make_engine, make_session_factory, session_scope
from crm_store.models import Channel, Conversation, MessagePurpose
from crm_store.settings import Settings, get_settings

log = logging.getLogger(__name__)

InboundEvent = Inbound | telegram.PhoneShared | telegram.ChatBlocked | line.LineEvent
# What the gateway sends itself; the scheduler sends the rest at its share of the limits.
REPLIES = frozenset({MessagePurpose.REPLY, MessagePurpose.COMPLIANCE})


class Gateway:
    """What the endpoints share: the store, Rasa, the senders and the background work."""

    def __init__(
        self,
        settings: Settings,
        *,
        factory: sessionmaker[Session],
        rasa: RasaClient,
        senders: dict[Channel, Sender],
        metrics: Metrics,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings, self.factory, self.rasa = settings, factory, rasa
        self.senders, self.metrics, self.clock = senders, metrics, clock
        name = f"gateway-{socket.gethostname()}-{os.getpid()}"
        self.dispatcher = Dispatcher(
            factory,
            senders,
            worker=name,
            metrics=metrics,
            max_attempts=settings.send_max_attempts,
            policy=settings.sending_policy,
            purposes=None if settings.gateway_sends_everything else REPLIES,
            clock=clock,
            lease=timedelta(seconds=settings.send_lease_seconds),
        )
        self.router = Router(
            factory,
            rasa,
            settings=settings,
            metrics=metrics,
            clock=clock,
            name=name,
            dispatcher=self.dispatcher,
        )
        line_sender = senders.get(Channel.LINE)
        self.line_profiles = (
            LineProfiles(factory, lambda: line_sender.api)
            if isinstance(line_sender, LineSender)
            else None
        )
        self.workers = ConversationWorkers(
            self.router,
            on_outbox=self.dispatcher.wake,
            send_taken=self.dispatcher.send_taken,
            burst_window=settings.burst_window_seconds,
            holding_after=settings.holding_reply_after_seconds,
        )

    async def accept(self, event: InboundEvent) -> int | None:
        """Commit `event` to the store and have it answered; the stored message's id.

        None when nothing new was stored: a duplicate, or an update that only changes
        state (a user blocking the bot).
        """
        stored = await asyncio.to_thread(self._store, event)
        if stored is None:
            return None
        message_id, conversation, answered = stored
        if answered:
            self.dispatcher.wake()
        else:
            self.workers.submit(conversation.id, conversation)
        return message_id

    def _store(self, event: InboundEvent) -> tuple[int, Conversation, bool] | None:
        # Two first messages from a new number at once can both try to create it; the
        # loser's second attempt finds what the winner stored.
        for attempt in (1, 2):
            try:
                return self._store_once(event)
            except IntegrityError:
                if attempt == 2:
                    raise
        return None

    def _store_once(self, event: InboundEvent) -> tuple[int, Conversation, bool] | None:
        now = self.clock()
        with session_scope(self.factory) as session:
            if isinstance(event, telegram.ChatBlocked):
                telegram.mark_blocked(session, event, now=now)
                return None
            if isinstance(event, line.LineFollow):
                line.mark_follow(session, event, settings=self.settings, now=now)
                return None
            inbound = (
                event.inbound
                if isinstance(event, telegram.PhoneShared | line.LineMessage)
                else event
            )
            stored = store_inbound(session, inbound, settings=self.settings, now=now)
            if stored is None:
                self.metrics.inbound.labels(inbound.channel, "duplicate").inc()
                return None
            self.metrics.inbound.labels(inbound.channel, "stored").inc()
            answered = False
            if isinstance(event, telegram.PhoneShared):
                found = telegram.link_phone(session, stored.identity, event.phone)
                texts = TELEGRAM_PHONE_LINKED if found else TELEGRAM_PHONE_KEPT
                text = texts[stored.identity.customer.language]  # the joined customer's
                stored.answer(
                    session, kind="linked", text=text, purpose=MessagePurpose.REPLY, now=now
                )
                answered = True
            elif isinstance(event, line.LineMessage):
                answered = line.after_stored(
                    session, event, stored, settings=self.settings, now=now
                )
            elif inbound.channel is Channel.SMS:
                answered = sms.handle_keyword(session, stored, settings=self.settings, now=now)
            if not answered:  # a refusal or a data request is answered here, on any channel
                answered = handle_privacy_request(session, stored, now=now)
            return stored.message.id, stored.conversation, answered

    def health(self) -> dict[str, str]:
        report = {"database": "ok", "rasa": "ok"}
        try:
            with self.factory() as session:
                session.execute(text("SELECT 1"))
        except Exception as error:
            report["database"] = f"error: {error.__class__.__name__}"
        try:
            self.rasa.status()
        except RasaUnavailable as error:
            report["rasa"] = f"error: {error}"
        return report


def _public_url(settings: Settings, request: Request) -> str:
    """The URL Twilio signed: the public address, not the one behind a proxy."""
    query = f"?{request.url.query}" if request.url.query else ""
    return settings.public_base_url.rstrip("/") + request.url.path + query


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", errors="replace")
    return dict(parse_qsl(body, keep_blank_values=True))


BackgroundTask = Callable[[Gateway], Coroutine[Any, Any, None]]


def create_app(
    settings: Settings | None = None, *, background_tasks: Sequence[BackgroundTask] = ()
) -> FastAPI:
    """The gateway app; `background_tasks` run beside its own while it serves."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Store work for many customers at once (their Rasa turns have threads of their own).
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=64))
        # A thread holds a connection for its store work only, never across a Rasa call:
        # 16 kept open serve the usual load without one opened and closed per message
        # (as the default 5 did), 16 more a burst.
        engine = make_engine(settings.database_url, pool_size=16, max_overflow=16)
        rasa = RasaClient(settings.rasa_url, timeout=settings.rasa_timeout_seconds)
        factory = make_session_factory(engine)
        senders = build_senders(settings, rate_share=settings.gateway_rate_share, factory=factory)
        for sender in senders.values():
            await sender.start()
        gateway = Gateway(
            settings,
            factory=factory,
            rasa=rasa,
            senders=senders,
            metrics=Metrics(),
        )
        app.state.gateway = gateway
        background = [
            asyncio.create_task(gateway.dispatcher.run(), name="dispatcher"),
            asyncio.create_task(
                recover(gateway.router, gateway.workers, rasa, interval=2.0), name="recovery"
            ),
        ]
        background += [asyncio.create_task(task(gateway)) for task in background_tasks]
        telegram_sender = senders[Channel.TELEGRAM]
        if isinstance(telegram_sender, TelegramSender):
            background.append(await _start_telegram(settings, gateway, telegram_sender))
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            for task in background:
                with suppress(asyncio.CancelledError):
                    await task
            with suppress(TimeoutError):
                await asyncio.wait_for(gateway.workers.drain(), timeout=10)
            gateway.workers.close()
            with suppress(TimeoutError):
                await asyncio.wait_for(gateway.dispatcher.drain(), timeout=5)
            # A cancelled task's store work goes on in its thread: let it end (and give
            # its connection back) before the engine goes.
            if gateway.line_profiles is not None:
                with suppress(TimeoutError):
                    await asyncio.wait_for(gateway.line_profiles.wait(), timeout=5)
            await asyncio.get_running_loop().shutdown_default_executor()
            for sender in senders.values():
                await sender.close()
            rasa.close()
            engine.dispose()

    app = FastAPI(title="crmbot gateway", lifespan=lifespan, docs_url=None, redoc_url=None)

    def gateway_of(request: Request) -> Gateway:
        gateway: Gateway = request.app.state.gateway
        return gateway

    def refuse(endpoint: str, status: int, detail: str) -> JSONResponse:
        gateway_of_app: Gateway = app.state.gateway
        gateway_of_app.metrics.webhook_rejections.labels(endpoint, str(status)).inc()
        return JSONResponse({"detail": detail}, status_code=status)

    @app.post("/telegram/webhook")
    async def telegram_webhook(request: Request) -> Response:
        secret = settings.telegram_webhook_secret
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        # As bytes: compare_digest refuses text that is not ASCII.
        expected = None if secret is None else secret.get_secret_value().encode()
        if expected is None or not hmac.compare_digest(given.encode(), expected):
            return refuse("telegram", 403, "wrong or missing secret token")
        try:
            data = await request.json()
            event = telegram.parse_update(data, default_region=settings.default_region)
        except (ValueError, RecursionError, MalformedPayload) as error:  # too deep: recursion
            return refuse("telegram", 400, f"malformed update: {error}")
        if event is not None:
            await gateway_of(request).accept(event)
        return Response(status_code=200)

    @app.post("/line/webhook")
    async def line_webhook(request: Request) -> Response:
        body = await request.body()
        signature = request.headers.get("X-Line-Signature")
        if not line.signature_valid(settings, body=body, signature=signature):
            return refuse("line", 403, "invalid or missing LINE signature")
        try:
            events = line.parse_webhook(body, default_region=settings.default_region)
        except MalformedPayload as error:
            return refuse("line", 400, f"malformed webhook: {error}")
        gateway = gateway_of(request)
        for event in events:
            await gateway.accept(event)
            following = not isinstance(event, line.LineFollow) or event.following
            if gateway.line_profiles is not None and following:
                gateway.line_profiles.look_up(event.user_id)
        return Response(status_code=200)

    async def signed_form(request: Request, endpoint: str) -> dict[str, str] | Response:
        """The form Twilio posted, or the 403 for a request Twilio did not sign."""
        params = await _form(request)
        signature = request.headers.get("X-Twilio-Signature")
        url = _public_url(settings, request)
        if not sms.signature_valid(settings, url=url, params=params, signature=signature):
            return refuse(endpoint, 403, "invalid Twilio signature")
        return params

    @app.post("/sms/twilio")
    async def twilio_inbound(request: Request) -> Response:
        params = await signed_form(request, "sms")
        if isinstance(params, Response):
            return params
        try:
            inbound = sms.parse_inbound(params, default_region=settings.default_region)
        except MalformedPayload as error:
            return refuse("sms", 400, f"malformed message: {error}")
        await gateway_of(request).accept(inbound)
        return Response(sms.EMPTY_TWIML, media_type="text/xml")

    @app.post("/sms/twilio/status")
    async def twilio_status(request: Request) -> Response:
        params = await signed_form(request, "sms_status")
        if isinstance(params, Response):
            return params
        gateway = gateway_of(request)

        def record() -> bool:
            with session_scope(gateway.factory) as session:
                return sms.record_status(session, params, now=gateway.clock())

        try:
            await asyncio.to_thread(record)
        except MalformedPayload as error:
            return refuse("sms_status", 400, f"malformed status callback: {error}")
        return Response(status_code=204)

    @app.api_route(mitake.CALLBACK_PATH + "{token}", methods=["GET", "POST"])
    async def mitake_status(token: str, request: Request) -> Response:
        if not mitake.token_valid(settings, token):
            return refuse("sms_status", 403, "wrong delivery report address")
        # Mitake calls with the report in the query; take a form post as well.
        params = dict(request.query_params) | await _form(request)
        gateway = gateway_of(request)

        def record() -> str:
            with session_scope(gateway.factory) as session:
                return mitake.record_report(session, params, now=gateway.clock())

        try:
            msgid = await asyncio.to_thread(record)
        except MalformedPayload as error:
            return refuse("sms_status", 400, f"malformed delivery report: {error}")
        return Response(mitake.acknowledgement(msgid), media_type="text/plain")

    @app.get("/healthz")
    async def healthz(request: Request) -> JSONResponse:
        report = await asyncio.to_thread(gateway_of(request).health)
        healthy = all(value == "ok" for value in report.values())
        return JSONResponse(report, status_code=200 if healthy else 503)

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        return Response(
            generate_latest(gateway_of(request).metrics.registry), media_type=CONTENT_TYPE_LATEST
        )

    app.include_router(webchat.router(gateway_of))
    return app


async def _start_telegram(
    settings: Settings, gateway: Gateway, sender: TelegramSender
) -> asyncio.Task[Any]:
    """Register the webhook, or start long polling when Telegram cannot reach us."""

    async def accept(data: dict[str, Any]) -> None:
        event = telegram.parse_update(data, default_region=settings.default_region)
        if event is not None:
            await gateway.accept(event)

    if settings.telegram_uses_webhook:
        if settings.telegram_webhook_secret is None:
            raise RuntimeError("TELEGRAM_WEBHOOK_SECRET must be set to receive Telegram webhooks")
        url = settings.public_base_url.rstrip("/") + "/telegram/webhook"
        await sender.bot.set_webhook(
            url=url,
            secret_token=settings.telegram_webhook_secret.get_secret_value(),
            allowed_updates=telegram.ALLOWED_UPDATES,
        )
        log.info("Telegram webhook set to %s", url)
        return asyncio.create_task(asyncio.Event().wait(), name="telegram-webhook")
    log.info("Telegram: long polling (no public https address)")
    return asyncio.create_task(telegram.poll_updates(sender.bot, accept), name="telegram-polling")
