"""The parts of the shop's policy table (bot/policy.yml) the console offers staff.

The bot and the console read the same file, so an agent resolving a case picks from
the root causes the bot uses, and the survey follows the same delay.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

POLICY_FILE = Path(__file__).resolve().parent.parent / "bot" / "policy.yml"


@dataclass(frozen=True)
class ConsolePolicy:
    root_causes: tuple[str, ...]
    survey_after_days: int


@lru_cache(maxsize=1)
def console_policy(path: Path = POLICY_FILE) -> ConsolePolicy:
    table = yaml.safe_load(path.read_text(encoding="utf-8"))
    causes: list[str] = []
    for spec in table["root_causes"].values():
        causes.append(spec["default"]["cause"])
        causes.extend(cause["cause"] for cause in spec.get("causes", []))
    return ConsolePolicy(
        root_causes=tuple(dict.fromkeys(causes)),
        survey_after_days=int(table["survey_after_days"]),
    )
