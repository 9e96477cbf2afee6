"""`crmbot train` and `crmbot rasa-endpoints`: what the Rasa environment needs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Annotated

import typer

from crm_store.settings import PROJECT_ROOT, VAR_DIR, get_settings
from crmbot.cli.common import fail, out
from crmbot.rasa_endpoints import UnsupportedStore, write_endpoints


def train() -> None:
    """Train the Rasa model from bot/data into bot/models (the Rasa environment's job)."""
    rasa = PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"
    if not rasa.exists():
        raise fail("the Rasa environment .venv-rasa is missing; run `make setup` first")
    command = [
        str(rasa),
        "train",
        "--config",
        "config.yml",
        "--domain",
        "domain.yml",
        "--data",
        "bot/data",
        "--out",
        "bot/models",
        "--fixed-model-name",
        "assistant",
    ]
    environment = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}
    result = subprocess.run(command, cwd=PROJECT_ROOT, env=environment, check=False)
    if result.returncode != 0:
        raise fail(f"training failed (exit code {result.returncode})")
    out.print("model saved to bot/models/assistant.tar.gz")


def rasa_endpoints_command(
    path: Annotated[Path, typer.Argument(help="where to write it")] = VAR_DIR / "endpoints.yml",
) -> None:
    """Write Rasa's endpoints file (action server, tracker and lock stores) from the settings."""
    try:
        write_endpoints(get_settings(), path)
    except UnsupportedStore as error:
        raise fail(str(error)) from error
