"""Customers' personal-data requests (個資法): the pending ones, oldest first, and the
latest decisions. Staff confirm or refuse each; confirming a deletion erases the
customer, the same erasure as `crmbot customer forget`, and cannot be undone."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Form, HTTPException
from fastapi.responses import HTMLResponse, RedirectResponse

from console.deps import Agent, Clock, SessionFactory, WakeSender
from console.pages import Render
from crm_store import data_requests
from crm_store.data_requests import RequestEntry
from crm_store.db import session_scope

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/requests", response_class=HTMLResponse)
async def requests_page(user: Agent, factory: SessionFactory, render: Render) -> HTMLResponse:
    def load() -> tuple[list[RequestEntry], list[RequestEntry]]:
        with factory() as session:
            return (
                data_requests.pending_requests(session),
                data_requests.decided_requests(session),
            )

    pending, decided = await asyncio.to_thread(load)
    return render("requests.html", user, pending=pending, decided=decided)


@router.post("/requests/{request_id}/decide")
async def decide(
    request_id: int,
    decision: Annotated[Literal["confirm", "refuse"], Form()],
    user: Agent,
    factory: SessionFactory,
    clock: Clock,
    wake_sender: WakeSender,
) -> RedirectResponse:
    def work() -> None:
        with session_scope(factory) as session:
            try:
                data_requests.decide(
                    session, request_id, staff=user, confirm=decision == "confirm", now=clock()
                )
            except data_requests.DataRequestNotFound as error:
                raise HTTPException(status_code=404, detail=str(error)) from error
            except data_requests.AlreadyDecided as error:
                raise HTTPException(status_code=409, detail=str(error)) from error

    await asyncio.to_thread(work)
    wake_sender()  # a refusal or a correction is told to the customer
    return RedirectResponse("/console/requests", status_code=303)
