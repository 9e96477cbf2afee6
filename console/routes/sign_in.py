"""Signing in and out, and choosing the console's language."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console import auth
from console.deps import Clock, CurrentStaff, SessionFactory, Throttle
from console.pages import Render
from crm_store.audit import record_audit
from crm_store.db import session_scope
from crm_store.models import Language
from crm_store.staff import authenticate

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
async def login_form(render: Render) -> HTMLResponse:
    return render("login.html", None)


@router.post("/login", response_model=None)
async def login(
    request: Request,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    factory: SessionFactory,
    throttle: Throttle,
    clock: Clock,
    render: Render,
) -> Response:
    await auth.check_csrf(request)
    client = request.client.host if request.client else "unknown"
    keys = (f"ip:{client}", f"email:{email.strip().lower()}")
    wait = throttle.retry_after(*keys)
    if wait:
        minutes = max(1, round(wait / 60))
        error = render.translator(None)("too_many_attempts", minutes=minutes)
        response = render("login.html", None, status=429, error=error, email=email)
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
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
            user.last_login_at = clock()
    if user is None:
        throttle.failed(*keys)
        error = render.translator(None)("bad_credentials")
        return render("login.html", None, status=401, error=error, email=email)
    throttle.succeeded(*keys)
    auth.sign_in(request, user)
    return RedirectResponse(auth.home_page(user), status_code=303)


@router.post("/logout")
async def logout(request: Request, user: CurrentStaff) -> Response:
    auth.sign_out(request)
    return RedirectResponse("/console/login", status_code=303)


@router.post("/language")
async def language(request: Request, lang: Annotated[str, Form()], user: CurrentStaff) -> Response:
    if lang in {language.value for language in Language}:
        request.session["lang"] = lang
    return RedirectResponse(request.headers.get("referer") or "/console", status_code=303)
