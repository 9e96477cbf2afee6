"""A customer's details, corrected by staff on the customer's request (個資法 更正).

Opened from a pending correction request (`?request=`), whose words it shows and which
saving may confirm in the same step, or from the customer's profile in a conversation.
The change itself is `crm_store.corrections.correct_customer`: checked, audited, all or
nothing. Bad input shows the form again with what was typed and why (400).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from console.deps import Agent, Clock, SessionFactory, SettingsDep, WakeSender
from console.pages import Render, Renderer
from crm_store import corrections
from crm_store.corrections import EnteredDetails, InvalidDetails, NotACorrectionRequest, Problem
from crm_store.customers import CustomerNotFound
from crm_store.data_requests import AlreadyDecided
from crm_store.db import session_scope
from crm_store.models import Channel, Language, StaffUser

router = APIRouter(prefix="/console", include_in_schema=False)


def details_page(
    session: Session,
    render: Renderer,
    user: StaffUser,
    customer_id: int,
    *,
    request_id: int | None,
    entered: EnteredDetails | None = None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """The form, filled with what is held or with what was `entered`."""
    try:
        customer = corrections.correctable_customer(session, customer_id)
    except CustomerNotFound as error:
        raise HTTPException(status_code=404, detail=str(error)) from error
    request = words = None
    if request_id is not None:
        try:
            request = corrections.pending_correction(session, request_id, customer_id)
            words = corrections.request_words(session, request)
        except NotACorrectionRequest as error:
            raise HTTPException(status_code=404, detail=str(error)) from error
        except AlreadyDecided:
            request = None  # a colleague decided it: the form still corrects the data
    held = corrections.phone_identity(customer)
    return render(
        "customer_details.html",
        user,
        status=status,
        customer=customer,
        form=entered or EnteredDetails.of(corrections.details_of(customer)),
        languages=list(Language),
        others=[i for i in customer.identities if i is not held and i.channel is not Channel.SMS],
        data_request=request,  # `request` is the HTTP request's name in a template
        words=words,
        **context,
    )


@router.get("/customers/{customer_id}/details", response_class=HTMLResponse)
async def details_form(
    customer_id: int,
    user: Agent,
    factory: SessionFactory,
    render: Render,
    request: int | None = None,
    saved: bool = False,
) -> HTMLResponse:
    def page() -> HTMLResponse:
        with factory() as session:
            return details_page(session, render, user, customer_id, request_id=request, saved=saved)

    return await asyncio.to_thread(page)


@router.post("/customers/{customer_id}/details", response_model=None)
async def save_details(
    customer_id: int,
    user: Agent,
    factory: SessionFactory,
    settings: SettingsDep,
    clock: Clock,
    render: Render,
    wake_sender: WakeSender,
    name: Annotated[str, Form()] = "",
    language: Annotated[str, Form()] = "",
    birthday: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    timezone: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
    request: Annotated[int | None, Form()] = None,
    confirm: Annotated[bool, Form()] = False,
) -> Response:
    entered = EnteredDetails(
        name=name,
        language=language,
        birthday=birthday,
        email=email,
        timezone=timezone,
        phone=phone,
    )
    confirming = request if confirm else None

    def again(status: int, **context: Any) -> HTMLResponse:
        with factory() as session:
            return details_page(
                session,
                render,
                user,
                customer_id,
                request_id=request,
                entered=entered,
                status=status,
                confirm=confirm,
                **context,
            )

    def work() -> list[Problem] | str | None:
        """None when saved; else the problems, or the key of the reason nothing was."""
        with session_scope(factory) as session:
            try:
                corrections.correct_customer(
                    session,
                    customer_id,
                    entered,
                    staff=user,
                    region=settings.default_region,
                    now=clock(),
                    confirm_request=confirming,
                )
            except (CustomerNotFound, NotACorrectionRequest) as error:
                raise HTTPException(status_code=404, detail=str(error)) from error
            except InvalidDetails as error:
                session.rollback()
                return error.problems
            except AlreadyDecided:
                session.rollback()
                return "request_already_decided"
        return None

    outcome = await asyncio.to_thread(work)
    if isinstance(outcome, list):
        return await asyncio.to_thread(again, 400, problems=outcome)
    if isinstance(outcome, str):
        return await asyncio.to_thread(again, 409, refusal=outcome)
    if confirming is not None:
        wake_sender()  # the customer is told their data is corrected
        return RedirectResponse("/console/requests", status_code=303)
    back = f"/console/customers/{customer_id}/details?saved=true"
    if request is not None:
        back += f"&request={request}"
    return RedirectResponse(back, status_code=303)
