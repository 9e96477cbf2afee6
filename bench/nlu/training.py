"""Running Rasa: its command line, training a fresh model, and other trainings on the machine."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from bench.nlu.common import CONFIG, DOMAIN, TRAINING_DATA, BenchError, console
from tests.processes import RASA, RASA_ENV, ROOT


def tail(path: Path, characters: int = 3000) -> str:
    return path.read_text(encoding="utf-8", errors="replace")[-characters:] if path.exists() else ""


def run_rasa(arguments: list[str], *, log: Path, env: dict[str, str] | None = None) -> float:
    """Run one `rasa` command to the end, its output in `log`; returns the seconds taken."""
    start = time.perf_counter()
    with log.open("wb") as output:
        completed = subprocess.run(
            [str(RASA), *arguments],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, **RASA_ENV, **(env or {})},
            check=False,
        )
    seconds = time.perf_counter() - start
    if completed.returncode != 0:
        raise BenchError(
            f"rasa {arguments[0]} failed with exit code {completed.returncode}:\n{tail(log)}"
        )
    return seconds


def train(workdir: Path) -> tuple[Path, float]:
    """Train from scratch into `workdir`; returns the model and the wall-clock seconds."""
    out = workdir / "models"
    with console.status("  training a fresh model (rasa train) ..."):
        seconds = run_rasa(
            [
                "train",
                "--config",
                str(CONFIG),
                "--domain",
                str(DOMAIN),
                "--data",
                str(TRAINING_DATA),
                "--out",
                str(out),
                "--fixed-model-name",
                "bench",
                "--force",
            ],
            log=workdir / "train.log",
            # An empty cache of our own: nothing from an earlier training is reused.
            env={"RASA_CACHE_DIRECTORY": str(workdir / "rasa-cache")},
        )
    model = out / "bench.tar.gz"
    if not model.exists():
        raise BenchError(f"rasa train wrote no {model}:\n{tail(workdir / 'train.log')}")
    return model, seconds


def other_trainings() -> list[str]:
    """Process ids of other `rasa train` runs (they would slow every figure down)."""
    found: list[str] = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if any(w.endswith(b"rasa") for w in words) and b"train" in words:
            found.append(cmdline.parent.name)
    return found


def warn_if_busy(figure: str) -> list[str]:
    busy = other_trainings()
    if busy:
        console.print(
            f"  [yellow]another `rasa train` is running (pid {', '.join(busy)}): "
            f"{figure} will be slower than on an idle machine[/]"
        )
    return busy
