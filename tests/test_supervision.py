"""`make run`'s supervisor: a process that dies comes back by itself while the others
keep serving. supervisord runs `deploy/supervisord.conf` with the real commands of the
Procfile, as `make run` does."""

from __future__ import annotations

import fcntl
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from crm_store import migrate
from tests.processes import RASA_ENV, ROOT, free_port, wait_until_serving

pytestmark = [pytest.mark.rasa, pytest.mark.timeout(1200)]

SUPERVISORD = Path(sys.executable).parent / "supervisord"
# What each supervised pid must be running: the server itself, not a shell around it.
SERVERS = {
    "rasa": ".venv-rasa/bin/rasa",
    "actions": "rasa_sdk",
    "gateway": "uvicorn",
    "scheduler": "scheduler",
}


@dataclass
class Supervisor:
    """A running supervisord; who it spawned, read from its log."""

    process: subprocess.Popen[bytes]
    log: Path
    ports: dict[str, int]

    def pid(self, name: str) -> int:
        """The pid supervisord last spawned for `name`."""
        spawned = re.findall(rf"spawned: '{name}' with pid (\d+)", self.log.read_text())
        return int(spawned[-1])

    def wait_for_new_pid(self, name: str, *, not_: int) -> int:
        eventually(lambda: self.pid(name) != not_, what=f"{name} was not started again")
        return self.pid(name)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"


@dataclass
class Probe:
    """Asks a URL every 50 ms in a thread until stopped; counts the answers."""

    url: str
    answers: list[int | str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self._stop.is_set():
                try:
                    self.answers.append(client.get(self.url).status_code)
                except httpx.TransportError as error:
                    self.answers.append(type(error).__name__)
                time.sleep(0.05)

    @contextmanager
    def running(self) -> Iterator[Probe]:
        thread = threading.Thread(target=self._run, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def command_line(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def leader_lock_held(path: Path) -> bool:
    """Whether a scheduler holds the leader lock beside the SQLite store."""
    with path.open("ab") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def eventually(check: Callable[[], bool], *, timeout: float = 60, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.2)


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[Supervisor]:
    """`make run`'s four processes under supervisord, on a store of their own."""
    ports = {"rasa": free_port(), "actions": free_port(), "gateway": free_port()}
    database_url = f"sqlite:///{tmp_path / 'crmbot.db'}"
    migrate.upgrade(database_url)
    log = tmp_path / "supervisord.log"
    env = {
        **os.environ,
        **RASA_ENV,
        "DATABASE_URL": database_url,
        "RASA_PORT": str(ports["rasa"]),
        "ACTION_SERVER_PORT": str(ports["actions"]),
        "GATEWAY_PORT": str(ports["gateway"]),
    }
    command = [
        str(SUPERVISORD),
        "--configuration",
        str(ROOT / "deploy" / "supervisord.conf"),
        "--logfile",
        str(log),
        "--pidfile",
        str(tmp_path / "supervisord.pid"),
    ]
    output = tmp_path / "processes.log"  # supervisord's stdout: every program's output
    with output.open("wb") as sink:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    running = Supervisor(process, log, ports)
    try:
        for name, path in {"actions": "/health", "rasa": "/status", "gateway": "/healthz"}.items():
            url = running.url(name) + path
            wait_until_serving(process, ready_url=url, log=output, timeout=600)
        yield running
    finally:
        # supervisord stops its programs first, giving each its stopwaitsecs (30 at most).
        process.terminate()
        process.wait(timeout=90)
        (ROOT / "var" / f"endpoints-{ports['rasa']}.yml").unlink(missing_ok=True)


def test_a_killed_process_comes_back_by_itself_while_the_others_keep_serving(
    supervisor: Supervisor, tmp_path: Path
) -> None:
    pids = {name: supervisor.pid(name) for name in SERVERS}
    for name, server in SERVERS.items():
        assert server in command_line(pids[name]), (name, pids[name])
    lock = tmp_path / "crmbot.scheduler.lock"
    eventually(lambda: leader_lock_held(lock), what="the scheduler never took the lead")

    # The scheduler dies: it comes back and leads again; the gateway never stops answering.
    with Probe(f"{supervisor.url('gateway')}/healthz").running() as health:
        os.kill(pids["scheduler"], signal.SIGKILL)
        scheduler = supervisor.wait_for_new_pid("scheduler", not_=pids["scheduler"])
        eventually(lambda: leader_lock_held(lock), what="the new scheduler did not lead")
    assert health.answers and set(health.answers) == {200}, health.answers
    assert "scheduler" in command_line(scheduler)

    # The gateway dies: it comes back; the scheduler and the assistant were never stopped.
    os.kill(pids["gateway"], signal.SIGKILL)
    gateway = supervisor.wait_for_new_pid("gateway", not_=pids["gateway"])
    wait_until_serving(
        supervisor.process, ready_url=f"{supervisor.url('gateway')}/healthz", log=supervisor.log
    )
    assert "uvicorn" in command_line(gateway)
    assert [supervisor.pid(name) for name in ("rasa", "actions", "scheduler")] == [
        pids["rasa"],
        pids["actions"],
        scheduler,
    ]
    assert all(alive(pid) for pid in (pids["rasa"], pids["actions"], scheduler))

    # And a customer writing to the new gateway is answered by the assistant.
    with httpx.Client(base_url=supervisor.url("gateway"), timeout=30) as browser:
        assert browser.get("/chat").status_code == 200  # the chat's session cookie
        message = {"text": "你們幾點開門？", "client_id": str(uuid.uuid4())}
        assert browser.post("/chat/messages", json=message).status_code == 202
        answers: list[str] = []

        def answered() -> bool:
            rows = browser.get("/chat/messages").json()["messages"]
            answers[:] = [row["text"] for row in rows if row["author"] == "bot"]
            return bool(answers)

        eventually(answered, what="the restarted gateway never answered")
    assert "11:00" in answers[0], answers
