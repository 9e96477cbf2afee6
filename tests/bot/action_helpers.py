"""How the action tests build a tracker, run an action against the domain and read its events."""

from __future__ import annotations

import asyncio
from typing import Any

import yaml
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import Action, Tracker
from sqlalchemy.orm import Session

from crm_store.models import Customer
from tests.factories import make_customer
from tests.processes import ROOT

SENDER = "telegram:4242"
HANDOFF_RESPONSES = {"utter_handoff_now", "utter_handoff_later"}


def tracker(
    text: str,
    intent: str,
    *,
    slots: dict[str, Any] | None = None,
    entities: list[dict[str, Any]] | None = None,
    events: list[dict[str, Any]] | None = None,
) -> Tracker:
    ranking = [{"name": intent, "confidence": 0.9}]
    message = {
        "text": text,
        "intent": ranking[0],
        "intent_ranking": ranking,
        "entities": entities or [],
    }
    return Tracker(
        SENDER,
        slots or {},
        message,
        events or [{"event": "user", "text": text, "parse_data": message}],
        False,
        None,
        {},
        "action_listen",
    )


DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


def run(action: Action, current: Tracker) -> tuple[list[str], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, current, DOMAIN))
    return [m["response"] for m in dispatcher.messages], events


def slot(events: list[dict[str, Any]], name: str) -> Any:
    values = [e["value"] for e in events if e.get("event") == "slot" and e.get("name") == name]
    return values[-1] if values else None


def customer(session: Session, **options: Any) -> Customer:
    found = make_customer(session, telegram_chat_id="4242", **options)
    session.commit()
    return found
