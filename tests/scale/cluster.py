"""Several of every process of the shop on one PostgreSQL and one Redis, as a supervisor
and a load balancer would run them: started, killed, replaced and restarted by name.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from crm_store.settings import Settings
from crmbot.rasa_endpoints import write_endpoints
from tests.fakes import FakeTelegram, FakeTwilio
from tests.processes import (
    MODEL,
    RASA_ENV,
    action_command,
    free_port,
    rasa_command,
    started,
    stop,
    wait_until_serving,
)

SHOP_NUMBER = "+15005550006"
WEBHOOK_SECRET = "scale-webhook-secret"
REDIS_URL = "redis://127.0.0.1:6379/0"
# Longer than Rasa takes to answer on a busy machine (a turn it answered after the
# gateway gave up is replayed, and Rasa sees the message twice), yet short enough that
# a turn left by a killed gateway (leased for this and 10 s) frees within the run.
RASA_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Limits:
    telegram_per_second: int
    twilio_segments_per_second: int


def shop_environment(
    *,
    database_url: str,
    public_url: str,
    telegram: FakeTelegram,
    twilio: FakeTwilio,
    limits: Limits,
    redis_prefix: str,
) -> dict[str, str]:
    """What every gateway and scheduler of one shop is given: one store, one Redis, the
    providers' limits for the shop as a whole, and the load balancer's public address."""
    return {
        "ENVIRONMENT": "test",
        "DATABASE_URL": database_url,
        "PUBLIC_BASE_URL": public_url,
        **telegram.settings_env(webhook_secret=WEBHOOK_SECRET),
        **twilio.settings_env(from_number=SHOP_NUMBER),
        "TELEGRAM_MESSAGES_PER_SECOND": str(limits.telegram_per_second),
        "TWILIO_SEGMENTS_PER_SECOND": str(limits.twilio_segments_per_second),
        "REDIS_URL": REDIS_URL,
        "REDIS_KEY_PREFIX": redis_prefix,
        "QUIET_HOURS": "00:00-00:00",  # none: the campaign goes out whatever the hour
        # A dead process's rows are taken over soon, yet never while a live one sends
        # (it renews its claims every third of this, which a loaded machine may delay).
        "SEND_LEASE_SECONDS": "20",
        "SCHEDULER_PLAN_SECONDS": "3",
        "BURST_WINDOW_SECONDS": "0.5",
        "RASA_TIMEOUT_SECONDS": str(RASA_TIMEOUT_SECONDS),
    }


@dataclass
class Service:
    command: list[str]
    env: dict[str, str]
    log: Path
    ready_url: str | None
    process: subprocess.Popen[bytes] | None = None
    killed_at: list[float] = field(default_factory=list)  # wall-clock times of SIGKILLs


class Cluster:
    """Named processes of the shop; every one is stopped when `stack` closes."""

    def __init__(self, folder: Path, stack: ExitStack) -> None:
        self.folder, self._stack = folder, stack
        self.services: dict[str, Service] = {}

    def start(
        self, name: str, command: list[str], *, env: dict[str, str], ready_url: str | None = None
    ) -> None:
        """Start `name` without waiting for it (see `wait_ready`)."""
        service = Service(command, env, self.folder / f"{name}.log", ready_url)
        self.services[name] = service
        self._launch(service)

    def _launch(self, service: Service) -> None:
        service.process = self._stack.enter_context(
            started(service.command, log=service.log, env=service.env)
        )

    def wait_ready(self, *names: str, timeout: float = 480) -> None:
        for name in names:
            service = self.services[name]
            if service.ready_url is not None and service.process is not None:
                wait_until_serving(
                    service.process, ready_url=service.ready_url, log=service.log, timeout=timeout
                )

    def kill(self, name: str) -> float:
        """SIGKILL `name`, as the kernel's OOM killer or a crash would; when (wall clock)."""
        service = self.services[name]
        assert service.process is not None and service.process.poll() is None, f"{name} died"
        at = time.time()
        service.process.send_signal(signal.SIGKILL)
        service.process.wait()
        service.killed_at.append(at)
        return at

    def restart(self, name: str, *, timeout: float = 480) -> float:
        """Stop `name` gently and start it again as it was; when it stopped (wall clock)."""
        service = self.services[name]
        assert service.process is not None
        at = time.time()
        stop(service.process)
        self._launch(service)
        self.wait_ready(name, timeout=timeout)
        return at

    def alive(self, name: str) -> bool:
        process = self.services[name].process
        return process is not None and process.poll() is None

    def log_tail(self, name: str, chars: int = 3000) -> str:
        return self.services[name].log.read_text(errors="replace")[-chars:]

    # ---- the shop's processes

    def start_actions(self, name: str, *, database_url: str) -> str:
        """An action server; its webhook URL."""
        port = free_port()
        self.start(
            name,
            action_command(port),
            env={**RASA_ENV, "DATABASE_URL": database_url},
            ready_url=f"http://127.0.0.1:{port}/health",
        )
        return f"http://127.0.0.1:{port}/webhook"

    def start_rasa(self, name: str, *, action_url: str, settings: Settings) -> str:
        """A Rasa server with the endpoints the Procfile writes from `settings`; its URL."""
        port = free_port()
        path = self.folder / f"{name}-endpoints.yml"
        write_endpoints(settings, path)
        url = f"http://127.0.0.1:{port}"
        self.start(
            name,
            rasa_command(model=MODEL, port=port, endpoints=path),
            env={**RASA_ENV, "ACTION_SERVER_URL": action_url},
            ready_url=f"{url}/status",
        )
        return url

    def start_gateway(self, name: str, *, env: dict[str, str], rasa_url: str) -> str:
        """A web process (gateway and console) as the Procfile runs it; its URL."""
        port = free_port()
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "crmbot.web:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
        ]
        url = f"http://127.0.0.1:{port}"
        self.start(
            name,
            command,
            env={**env, "RASA_URL": rasa_url, "GATEWAY_PORT": str(port)},
            ready_url=f"{url}/metrics",
        )
        return url

    def start_scheduler(self, name: str, *, env: dict[str, str]) -> None:
        self.start(name, [sys.executable, "-m", "scheduler"], env=env)
