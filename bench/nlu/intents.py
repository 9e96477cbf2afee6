"""Intent classification on an evaluation set: accuracy, macro-F1 and the worst intents."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rich.table import Table

from bench.nlu.common import (
    CONFIG,
    HELDOUT,
    MACRO_F1_TARGET,
    WORST_INTENTS,
    BenchError,
    Figure,
    console,
    met_text,
)
from bench.nlu.heldout import check_held_out, plain_text, read_examples
from bench.nlu.training import run_rasa, tail
from bench.nlu_sets import (
    Script,
    as_the_gateway_sends,
    print_label_table,
    script_of,
)


@dataclass(frozen=True, slots=True)
class Prediction:
    text: str
    intent: str
    predicted: str
    confidence: float

    @property
    def right(self) -> bool:
        return self.intent == self.predicted


@dataclass(frozen=True, slots=True)
class IntentScore:
    intent: str
    support: int
    precision: float
    recall: float
    f1: float
    missed_as: Counter[str]
    taken_from: Counter[str]


@dataclass(frozen=True, slots=True)
class Scores:
    examples: int
    accuracy: float
    macro_f1: float
    intents: list[IntentScore]


def predict(model: Path, workdir: Path, nlu_file: Path) -> list[Prediction]:
    """`rasa test nlu` on `nlu_file`; its successes and errors, as predictions.

    Rasa sees the examples as the gateway would send them (Simplified turned into
    Traditional); each prediction carries the text as written.
    """
    out = workdir / f"results-{nlu_file.stem}"
    sent = workdir / nlu_file.name
    written = as_the_gateway_sends(nlu_file, sent, plain_text)
    with console.status(f"  classifying {nlu_file.name} (rasa test nlu) ..."):
        seconds = run_rasa(
            [
                "test",
                "nlu",
                "--model",
                str(model),
                "--nlu",
                str(sent),
                "--out",
                str(out),
                "--successes",
                "--no-plot",
                "--no-warnings",
            ],
            log=workdir / f"test-nlu-{nlu_file.stem}.log",
        )
    console.print(f"  rasa test nlu took {seconds:,.1f} s")
    predictions: list[Prediction] = []
    for name in ("intent_successes.json", "intent_errors.json"):
        path = out / name
        if not path.exists():  # rasa writes no file when there is nothing to list
            continue
        for entry in json.loads(path.read_text(encoding="utf-8")):
            predicted: dict[str, Any] = entry.get("intent_prediction") or {}
            originals = written.get((str(entry["text"]), str(entry["intent"])))
            predictions.append(
                Prediction(
                    text=originals.pop() if originals else str(entry["text"]),
                    intent=str(entry["intent"]),
                    predicted=str(predicted.get("name")),
                    confidence=float(predicted.get("confidence") or 0.0),
                )
            )
    if not predictions:
        raise BenchError(
            f"rasa test nlu wrote no predictions:\n"
            f"{tail(workdir / f'test-nlu-{nlu_file.stem}.log')}"
        )
    return predictions


def score(predictions: Sequence[Prediction]) -> Scores:
    """Accuracy, and F1 per intent averaged over the intents among the gold labels."""
    intents: list[IntentScore] = []
    for intent in sorted({p.intent for p in predictions}):
        gold = [p for p in predictions if p.intent == intent]
        claimed = [p for p in predictions if p.predicted == intent]
        hits = sum(p.right for p in gold)
        precision = hits / len(claimed) if claimed else 0.0
        recall = hits / len(gold)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        intents.append(
            IntentScore(
                intent=intent,
                support=len(gold),
                precision=precision,
                recall=recall,
                f1=f1,
                missed_as=Counter(p.predicted for p in gold if not p.right),
                taken_from=Counter(p.intent for p in claimed if not p.right),
            )
        )
    return Scores(
        examples=len(predictions),
        accuracy=sum(p.right for p in predictions) / len(predictions),
        macro_f1=statistics.fmean(s.f1 for s in intents),
        intents=intents,
    )


def fallback_threshold() -> float:
    """The FallbackClassifier's threshold in config.yml (what the live bot would do)."""
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8")) or {}
    for component in config.get("pipeline") or []:
        if component.get("name") == "FallbackClassifier":
            return float(component.get("threshold", 0.3))
    return 0.0


def counter_text(counter: Counter[str]) -> str:
    return ", ".join(f"{name} ×{n}" if n > 1 else name for name, n in counter.most_common())


def worst_intents(scores: Scores) -> list[IntentScore]:
    return sorted(scores.intents, key=lambda s: (s.f1, s.intent))[:WORST_INTENTS]


def print_language_scores(
    name: str, predictions: Sequence[Prediction], scores: Scores, threshold: float
) -> None:
    unsure = [p for p in predictions if p.confidence < threshold]
    met = scores.macro_f1 >= MACRO_F1_TARGET
    console.print(
        f"  [bold]{name}[/]: {scores.examples} examples, accuracy {scores.accuracy:.1%}, "
        f"macro-F1 {scores.macro_f1:.3f} [target ≥ {MACRO_F1_TARGET:.2f}: {met_text(met)}]; "
        f"{len(unsure)} below the fallback threshold {threshold:g} "
        f"({sum(p.right for p in unsure)} of them right)"
    )
    table = Table(title=f"{name}: the {WORST_INTENTS} worst intents", title_justify="left")
    for column in ("intent", "n", "precision", "recall", "F1", "missed as", "taken from"):
        table.add_column(column, overflow="fold")
    for intent in worst_intents(scores):
        table.add_row(
            intent.intent,
            str(intent.support),
            f"{intent.precision:.2f}",
            f"{intent.recall:.2f}",
            f"{intent.f1:.2f}",
            counter_text(intent.missed_as),
            counter_text(intent.taken_from),
        )
    console.print(table)
    errors = [p for p in predictions if not p.right]
    if errors:
        table = Table(title=f"{name}: every wrong prediction", title_justify="left")
        for column in ("text", "intent", "predicted", "confidence"):
            table.add_column(column, overflow="fold")
        for p in sorted(errors, key=lambda p: (p.intent, p.text)):
            table.add_row(p.text, p.intent, p.predicted, f"{p.confidence:.2f}")
        console.print(table)


def bench_intents(model: Path, workdir: Path, nlu_file: Path) -> list[Figure]:
    """Scores on one evaluation set: per script as written, per label, overall."""
    name = nlu_file.stem
    examples = read_examples(nlu_file)
    figures = check_held_out(examples) if nlu_file == HELDOUT else []
    predictions = predict(model, workdir, nlu_file)
    if len(predictions) != len(examples):
        console.print(
            f"  [yellow]rasa returned {len(predictions)} predictions "
            f"for {len(examples)} examples of {nlu_file.name}[/]"
        )
    threshold = fallback_threshold()
    for script in Script:
        chosen = [p for p in predictions if script_of(p.text) is script]
        if not chosen:
            if script is not Script.SIMPLIFIED:  # most sets have none
                figures.append(Figure(f"{name}: {script.value} intents", "no examples"))
            continue
        scores = score(chosen)
        print_language_scores(f"{name}, {script.value}", chosen, scores, threshold)
        print_label_table(console, f"{name}, {script.value}: every intent", scores.intents)
        figures += [
            Figure(
                f"{name}: {script.value} intent accuracy",
                f"{scores.accuracy:.1%}",
                f"{sum(p.right for p in chosen)} of {len(chosen)}",
            ),
            Figure(
                f"{name}: {script.value} intent macro-F1",
                f"{scores.macro_f1:.3f}",
                "worst: " + ", ".join(f"{s.intent} {s.f1:.2f}" for s in worst_intents(scores)),
                f"≥ {MACRO_F1_TARGET:.2f}",
                scores.macro_f1 >= MACRO_F1_TARGET,
            ),
        ]
    overall = score(predictions)
    console.print(
        f"  [bold]{name}, overall[/]: {overall.examples} examples, "
        f"accuracy {overall.accuracy:.1%}, macro-F1 {overall.macro_f1:.3f}"
    )
    complaints = [p for p in predictions if p.intent.startswith("complain")]
    figures += [
        Figure(
            f"{name}: overall intent accuracy / macro-F1",
            f"{overall.accuracy:.1%} / {overall.macro_f1:.3f}",
            f"{sum(p.right for p in predictions)} of {len(predictions)} right",
        ),
        Figure(
            f"{name}: recall of the complain* intents",
            f"{sum(p.right for p in complaints) / len(complaints):.1%}" if complaints else "—",
            f"{sum(p.right for p in complaints)} of {len(complaints)}",
        ),
    ]
    return figures
