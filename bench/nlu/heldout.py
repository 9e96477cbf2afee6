"""The held-out examples, and the check that none of them is in the training data."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.nlu.common import TRAINING_NLU, Figure, console, language_of, met_text
from crm_store.models import (
    Language,
)

# `[text](entity)` and `[text]{"entity": ..., "value": ...}` in Rasa's YAML examples.
_ANNOTATION = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    intent: str


def plain_text(example: str) -> str:
    """An example as the customer would type it: entity annotations removed."""
    return _ANNOTATION.sub(r"\1", example).strip()


def read_examples(path: Path) -> list[Example]:
    """The intent examples of one Rasa NLU YAML file."""
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    examples: list[Example] = []
    for block in document.get("nlu") or []:
        if not isinstance(block, dict) or "intent" not in block:
            continue
        for line in str(block.get("examples") or "").splitlines():
            line = line.strip()
            if line.startswith("-"):
                examples.append(Example(plain_text(line[1:]), str(block["intent"])))
    return examples


def normalised(text: str) -> str:
    """Letters and digits only, case-folded, to catch copies that differ in case, spacing or
    punctuation; text without letters or digits (emoji) only loses its spaces."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(c for c in folded if c.isalnum()) or "".join(folded.split())


def check_held_out(heldout: list[Example]) -> list[Figure]:
    """How many held-out examples per language, and that none is in the training data."""
    training = [e for path in sorted(TRAINING_NLU.glob("*.yml")) for e in read_examples(path)]
    training_texts = {e.text for e in training}
    training_normalised = {normalised(e.text): e for e in training}
    verbatim = [e for e in heldout if e.text in training_texts]
    near = [
        (e, training_normalised[normalised(e.text)])
        for e in heldout
        if e.text not in training_texts and normalised(e.text) in training_normalised
    ]
    counts = Counter(language_of(e.text) for e in heldout)
    duplicates = [text for text, n in Counter(e.text for e in heldout).items() if n > 1]
    console.print(
        f"  held-out examples: {len(heldout)} ({counts[Language.ZH_TW]} zh-TW, "
        f"{counts[Language.EN]} English) over {len({e.intent for e in heldout})} intents; "
        f"training examples: {len(training)}"
    )
    if duplicates:
        console.print(f"  [yellow]repeated within the held-out set[/]: {duplicates}")
    for example in verbatim:
        console.print(f"  [bold red]in the training data verbatim[/]: {example.text!r}")
    for example, twin in near:
        console.print(
            f"  [yellow]near copy of a training example[/]: {example.text!r} "
            f"~ {twin.text!r} ({twin.intent})"
        )
    console.print(
        f"  held out for real: {len(verbatim)} verbatim in the training data "
        f"{met_text(not verbatim)}; {len(near)} differ only in case, spacing or punctuation"
    )
    return [
        Figure(
            "held-out examples",
            f"{counts[Language.ZH_TW]} zh-TW, {counts[Language.EN]} English",
            f"{len({e.intent for e in heldout})} intents; {len(training)} training examples",
        ),
        Figure(
            "held-out texts found verbatim in training",
            str(len(verbatim)),
            f"{len(near)} more differ only in case, spacing or punctuation",
            "0",
            not verbatim,
        ),
    ]
