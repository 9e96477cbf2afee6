"""The Procfile, the one list of processes: started by honcho as an operator would, and
the supervisors' definitions (`deploy/`) kept consistent with it."""

from __future__ import annotations

import configparser
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from channels.rasa_client import RasaClient
from crmbot.procfile import UnknownProcess, command_for, process_environment, procfile_commands
from tests.processes import RASA_ENV, ROOT, free_port

PROCESSES = list(procfile_commands())
SYSTEMD = ROOT / "deploy" / "systemd"


def ini(path: Path) -> configparser.ConfigParser:
    """An ini file (supervisord's config, a systemd unit) as written, keys' case kept."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path, encoding="utf-8")
    return parser


def test_procfile_names_the_four_processes_each_exec_ing_its_server() -> None:
    assert PROCESSES == ["rasa", "actions", "gateway", "scheduler"]
    for name in PROCESSES:
        # The shell gives way to the server, so a supervisor signals and watches the
        # server itself: a wrapper killed alone would leave its server holding the port.
        assert re.search(r"(^|&& |\S+=\S+ )exec ", command_for(name)), name


def test_supervisord_runs_every_procfile_process_through_its_line_and_restarts_it() -> None:
    config = ini(ROOT / "deploy" / "supervisord.conf")
    assert config.sections() == ["supervisord", *(f"program:{name}" for name in PROCESSES)]
    for name in PROCESSES:
        program = config[f"program:{name}"]
        assert program["command"].endswith(f"/.venv/bin/python -m crmbot.procfile {name}")
        assert program["autorestart"] == "true"
        assert program["stopasgroup"] == program["killasgroup"] == "true"


def test_systemd_has_a_restarting_template_unit_per_procfile_process() -> None:
    units = sorted(path.name for path in SYSTEMD.glob("*.service"))
    assert units == sorted(f"crmbot-{name}@.service" for name in PROCESSES)
    for name in PROCESSES:
        unit = ini(SYSTEMD / f"crmbot-{name}@.service")
        assert unit["Service"]["Restart"] == "always"
        assert unit["Unit"]["StartLimitIntervalSec"] == "0"  # never gives up
        assert unit["Unit"]["PartOf"] == unit["Install"]["WantedBy"] == "crmbot.target"
        assert unit["Service"]["EnvironmentFile"] == "/etc/crmbot/crmbot.env"
        start = unit["Service"]["ExecStart"]
        assert start.endswith(f"/opt/crmbot/.venv/bin/python -m crmbot.procfile {name}")
        # An instance's name is its port, which must reach the Procfile's command.
        for variable in re.findall(r"(\w+)=%i", start):
            assert "${" + variable + ":-" in command_for(name), (name, variable)
    assert ini(SYSTEMD / "crmbot.target")["Install"]["WantedBy"] == "multi-user.target"


def test_process_environment_reads_dotenv_under_the_given_environment(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SHOP_NAME='Mei Shop'\nGATEWAY_PORT=9000\n", encoding="utf-8")

    environment = process_environment({"GATEWAY_PORT": "8001"}, root=tmp_path)

    assert environment == {"SHOP_NAME": "Mei Shop", "GATEWAY_PORT": "8001"}
    assert process_environment({"A": "1"}, root=tmp_path / "no-dotenv-here") == {"A": "1"}


def test_an_unknown_process_name_is_refused_with_the_known_ones() -> None:
    with pytest.raises(UnknownProcess, match="rasa, actions, gateway, scheduler"):
        command_for("worker")
    result = subprocess.run(
        [sys.executable, "-m", "crmbot.procfile", "worker"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "no process 'worker' in the Procfile" in result.stderr


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


@pytest.mark.rasa
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
            (ROOT / "var" / f"endpoints-{rasa_port}.yml").unlink(missing_ok=True)
