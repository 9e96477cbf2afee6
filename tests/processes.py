"""Start the project's real processes for integration tests and wait until they serve."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy.orm import Session, sessionmaker

from channels.rasa_client import RasaClient

ROOT = Path(__file__).resolve().parent.parent
RASA = ROOT / ".venv-rasa" / "bin" / "rasa"
MODEL = ROOT / "bot" / "models" / "assistant.tar.gz"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def started(
    command: list[str], *, log: Path, env: dict[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` (its output appended to `log`) until the block ends; stop it then."""
    with log.open("ab") as output:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
        )
        try:
            yield process
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Ask `process` to stop; kill it if it has not within 20 s."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_until_serving(
    process: subprocess.Popen[bytes], *, ready_url: str, log: Path, timeout: float = 180
) -> None:
    """Return once `ready_url` answers 200; fail if `process` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"{process.args!r} exited early; see {log}:\n{log.read_text()[-3000:]}"
            )
        try:
            if httpx.get(ready_url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{ready_url} not ready after {timeout} s; see {log}")
        time.sleep(0.5)


@contextmanager
def running(
    command: list[str], *, ready_url: str, log: Path, timeout: float = 180, env: dict[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` until the block ends; wait until `ready_url` answers 200."""
    log.write_bytes(b"")
    with started(command, log=log, env=env) as process:
        wait_until_serving(process, ready_url=ready_url, log=log, timeout=timeout)
        yield process


RASA_ENV = {
    "RASA_TELEMETRY_ENABLED": "false",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
}


def action_command(port: int) -> list[str]:
    return [sys.executable, "-m", "rasa_sdk", "--actions", "bot.actions", "--port", str(port)]


@contextmanager
def action_server(*, folder: Path, database_url: str, timeout: float = 180) -> Iterator[str]:
    """The real action server on the store at `database_url`; yields its webhook URL."""
    port = free_port()
    with running(
        action_command(port),
        ready_url=f"http://127.0.0.1:{port}/health",
        log=folder / "actions.log",
        env={**RASA_ENV, "DATABASE_URL": database_url},
        timeout=timeout,
    ):
        yield f"http://127.0.0.1:{port}/webhook"


def rasa_command(*, model: Path, port: int, endpoints: Path) -> list[str]:
    """The Rasa server (REST channel, HTTP API) on loopback `port`."""
    return [
        str(RASA),
        "run",
        "--enable-api",
        "--model",
        str(model),
        "--port",
        str(port),
        "--interface",
        "127.0.0.1",
        "--credentials",
        str(ROOT / "bot" / "credentials.yml"),
        "--endpoints",
        str(endpoints),
    ]


@contextmanager
def rasa_server(
    *,
    model: Path,
    folder: Path,
    action_url: str,
    port: int | None = None,
    log_name: str = "rasa.log",
    timeout: float = 180,
) -> Iterator[str]:
    """The real Rasa server (REST channel, HTTP API) on `port`; yields its URL."""
    port = port or free_port()
    endpoints = folder / "endpoints.yml"
    endpoints.write_text(f'action_endpoint:\n  url: "{action_url}"\n', encoding="utf-8")
    url = f"http://127.0.0.1:{port}"
    with running(
        rasa_command(model=model, port=port, endpoints=endpoints),
        ready_url=f"{url}/status",
        log=folder / log_name,
        env=RASA_ENV,
        timeout=timeout,
    ):
        yield url


@contextmanager
def assistant_servers(
    *, model: Path, folder: Path, database_url: str, timeout: float = 180
) -> Iterator[str]:
    """The real action server and Rasa server on the store at `database_url`.

    Yields Rasa's URL; the servers' logs are `actions.log` and `rasa.log` in `folder`.
    """
    with (
        action_server(folder=folder, database_url=database_url, timeout=timeout) as action_url,
        rasa_server(model=model, folder=folder, action_url=action_url, timeout=timeout) as url,
    ):
        yield url


@dataclass
class Assistant:
    """A running assistant: talk to it with `client`, look at the store with `store`."""

    client: RasaClient
    store: sessionmaker[Session]
    rasa_url: str
    database_url: str
