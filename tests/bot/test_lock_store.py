"""Rasa's lock store for several replicas (bot/lock_store.py), run inside Rasa's
environment against the real Redis: two stores, as two replicas, and threads on each
drawing the same conversation's lock at once, as messages arriving together would."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest

from tests.processes import RASA, RASA_ENV, ROOT

pytestmark = pytest.mark.rasa

# Each thread takes the lock over and over; `holding` counts who is inside at once.
_SCRIPT = """
import asyncio, json, sys, threading, time

from rasa.core.lock_store import RedisLockStore
from rasa.shared.utils.common import class_from_module_path
from rasa.utils.endpoints import EndpointConfig

kind, prefix, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])


def replica():
    if kind == "rasa":
        return RedisLockStore(host="127.0.0.1", port=6379, db=0, key_prefix=prefix)
    store = class_from_module_path("bot.lock_store.AtomicRedisLockStore")
    return store(EndpointConfig.from_dict(
        {"type": "bot.lock_store.AtomicRedisLockStore", "url": "127.0.0.1", "port": 6379,
         "db": 0, "key_prefix": prefix}
    ))


replicas = [replica(), replica()]
guard = threading.Lock()
holding, most, served, errors = 0, 0, 0, []


async def customer(store):
    global holding, most, served
    for _ in range(rounds):
        try:
            async with store.lock("telegram:42", lock_lifetime=10, wait_time_in_seconds=0.002):
                with guard:
                    holding += 1
                    most = max(most, holding)
                time.sleep(0.002)  # the turn
                with guard:
                    holding -= 1
                    served += 1
        except Exception as error:
            errors.append(repr(error))


threads = [
    threading.Thread(target=asyncio.run, args=(customer(replicas[n % 2]),)) for n in range(8)
]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
left = replicas[0].red.keys(replicas[0].key_prefix + "*")
print(json.dumps({"most": most, "served": served, "errors": errors[:3], "left": len(left)}))
"""


def run_replicas(kind: str, rounds: int) -> dict[str, object]:
    prefix = f"test{uuid.uuid4().hex[:12]}"
    python = RASA.parent / "python"
    done = subprocess.run(
        [str(python), "-c", _SCRIPT, kind, prefix, str(rounds)],
        cwd=ROOT,
        env=RASA_ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_two_replicas_at_once_serve_a_conversation_one_message_at_a_time() -> None:
    result = run_replicas("atomic", rounds=25)

    assert result["errors"] == []
    assert result["served"] == 8 * 25
    assert result["most"] == 1  # never two messages of the conversation at once
    assert result["left"] == 0  # the last one out deleted the lock
