"""The NLU development and held-out sets stay apart from the training data.

bench/nlu_dev.yml holds real-style customer messages (zh-TW, English and Simplified
Chinese as typed) used to measure the NLU; bench/nlu_heldout.yml is the older held-out
benchmark. A sentence that is also in bot/data/nlu would make both numbers lie.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import opencc
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TRAINING_DIR = ROOT / "bot" / "data" / "nlu"
DEV_SET = ROOT / "bench" / "nlu_dev.yml"
HELDOUT_SET = ROOT / "bench" / "nlu_heldout.yml"
DOMAIN = ROOT / "domain.yml"

# `[text](entity)` or `[text]{"entity": ..., "value": ...}` -> text
_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")
_HAN = re.compile(r"[\u3100-\u312f\u3400-\u4dbf\u4e00-\u9fff]")


def _examples(path: Path) -> list[tuple[str, str]]:
    """(intent, example as written) for every intent example in a Rasa NLU file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    found = []
    for block in data.get("nlu") or []:
        if "intent" not in block:
            continue
        for line in str(block.get("examples", "")).splitlines():
            line = line.strip()
            if line.startswith("- "):
                found.append((block["intent"], line[2:]))
    return found


def _normalise(example: str) -> str:
    return _ANNOTATION.sub(r"\1", example).strip().lower()


@cache
def _s2twp() -> opencc.OpenCC:
    return opencc.OpenCC("s2twp")


def _language(example: str) -> str:
    """'en', 'zh-TW' or 'zh-CN': Chinese that OpenCC s2twp changes is Simplified."""
    text = _ANNOTATION.sub(r"\1", example).strip()
    if not _HAN.search(text):
        return "en"
    return "zh-CN" if _s2twp().convert(text) != text else "zh-TW"


@cache
def _training_sentences() -> frozenset[str]:
    files = sorted(TRAINING_DIR.glob("*.yml")) + sorted(TRAINING_DIR.glob("*.yaml"))
    assert files, f"no training files in {TRAINING_DIR}"
    return frozenset(_normalise(text) for path in files for _, text in _examples(path))


@cache
def _domain_intents() -> frozenset[str]:
    domain = yaml.safe_load(DOMAIN.read_text(encoding="utf-8"))
    return frozenset(
        next(iter(item)) if isinstance(item, dict) else str(item) for item in domain["intents"]
    )


EVALUATION_SETS = [pytest.param(DEV_SET, id="dev"), pytest.param(HELDOUT_SET, id="heldout")]


@pytest.mark.parametrize("path", EVALUATION_SETS)
def test_no_evaluation_sentence_is_also_a_training_sentence(path: Path) -> None:
    training = _training_sentences()
    leaked = sorted({text for _, text in _examples(path) if _normalise(text) in training})
    assert not leaked, f"{path.name} sentences found in bot/data/nlu: {leaked}"


def test_dev_set_does_not_repeat_the_heldout_set() -> None:
    heldout = {_normalise(text) for _, text in _examples(HELDOUT_SET)}
    repeated = sorted({text for _, text in _examples(DEV_SET) if _normalise(text) in heldout})
    assert not repeated, f"dev sentences also in nlu_heldout.yml: {repeated}"


@pytest.mark.parametrize("path", EVALUATION_SETS)
def test_every_evaluation_label_is_an_intent_of_the_domain(path: Path) -> None:
    unknown = sorted({intent for intent, _ in _examples(path)} - _domain_intents())
    assert not unknown, f"{path.name} uses intents missing from domain.yml: {unknown}"


def test_dev_set_has_enough_messages_in_each_language() -> None:
    counts = {"en": 0, "zh-TW": 0, "zh-CN": 0}
    for _, text in _examples(DEV_SET):
        counts[_language(text)] += 1
    assert counts["zh-TW"] >= 300, counts
    assert counts["en"] >= 300, counts
    assert counts["zh-CN"] >= 100, counts


def test_dev_set_has_no_duplicate_messages() -> None:
    seen: set[str] = set()
    duplicates = []
    for _, text in _examples(DEV_SET):
        key = _normalise(text)
        if key in seen:
            duplicates.append(text)
        seen.add(key)
    assert not duplicates, duplicates


def test_simplified_and_traditional_are_told_apart_by_opencc() -> None:
    assert _language("我的订单发货了吗") == "zh-CN"
    assert _language("我的訂單出貨了嗎") == "zh-TW"
    assert _language("where is my order [A1234567](order_number)") == "en"
