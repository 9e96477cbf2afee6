"""The live queue of customers waiting for staff, and the event stream that keeps the
queue and an open transcript up to date."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from sqlalchemy.orm import Session, sessionmaker

from console.deps import Agent, SessionFactory
from console.pages import Render
from crm_store import data_requests, handoffs, inbox, transcripts
from crm_store.models import Conversation

# A live page's event stream ends after this long; the browser reconnects by itself.
STREAM_SECONDS = 60.0
POLL_SECONDS = 0.25

router = APIRouter(prefix="/console", include_in_schema=False)


def queue_context(factory: sessionmaker[Session]) -> dict[str, Any]:
    with factory() as session:
        entries = handoffs.queue(session)
        data_requests_waiting = data_requests.pending_count(session)
    return {
        "entries": entries,
        "waiting": sum(1 for e in entries if e.agent is None),
        "data_requests_waiting": data_requests_waiting,
    }


@router.get("", response_class=HTMLResponse)
async def queue_page(user: Agent, factory: SessionFactory, render: Render) -> HTMLResponse:
    context = await asyncio.to_thread(queue_context, factory)
    return render("queue.html", user, **context)


@router.get("/queue", response_class=HTMLResponse)
async def queue_fragment(user: Agent, factory: SessionFactory, render: Render) -> HTMLResponse:
    context = await asyncio.to_thread(queue_context, factory)
    return render("queue_list.html", user, **context)


def snapshot(factory: sessionmaker[Session], conversation_id: int | None) -> tuple[str, str]:
    """What a live page compares: the open handoffs, and the newest transcript entries."""
    with factory() as session:
        version = inbox.queue_version(session)
        conversation = (
            session.get(Conversation, conversation_id) if conversation_id is not None else None
        )
        newest = "" if conversation is None else transcripts.newest(session, conversation)
    return version, newest


@router.get("/events")
async def events(
    request: Request, user: Agent, factory: SessionFactory, conversation: int | None = None
) -> StreamingResponse:
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
                waiting = inbox.waiting_in(version)
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
