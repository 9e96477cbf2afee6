"""Whole conversations driven through the real Rasa and action servers, every message timed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bench.nlu.common import (
    DOMAIN,
    FIRST_CHAT_ID,
    LANGUAGE_NAMES,
    LANGUAGES,
    SERVER_START_TIMEOUT,
    console,
)
from bench.nlu.training import tail
from channels.rasa_client import RasaClient
from crm_store import migrate
from crm_store.db import make_engine, make_session_factory
from crm_store.models import (
    Language,
    Ticket,
    TicketStatus,
)
from tests.factories import make_customer_with_late_order
from tests.processes import assistant_servers


def script(language: Language, order_number: str) -> list[str]:
    """One customer's visit: hello, where is my order, a delivery complaint, thanks, bye."""
    if language is Language.ZH_TW:
        return [
            "你好",
            f"請問訂單 {order_number} 現在到哪裡了？",
            f"我的包裹 {order_number} 已經超過三天了還沒到！！",
            "黑貓的網站也一直查不到，真的很誇張",
            "沒有了",
            "我要退款",
            "對",
            "1",
            "謝謝你",
            "掰掰",
        ]
    return [
        "hi",
        f"where is my order {order_number}?",
        "my parcel still hasn't arrived, it's been days!!",
        "no that's all",
        "yes",
        "I'd like a replacement please",
        "yes, correct",
        "free shipping please",
        "thanks a lot",
        "bye",
    ]


@dataclass(frozen=True, slots=True)
class Exchange:
    """One message and its replies, with where the time went."""

    conversation: int
    language: Language
    text: str
    seconds: float
    replies: int
    intent: str
    confidence: float
    # Seconds from the previous step (or from sending) until Rasa logged the user message:
    # HTTP for the language slot and the message, and NLU.
    understood: float | None
    # Each action Rasa ran (action_listen too), with the seconds since the previous step:
    # predicting it, running it, and for custom actions the call to the action server.
    actions: tuple[tuple[str, float], ...]
    # Seconds from the last step until the replies were back.
    returned: float
    custom: bool


def custom_action_names() -> frozenset[str]:
    """Actions that call the action server: the domain's custom actions and its forms
    (every form has a ``validate_`` action)."""
    domain = yaml.safe_load(DOMAIN.read_text(encoding="utf-8")) or {}
    return frozenset(str(name) for name in domain.get("actions") or []) | frozenset(
        str(name) for name in domain.get("forms") or {}
    )


def timed_exchange(
    client: RasaClient,
    api: httpx.Client,
    *,
    conversation: int,
    sender: str,
    text: str,
    language: Language,
    seen_events: int,
    custom: frozenset[str],
) -> tuple[Exchange, int]:
    """Send one message, time it, and read the tracker's new events for the breakdown."""
    wall_start = time.time()
    start = time.perf_counter()
    replies = client.send(sender, text, language=language)
    seconds = time.perf_counter() - start
    response = api.get(f"/conversations/{sender}/tracker", params={"include_events": "ALL"})
    response.raise_for_status()
    events: list[dict[str, Any]] = response.json().get("events") or []
    # Rasa stamps every event when it logs it. A user message is logged once understood,
    # an action once it has run; what it returned (slots, replies) is logged just after.
    # So user and action events mark the steps, and each step lasts from the one before.
    latest = wall_start
    intent, confidence = "", 0.0
    understood: float | None = None
    actions: list[tuple[str, float]] = []
    for event in events[seen_events:]:
        kind = event.get("event")
        if kind not in ("user", "action"):
            continue
        stamp = float(event.get("timestamp") or latest)
        if kind == "user":
            ranked = (event.get("parse_data") or {}).get("intent") or {}
            intent = str(ranked.get("name"))
            confidence = float(ranked.get("confidence") or 0.0)
            understood = max(stamp - latest, 0.0)
        else:
            actions.append((str(event.get("name")), max(stamp - latest, 0.0)))
        latest = max(latest, stamp)
    exchange = Exchange(
        conversation=conversation,
        language=language,
        text=text,
        seconds=seconds,
        replies=len(replies),
        intent=intent,
        confidence=confidence,
        understood=understood,
        actions=tuple(actions),
        returned=max(wall_start + seconds - latest, 0.0),
        custom=any(name in custom for name, _ in actions),
    )
    return exchange, len(events)


@contextmanager
def assistant(model: Path, workdir: Path) -> Iterator[tuple[str, sessionmaker[Session]]]:
    """The action server and the Rasa server on a fresh store; yields Rasa's URL and
    a session factory on the store. Prints the servers' log tails if they fail to start."""
    database_url = f"sqlite:///{workdir / 'crmbot.db'}"
    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    try:
        with ExitStack() as servers:
            try:
                with console.status("  starting the action server and the Rasa server ..."):
                    rasa_url = servers.enter_context(
                        assistant_servers(
                            model=model,
                            folder=workdir,
                            database_url=database_url,
                            timeout=SERVER_START_TIMEOUT,
                        )
                    )
            except TimeoutError:
                for log in ("actions.log", "rasa.log"):
                    console.print(f"  [red]{log}[/]:\n{tail(workdir / log)}")
                raise
            yield rasa_url, make_session_factory(engine)
    finally:
        engine.dispose()


def ticket_status(store: sessionmaker[Session], customer_id: int) -> TicketStatus | None:
    """The status of the customer's latest ticket, None when there is none."""
    with store() as session:
        ticket = session.scalars(
            select(Ticket).where(Ticket.customer_id == customer_id).order_by(Ticket.id.desc())
        ).first()
        return ticket.status if ticket else None


def drive(
    rasa_url: str, store: sessionmaker[Session], conversations: int
) -> tuple[list[Exchange], list[str]]:
    """One warm-up conversation, then `conversations` counted ones, one at a time.

    Returns the counted exchanges and, for every counted conversation whose complaint
    did not end with a resolved ticket, what went wrong.
    """
    custom = custom_action_names()
    exchanges: list[Exchange] = []
    unfinished: list[str] = []
    with (
        RasaClient(rasa_url, timeout=60) as client,
        httpx.Client(base_url=rasa_url, timeout=60) as api,
        Progress(
            TextColumn("  {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress,
    ):
        task = progress.add_task("conversations", total=conversations + 1)
        for number in range(conversations + 1):  # 0 is the warm-up
            language = LANGUAGES[number % 2]
            chat_id = str(FIRST_CHAT_ID + number)
            with store() as session:
                customer_id, order_number = make_customer_with_late_order(
                    session,
                    chat_id=chat_id,
                    language=language,
                    name=f"測試客人{number}" if language is Language.ZH_TW else f"Bench {number}",
                )
            sender = f"telegram:{chat_id}"
            seen = 0
            start = time.perf_counter()
            for text in script(language, order_number):
                exchange, seen = timed_exchange(
                    client,
                    api,
                    conversation=number,
                    sender=sender,
                    text=text,
                    language=language,
                    seen_events=seen,
                    custom=custom,
                )
                if number:
                    exchanges.append(exchange)
            status = ticket_status(store, customer_id)
            if number == 0:
                progress.console.print(
                    f"  warm-up conversation ({LANGUAGE_NAMES[language]}): "
                    f"{time.perf_counter() - start:,.1f} s, ticket {status or 'none'}; not counted"
                )
            elif status is not TicketStatus.RESOLVED:
                unfinished.append(f"{sender} ({LANGUAGE_NAMES[language]}): ticket {status}")
            progress.advance(task)
    return exchanges, unfinished
