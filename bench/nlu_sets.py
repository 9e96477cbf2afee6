"""Helpers of bench/nlu/: evaluation sets by script, per-label tables, the server's memory.

An evaluation set may hold Simplified Chinese as well as Traditional Chinese and English.
The live bot never shows Simplified text to the model: the gateway turns it into
Traditional first (`channels.rasa_client.to_traditional`). So the benchmark does the same
to a copy of the set before `rasa test nlu`, and scores each script apart by the text as
written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import opencc
import yaml
from rich.console import Console
from rich.table import Table

from channels.rasa_client import to_traditional

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")


class Script(Enum):
    """How an example is written."""

    TRADITIONAL = "zh-TW"
    ENGLISH = "English"
    SIMPLIFIED = "Simplified"


@lru_cache(maxsize=1)
def _simplified_to_traditional() -> opencc.OpenCC:
    # Characters to Taiwan's standard forms, no phrase changes: text it changes holds
    # Simplified characters. Plain "s2t" also changes Taiwan's own variants (床 to 牀).
    return opencc.OpenCC("s2tw")


def script_of(text: str) -> Script:
    """Simplified when any character has a different Traditional form, zh-TW for other
    Chinese text, else English. Text whose characters are the same in both scripts counts
    as zh-TW, which is what the model sees either way."""
    if not _CJK.search(text):
        return Script.ENGLISH
    if _simplified_to_traditional().convert(text) != text:
        return Script.SIMPLIFIED
    return Script.TRADITIONAL


def as_the_gateway_sends(
    source: Path, target: Path, plain: Callable[[str], str]
) -> dict[tuple[str, str], list[str]]:
    """Copy the NLU file `source` to `target` with every example converted as the gateway
    converts a customer's message.

    Returns the texts as written, by the text Rasa will report (`plain` of the converted
    example: its annotations removed) and the intent; one text as written per example.
    """
    document = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    written: dict[tuple[str, str], list[str]] = {}
    for block in document.get("nlu") or []:
        if not isinstance(block, dict) or "intent" not in block:
            continue
        lines = []
        for line in str(block.get("examples") or "").splitlines():
            stripped = line.strip()
            if stripped.startswith("-"):
                example = stripped[1:].strip()
                converted = to_traditional(example)
                key = (plain(converted), str(block["intent"]))
                written.setdefault(key, []).append(plain(example))
                lines.append(f"- {converted}")
        block["examples"] = "\n".join(lines) + "\n"
    target.write_text(
        yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    return written


class LabelScore(Protocol):
    """What a per-label table shows of one intent's score."""

    @property
    def intent(self) -> str: ...
    @property
    def support(self) -> int: ...
    @property
    def precision(self) -> float: ...
    @property
    def recall(self) -> float: ...
    @property
    def f1(self) -> float: ...


def print_label_table(console: Console, title: str, scores: Sequence[LabelScore]) -> None:
    """Precision, recall and F1 of every label, worst F1 first."""
    table = Table(title=title, title_justify="left")
    for column in ("intent", "n", "precision", "recall", "F1"):
        table.add_column(column)
    for score in sorted(scores, key=lambda s: (s.f1, s.intent)):
        table.add_row(
            score.intent,
            str(score.support),
            f"{score.precision:.2f}",
            f"{score.recall:.2f}",
            f"{score.f1:.2f}",
        )
    console.print(table)


# --- the Rasa server's memory ---------------------------------------------------------


def rasa_server_pid(port: int) -> int | None:
    """The process id of the `rasa run` serving on `port`, None when there is none."""
    wanted = str(port).encode()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if any(w.endswith(b"rasa") for w in words) and b"run" in words and wanted in words:
            return int(cmdline.parent.name)
    return None


def memory_mib(pid: int) -> dict[str, float]:
    """The process's resident memory now (VmRSS) and at its peak (VmHWM), in MiB."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024  # kB
    return fields
