"""Rasa's own check of an action-server reply, timed inside .venv-rasa."""

from __future__ import annotations

import json
import os
import subprocess

from bench.nlu.common import BenchError, Figure, console, ms_text
from tests.processes import RASA, RASA_ENV

# Run inside .venv-rasa: time RemoteAction's validation of a typical action reply.
_REPLY_CHECK = """
import importlib.metadata, json, statistics, sys, time
from rasa.core.actions.action import RemoteAction
reply = {
    "events": [
        {"event": "slot", "timestamp": None, "name": "complaint_stage", "value": "listen"},
        {"event": "slot", "timestamp": None, "name": "ticket_id", "value": 12},
        {"event": "active_loop", "timestamp": None, "name": None},
    ],
    "responses": [{"response": "utter_ask_anything_else", "text": None}],
}
check = RemoteAction("action_listen_to_complaint", None)
seconds = []
for _ in range(int(sys.argv[1])):
    start = time.perf_counter()
    check._validate_action_result(reply)
    seconds.append(time.perf_counter() - start)
print(json.dumps({"version": importlib.metadata.version("jsonschema"),
                  "median": statistics.median(seconds), "max": max(seconds)}))
"""
REPLY_CHECK_RUNS = 50


def bench_reply_check() -> list[Figure]:
    """Rasa's schema check of one action-server reply, run in the Rasa environment."""
    completed = subprocess.run(
        [str(RASA.parent / "python"), "-c", _REPLY_CHECK, str(REPLY_CHECK_RUNS)],
        capture_output=True,
        text=True,
        env={**os.environ, **RASA_ENV},
        check=False,
    )
    if completed.returncode != 0:
        raise BenchError(f"timing Rasa's reply check failed:\n{completed.stderr[-3000:]}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    console.print(
        f"  jsonschema {result['version']}: median {ms_text(result['median'])} per reply, "
        f"max {ms_text(result['max'])} ({REPLY_CHECK_RUNS} runs)"
    )
    return [
        Figure(
            "Rasa's check of one action-server reply",
            ms_text(result["median"]),
            f"median of {REPLY_CHECK_RUNS}, jsonschema {result['version']}; "
            "runs once per custom action (20-25 ms under jsonschema 4.17)",
        )
    ]
