"""What the assistant benchmark's parts share: paths, targets, figures and the console."""

from __future__ import annotations

import re
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console

from crm_store.models import (
    Language,
)
from tests.processes import ROOT

CONFIG = ROOT / "config.yml"
DOMAIN = ROOT / "domain.yml"
TRAINING_DATA = ROOT / "bot" / "data"
TRAINING_NLU = TRAINING_DATA / "nlu"
HELDOUT = ROOT / "bench" / "nlu_heldout.yml"
# Written apart from the training data in the customers' own style; scored when present.
DEV = ROOT / "bench" / "nlu_dev.yml"

MACRO_F1_TARGET = 0.90
P95_TARGET_SECONDS = 0.150
WORST_INTENTS = 5
SERVER_START_TIMEOUT = 300.0
FIRST_CHAT_ID = 7000
LANGUAGES = (Language.ZH_TW, Language.EN)
LANGUAGE_NAMES = {Language.ZH_TW: "zh-TW", Language.EN: "English"}

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")


# Wide enough for the tables when the output goes to a file or a pipe.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)


class BenchError(RuntimeError):
    """A step of the benchmark could not run (Rasa failed, a file is missing)."""


@dataclass(frozen=True, slots=True)
class Figure:
    """One line of the summary."""

    measure: str
    value: str
    detail: str = ""
    target: str = "—"
    met: bool | None = None


def met_text(met: bool | None) -> str:
    if met is None:
        return ""
    return "[green]yes[/]" if met else "[bold red]NO[/]"


def ms_text(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def percentile(values: Sequence[float], percent: int) -> float:
    """The `percent`th percentile, interpolated between the two nearest values."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]


def language_of(text: str) -> Language:
    """Chinese when the text holds any CJK character, else English."""
    return Language.ZH_TW if _CJK.search(text) else Language.EN
