"""`make run`'s processes, started from the Procfile by honcho as an operator would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from channels.rasa_client import RasaClient
from tests.processes import RASA_ENV, ROOT, free_port

pytestmark = pytest.mark.rasa


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} not up; see {log}")


def test_honcho_starts_the_assistant_and_the_gateway_from_the_procfile(tmp_path: Path) -> None:
    rasa_port, actions_port, gateway_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        **RASA_ENV,
        "RASA_PORT": str(rasa_port),
        "ACTION_SERVER_PORT": str(actions_port),
        "GATEWAY_PORT": str(gateway_port),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'crmbot.db'}",
    }
    subprocess.run(
        [str(Path(sys.executable).parent / "crmbot"), "db", "upgrade"],
        env=env,
        check=True,
        capture_output=True,
    )
    log = tmp_path / "honcho.log"
    with log.open("wb") as output:
        honcho = subprocess.Popen(
            [str(Path(sys.executable).parent / "honcho"), "start"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for(f"http://127.0.0.1:{actions_port}/health", honcho, log)
            wait_for(f"http://127.0.0.1:{rasa_port}/status", honcho, log)
            with RasaClient(f"http://127.0.0.1:{rasa_port}") as client:
                replies = client.send(f"webchat:{uuid.uuid4().hex}", "我要找真人客服")
            assert replies and "C-" not in replies[0].text  # handed off, no ticket

            gateway = f"http://127.0.0.1:{gateway_port}"
            wait_for(f"{gateway}/healthz", honcho, log)
            with httpx.Client(base_url=gateway, timeout=30) as browser:
                assert browser.get("/chat").status_code == 200
                message = {"text": "你們幾點開門？", "client_id": str(uuid.uuid4())}
                assert browser.post("/chat/messages", json=message).status_code == 202
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    rows = browser.get("/chat/messages").json()["messages"]
                    if any(row["author"] == "bot" for row in rows):
                        break
                    time.sleep(0.5)
                answer = [row["text"] for row in rows if row["author"] == "bot"]
                assert answer and "11:00" in answer[0], rows
        finally:
            os.killpg(honcho.pid, signal.SIGTERM)
            honcho.wait(timeout=30)
