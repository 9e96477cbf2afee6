"""The local web chat at /chat: try the bot as a customer, through the same routing.

The browser gets a random chat id in a cookie (its address, like a phone number);
messages go in with POST /chat/messages and the transcript comes back from
GET /chat/messages?after=<id>, which the page polls.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field, ValidationError

from channels.inbound import Inbound
from crm_store import transcripts
from crm_store.models import Channel

if TYPE_CHECKING:
    from channels.gateway import Gateway

COOKIE = "crmbot_chat"
PAGE = Path(__file__).with_name("static") / "chat.html"
MAX_TEXT = 2000


class ChatMessage(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    # Chosen by the page per message, so a resend after a network error is not doubled.
    client_id: uuid.UUID


def _transcript(gateway: Gateway, chat_id: str, after: int) -> list[dict[str, Any]]:
    with gateway.factory() as session:
        rows = transcripts.messages(
            session, address=(Channel.WEBCHAT, chat_id), after=after, limit=200
        )
        return [
            {
                "id": row.id,
                "direction": row.direction.value,
                "author": row.author.value,
                "text": row.text,
                "buttons": [b.get("title") for b in (row.payload or {}).get("buttons", [])],
                "at": row.created_at.isoformat(),
            }
            for row in rows
        ]


def router(gateway_of: Callable[[Request], Gateway]) -> APIRouter:
    routes = APIRouter(prefix="/chat", tags=["web chat"])

    @routes.get("", response_class=HTMLResponse)
    async def page(request: Request) -> Response:
        response = HTMLResponse(PAGE.read_text(encoding="utf-8"))
        if COOKIE not in request.cookies:
            response.set_cookie(
                COOKIE, secrets.token_urlsafe(16), httponly=True, samesite="strict", path="/chat"
            )
        return response

    @routes.post("/messages")
    async def post_message(request: Request) -> Response:
        chat_id = request.cookies.get(COOKIE)
        if not chat_id:
            return JSONResponse({"detail": "no chat session: open /chat first"}, status_code=400)
        try:
            message = ChatMessage.model_validate_json(await request.body())
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()
            )
            return JSONResponse({"detail": problems}, status_code=400)
        if not message.text.strip():
            return JSONResponse({"detail": "text: empty message"}, status_code=400)
        stored = await gateway_of(request).accept(
            Inbound(
                channel=Channel.WEBCHAT,
                address=chat_id,
                text=message.text.strip(),
                channel_message_id=f"web-{message.client_id}",
                display_name="Web chat visitor",
            )
        )
        return JSONResponse({"id": stored, "duplicate": stored is None}, status_code=202)

    @routes.get("/messages")
    async def messages(request: Request, after: int = 0) -> Response:
        chat_id = request.cookies.get(COOKIE)
        if not chat_id:
            return JSONResponse({"messages": []})
        rows = await asyncio.to_thread(_transcript, gateway_of(request), chat_id, after)
        return JSONResponse({"messages": rows})

    return routes
