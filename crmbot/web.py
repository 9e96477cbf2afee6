"""The web process: the gateway (channels) with the staff console mounted in it.

    uvicorn crmbot.web:create_app --factory

Assembled here, above both packages, so that the channels know nothing of the
console while the console uses the channels' senders and Rasa client.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from channels.gateway import Gateway
from channels.gateway import create_app as create_gateway
from console import deps, routes, watchdog
from console.auth import SignInRequired
from console.pages import STATIC as CONSOLE_STATIC
from console.pages import TEMPLATES as CONSOLE_TEMPLATES
from console.texts import translator
from crm_store.models import Language
from crm_store.settings import Settings, get_settings


def _gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def _wants_html(request: Request) -> bool:
    return request.method == "GET" and "text/html" in request.headers.get("accept", "")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    async def watch_handoffs(gateway: Gateway) -> None:
        await watchdog.watch(
            gateway.factory, settings, wake_sender=gateway.dispatcher.wake, clock=gateway.clock
        )

    app = create_gateway(settings, background_tasks=[watch_handoffs])
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.console_secret_key.get_secret_value(),
        session_cookie="crmbot_console",
        max_age=12 * 3600,
        same_site="lax",
        https_only=urlsplit(settings.public_base_url).scheme == "https",
    )
    deps.wire(
        app,
        settings_of=lambda _: settings,
        factory_of=lambda request: _gateway(request).factory,
        rasa_of=lambda request: _gateway(request).rasa,
        wake_sender_of=lambda request: _gateway(request).dispatcher.wake,
        clock_of=lambda request: _gateway(request).clock,
    )
    for console_router in routes.ROUTERS:
        app.include_router(console_router)
    app.mount("/console/static", StaticFiles(directory=CONSOLE_STATIC), name="console-static")

    @app.exception_handler(SignInRequired)
    async def sign_in_first(request: Request, _: SignInRequired) -> Response:
        if _wants_html(request):
            return RedirectResponse("/console/login", status_code=303)
        return JSONResponse({"detail": "sign in first"}, status_code=401)

    @app.exception_handler(HTTPException)
    async def readable_errors(request: Request, error: HTTPException) -> Response:
        if request.url.path.startswith("/console") and _wants_html(request):
            t = translator(Language.ZH_TW)
            text = t("forbidden") if error.status_code == 403 else str(error.detail)
            return CONSOLE_TEMPLATES.TemplateResponse(
                request,
                "message.html",
                {"user": None, "t": t, "lang": "zh-TW", "csrf": "", "text": text},
                status_code=error.status_code,
            )
        return JSONResponse(
            {"detail": error.detail}, status_code=error.status_code, headers=error.headers
        )

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/console", status_code=303)

    return app
