"""Benchmark of the assistant: how well it understands, and how fast it answers.

The run, as `python -m bench.nlu`; what it measures is told in bench/nlu/__init__.py.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import httpx
from rich.table import Table

from bench.nlu.common import DEV, HELDOUT, Figure, console, met_text
from bench.nlu.intents import bench_intents
from bench.nlu.latency import bench_latency
from bench.nlu.reply_check import bench_reply_check
from bench.nlu.training import train, warn_if_busy
from tests.processes import MODEL, ROOT


def prepare_model(arguments: argparse.Namespace, workdir: Path) -> tuple[Path, Figure]:
    if arguments.skip_training:
        source: Path = arguments.model
        model = workdir / "model.tar.gz"
        shutil.copy2(source, model)  # someone may retrain the original meanwhile
        trained = datetime.fromtimestamp(source.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
        console.print(f"  using a copy of {source} (written {trained}); training skipped")
        return model, Figure("training time", "skipped", f"model {source}")
    busy = warn_if_busy("the training time")
    model, seconds = train(workdir)
    console.print(f"  trained a fresh model in {seconds:,.1f} s (wall clock, empty cache)")
    return model, Figure(
        "training time (rasa train, empty cache)",
        f"{seconds:,.1f} s",
        f"{os.cpu_count()} CPUs"
        + (f"; another training was running ({len(busy)})" if busy else ""),
    )


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.nlu", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument(
        "--model",
        type=Path,
        help=f"evaluate this trained model instead of training one, e.g. {MODEL.relative_to(ROOT)}",
    )
    parser.add_argument("--skip-training", action="store_true", help="do not train; needs --model")
    parser.add_argument(
        "--conversations", type=int, default=20, help="counted conversations (after one warm-up)"
    )
    arguments = parser.parse_args(argv)
    if arguments.skip_training and arguments.model is None:
        parser.error("--skip-training needs --model PATH")
    if arguments.model is not None:
        if not arguments.model.is_file():
            parser.error(f"no model at {arguments.model}")
        arguments.skip_training = True
    if arguments.conversations < 1:
        parser.error("--conversations must be at least 1")
    return arguments


def print_summary(figures: list[Figure]) -> None:
    table = Table(title="assistant benchmark", title_justify="left")
    for column in ("figure", "value", "detail", "target", "met"):
        table.add_column(column, overflow="fold")
    for figure in figures:
        table.add_row(
            figure.measure, figure.value, figure.detail, figure.target, met_text(figure.met)
        )
    console.print(table)


def main(argv: Sequence[str] | None = None) -> None:
    arguments = parse_arguments(argv)
    sets = ", ".join(str(f.relative_to(ROOT)) for f in (HELDOUT, DEV) if f.exists())
    console.print(
        f"assistant benchmark: "
        f"{'model ' + str(arguments.model) if arguments.skip_training else 'a fresh model'}, "
        f"evaluation sets {sets}, {arguments.conversations} conversations"
    )
    figures: list[Figure] = []
    failed = False
    try:
        with tempfile.TemporaryDirectory(prefix="crmbot_bench_nlu_") as folder:
            workdir = Path(folder)
            console.rule("model")
            model, figure = prepare_model(arguments, workdir)
            figures.append(figure)
            for nlu_file in (HELDOUT, DEV):
                if nlu_file.exists():
                    console.rule(f"intent classification, {nlu_file.name}")
                    figures += bench_intents(model, workdir, nlu_file)
            console.rule("latency, whole conversations")
            figures += bench_latency(model, workdir, arguments.conversations)
            console.rule("Rasa's check of an action-server reply")
            figures += bench_reply_check()
    except KeyboardInterrupt:
        console.print("[red]interrupted[/]: servers stopped, temporary files removed")
        raise SystemExit(130) from None
    except (RuntimeError, TimeoutError, httpx.HTTPError) as error:
        console.print(f"[bold red]the benchmark could not finish[/]: {error}")
        failed = True
    console.rule("summary")
    print_summary(figures)
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
