"""Two Rasa replicas started by the Procfile's own line on a PostgreSQL store and Redis:
one tracker store and one lock store, so either serves any conversation, in order."""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from channels.rasa_client import RasaClient
from tests.processes import RASA_ENV, ROOT, action_server, free_port, running

# Two Rasa servers load their models one after the other: slow on a busy machine.
pytestmark = [pytest.mark.rasa, pytest.mark.postgres, pytest.mark.timeout(1800)]

REDIS_URL = "redis://127.0.0.1:6379/0"
STARTUP = 600  # seconds for a Rasa server to load its model on a busy machine
# On a busy machine six turns one after the other take minutes: long enough for Rasa to
# let a waiting message's ticket lapse (a 500), which is not what this test is about.
PATIENCE = 600


def user_texts(events: list[dict[str, Any]]) -> list[str]:
    return [event["text"] for event in events if event["event"] == "user"]


def turns_overlap(events: list[dict[str, Any]]) -> bool:
    """Whether a user message came in before the bot had finished the turn before it
    (its last action is `action_listen`): what two replicas without a shared lock do."""
    listening = True
    for event in events:
        if event["event"] == "user":
            if not listening:
                return True
            listening = False
        elif event["event"] == "action":
            listening = event["name"] == "action_listen"
    return False


@pytest.fixture
def replicas(postgres_url: str, tmp_path: Path) -> Iterator[list[str]]:
    """Two Rasa servers, each as `make run` starts Rasa, sharing one action server."""
    ports = [free_port(), free_port()]
    try:
        with ExitStack() as stack:
            action_url = stack.enter_context(
                action_server(folder=tmp_path, database_url=postgres_url, timeout=STARTUP)
            )
            env = {
                **RASA_ENV,
                "DATABASE_URL": postgres_url,
                "REDIS_URL": REDIS_URL,
                "REDIS_KEY_PREFIX": f"test{uuid.uuid4().hex[:12]}",
                "ACTION_SERVER_URL": action_url,
                "TICKET_LOCK_LIFETIME": str(PATIENCE),
            }
            # One after the other: the first creates the tracker database and its tables.
            for number, port in enumerate(ports):
                stack.enter_context(
                    running(
                        [sys.executable, "-m", "crmbot.procfile", "rasa"],
                        ready_url=f"http://127.0.0.1:{port}/status",
                        log=tmp_path / f"rasa-{number}.log",
                        env={**env, "RASA_PORT": str(port)},
                        timeout=STARTUP,
                    )
                )
            yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for port in ports:
            (ROOT / "var" / f"endpoints-{port}.yml").unlink(missing_ok=True)
        store = make_url(postgres_url).set(drivername="postgresql")
        with psycopg.connect(store.render_as_string(False), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{store.database}_rasa" WITH (FORCE)')


def tracker(rasa_url: str, sender: str) -> dict[str, Any]:
    response = httpx.get(f"{rasa_url}/conversations/{sender}/tracker", timeout=30)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def test_either_replica_serves_any_conversation_in_order(
    replicas: list[str], postgres_url: str
) -> None:
    first, second = replicas
    sender = f"webchat:{uuid.uuid4().hex}"
    with RasaClient(first, timeout=60) as one, RasaClient(second, timeout=60) as other:
        assert "11:00" in one.send(sender, "你們幾點開門？")[0].text
        assert other.send(sender, "謝謝")

    conversation = tracker(second, sender)
    assert user_texts(conversation["events"]) == ["你們幾點開門？", "謝謝"]
    # The second replica went on with the first one's session and slots, not a new one.
    assert [event["event"] for event in conversation["events"]].count("session_started") == 1
    assert conversation["slots"]["language"] == "zh-TW"

    # Stored in Rasa's own database beside the store, not in the store's.
    url = make_url(postgres_url)
    rasa_database = url.set(drivername="postgresql", database=f"{url.database}_rasa")
    with psycopg.connect(rasa_database.render_as_string(False)) as connection:
        stored = connection.execute(
            "SELECT count(*) FROM events WHERE sender_id = %s AND type_name = 'user'", (sender,)
        ).fetchone()
    assert stored == (2,)

    assert_messages_at_both_replicas_at_once_are_answered_one_turn_at_a_time(replicas)


def assert_messages_at_both_replicas_at_once_are_answered_one_turn_at_a_time(
    replicas: list[str],
) -> None:
    sender = f"webchat:{uuid.uuid4().hex}"
    texts = ["你好", "運費怎麼算", "可以退貨嗎", "怎麼付款", "你們幾點開門", "謝謝"]
    answered: list[str] = []
    failed: list[str] = []
    busy: dict[str, list[tuple[float, float]]] = {url: [] for url in replicas}

    def send(rasa_url: str, text: str) -> None:
        with RasaClient(rasa_url, timeout=PATIENCE) as client:
            began = time.monotonic()
            try:
                # As the gateway sends: the language told only on a switch.
                if client.send(sender, text, detect=False):
                    answered.append(text)
            except Exception as error:  # reported below, with the text it failed on
                failed.append(f"{text!r} at {rasa_url}: {error!r}")
            busy[rasa_url].append((began, time.monotonic()))

    threads = [
        threading.Thread(target=send, args=(replicas[number % 2], text))
        for number, text in enumerate(texts)
    ]
    for thread in threads:
        thread.start()
        # Each arrives while earlier ones are still being answered, on both replicas.
        time.sleep(0.02)
    for thread in threads:
        thread.join()

    assert failed == []
    assert sorted(answered) == sorted(texts)
    # The replicas really were asked about the conversation at the same time.
    assert any(
        start < other_end and other_start < end
        for start, end in busy[replicas[0]]
        for other_start, other_end in busy[replicas[1]]
    )
    events = tracker(replicas[0], sender)["events"]
    assert sorted(user_texts(events)) == sorted(texts)
    assert not turns_overlap(events), [
        (event["event"], event.get("name") or event.get("text")) for event in events
    ]
