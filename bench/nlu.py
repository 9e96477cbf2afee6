"""Benchmark of the assistant: how well it understands, and how fast it answers.

    .venv/bin/python -m bench.nlu [--model PATH] [--skip-training] [--conversations 20]

1. Trains a fresh model from bot/data with config.yml and domain.yml into a temporary
   folder (with its own, empty Rasa cache, so nothing is reused) and times it. With
   ``--skip-training --model PATH`` it uses a copy of that model instead.
2. Runs ``rasa test nlu`` on bench/nlu_heldout.yml, examples the model never trains on
   (checked here: none appears verbatim in bot/data/nlu), and on bench/nlu_dev.yml when it
   exists (customer-style messages). Simplified Chinese is turned into Traditional first,
   as the gateway does (see bench/nlu_sets.py). It computes intent accuracy, macro-F1 and
   every intent's precision, recall and F1 for zh-TW, English and Simplified separately,
   and the recall of the complaint intents.
3. Starts the real action server and Rasa server on a fresh, migrated SQLite store, and
   drives whole conversations one at a time through `RasaClient.send` (greeting, order
   status, a delivery complaint through all eight steps, thanks, goodbye), in Chinese and
   English by turns, timing every message's round trip. Where the time goes comes from
   the timestamps of the tracker's events. Then reads the Rasa server's resident memory.
4. Times Rasa's own check of one action-server reply (``jsonschema.validate`` against
   its response schema), which Rasa runs after every custom action; the installed
   jsonschema version decides most of it (see requirements-rasa.txt).

It prints figures and a summary with the targets; it never asserts. Everything it makes
lives in a temporary folder, removed at the end with the servers stopped, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bench.nlu_sets import (
    Script,
    as_the_gateway_sends,
    memory_mib,
    print_label_table,
    rasa_server_pid,
    script_of,
)
from channels.rasa_client import RasaClient
from crm_store import migrate
from crm_store.db import make_engine, make_session_factory
from crm_store.models import (
    Language,
    Ticket,
    TicketStatus,
)
from tests.factories import make_customer_with_late_order
from tests.processes import MODEL, RASA, RASA_ENV, ROOT, assistant_servers

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
# `[text](entity)` and `[text]{"entity": ..., "value": ...}` in Rasa's YAML examples.
_ANNOTATION = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")

# Wide enough for the tables when the output goes to a file or a pipe.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)


class BenchError(RuntimeError):
    """A step of the benchmark could not run (Rasa failed, a file is missing)."""


# --- figures ------------------------------------------------------------------------


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


# --- running Rasa -------------------------------------------------------------------


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


# --- held-out data ------------------------------------------------------------------


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


# --- intent classification ----------------------------------------------------------


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


# --- conversations ------------------------------------------------------------------


def script(language: Language, order_number: str) -> list[str]:
    """One customer's visit: hello, where is my order, a delivery complaint, thanks, bye."""
    if language is Language.ZH_TW:
        return [
            "你好",
            f"請問訂單 {order_number} 現在到哪裡了？",
            f"我的包裹 {order_number} 已經超過三天了還沒到！！",
            "黑貓的網站也一直查不到，真的很誇張",
            "沒有了",
            "我要退款",
            "對",
            "1",
            "謝謝你",
            "掰掰",
        ]
    return [
        "hi",
        f"where is my order {order_number}?",
        "my parcel still hasn't arrived, it's been days!!",
        "no that's all",
        "yes",
        "I'd like a replacement please",
        "yes, correct",
        "free shipping please",
        "thanks a lot",
        "bye",
    ]


@dataclass(frozen=True, slots=True)
class Exchange:
    """One message and its replies, with where the time went."""

    conversation: int
    language: Language
    text: str
    seconds: float
    replies: int
    intent: str
    confidence: float
    # Seconds from the previous step (or from sending) until Rasa logged the user message:
    # HTTP for the language slot and the message, and NLU.
    understood: float | None
    # Each action Rasa ran (action_listen too), with the seconds since the previous step:
    # predicting it, running it, and for custom actions the call to the action server.
    actions: tuple[tuple[str, float], ...]
    # Seconds from the last step until the replies were back.
    returned: float
    custom: bool


def custom_action_names() -> frozenset[str]:
    """Actions that call the action server: the domain's custom actions and its forms
    (every form has a ``validate_`` action)."""
    domain = yaml.safe_load(DOMAIN.read_text(encoding="utf-8")) or {}
    return frozenset(str(name) for name in domain.get("actions") or []) | frozenset(
        str(name) for name in domain.get("forms") or {}
    )


def timed_exchange(
    client: RasaClient,
    api: httpx.Client,
    *,
    conversation: int,
    sender: str,
    text: str,
    language: Language,
    seen_events: int,
    custom: frozenset[str],
) -> tuple[Exchange, int]:
    """Send one message, time it, and read the tracker's new events for the breakdown."""
    wall_start = time.time()
    start = time.perf_counter()
    replies = client.send(sender, text, language=language)
    seconds = time.perf_counter() - start
    response = api.get(f"/conversations/{sender}/tracker", params={"include_events": "ALL"})
    response.raise_for_status()
    events: list[dict[str, Any]] = response.json().get("events") or []
    # Rasa stamps every event when it logs it. A user message is logged once understood,
    # an action once it has run; what it returned (slots, replies) is logged just after.
    # So user and action events mark the steps, and each step lasts from the one before.
    latest = wall_start
    intent, confidence = "", 0.0
    understood: float | None = None
    actions: list[tuple[str, float]] = []
    for event in events[seen_events:]:
        kind = event.get("event")
        if kind not in ("user", "action"):
            continue
        stamp = float(event.get("timestamp") or latest)
        if kind == "user":
            ranked = (event.get("parse_data") or {}).get("intent") or {}
            intent = str(ranked.get("name"))
            confidence = float(ranked.get("confidence") or 0.0)
            understood = max(stamp - latest, 0.0)
        else:
            actions.append((str(event.get("name")), max(stamp - latest, 0.0)))
        latest = max(latest, stamp)
    exchange = Exchange(
        conversation=conversation,
        language=language,
        text=text,
        seconds=seconds,
        replies=len(replies),
        intent=intent,
        confidence=confidence,
        understood=understood,
        actions=tuple(actions),
        returned=max(wall_start + seconds - latest, 0.0),
        custom=any(name in custom for name, _ in actions),
    )
    return exchange, len(events)


@contextmanager
def assistant(model: Path, workdir: Path) -> Iterator[tuple[str, sessionmaker[Session]]]:
    """The action server and the Rasa server on a fresh store; yields Rasa's URL and
    a session factory on the store. Prints the servers' log tails if they fail to start."""
    database_url = f"sqlite:///{workdir / 'crmbot.db'}"
    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    try:
        with ExitStack() as servers:
            try:
                with console.status("  starting the action server and the Rasa server ..."):
                    rasa_url = servers.enter_context(
                        assistant_servers(
                            model=model,
                            folder=workdir,
                            database_url=database_url,
                            timeout=SERVER_START_TIMEOUT,
                        )
                    )
            except TimeoutError:
                for log in ("actions.log", "rasa.log"):
                    console.print(f"  [red]{log}[/]:\n{tail(workdir / log)}")
                raise
            yield rasa_url, make_session_factory(engine)
    finally:
        engine.dispose()


def ticket_status(store: sessionmaker[Session], customer_id: int) -> TicketStatus | None:
    """The status of the customer's latest ticket, None when there is none."""
    with store() as session:
        ticket = session.scalars(
            select(Ticket).where(Ticket.customer_id == customer_id).order_by(Ticket.id.desc())
        ).first()
        return ticket.status if ticket else None


def drive(
    rasa_url: str, store: sessionmaker[Session], conversations: int
) -> tuple[list[Exchange], list[str]]:
    """One warm-up conversation, then `conversations` counted ones, one at a time.

    Returns the counted exchanges and, for every counted conversation whose complaint
    did not end with a resolved ticket, what went wrong.
    """
    custom = custom_action_names()
    exchanges: list[Exchange] = []
    unfinished: list[str] = []
    with (
        RasaClient(rasa_url, timeout=60) as client,
        httpx.Client(base_url=rasa_url, timeout=60) as api,
        Progress(
            TextColumn("  {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress,
    ):
        task = progress.add_task("conversations", total=conversations + 1)
        for number in range(conversations + 1):  # 0 is the warm-up
            language = LANGUAGES[number % 2]
            chat_id = str(FIRST_CHAT_ID + number)
            with store() as session:
                customer_id, order_number = make_customer_with_late_order(
                    session,
                    chat_id=chat_id,
                    language=language,
                    name=f"測試客人{number}" if language is Language.ZH_TW else f"Bench {number}",
                )
            sender = f"telegram:{chat_id}"
            seen = 0
            start = time.perf_counter()
            for text in script(language, order_number):
                exchange, seen = timed_exchange(
                    client,
                    api,
                    conversation=number,
                    sender=sender,
                    text=text,
                    language=language,
                    seen_events=seen,
                    custom=custom,
                )
                if number:
                    exchanges.append(exchange)
            status = ticket_status(store, customer_id)
            if number == 0:
                progress.console.print(
                    f"  warm-up conversation ({LANGUAGE_NAMES[language]}): "
                    f"{time.perf_counter() - start:,.1f} s, ticket {status or 'none'}; not counted"
                )
            elif status is not TicketStatus.RESOLVED:
                unfinished.append(f"{sender} ({LANGUAGE_NAMES[language]}): ticket {status}")
            progress.advance(task)
    return exchanges, unfinished


def timing_row(label: str, values: Sequence[float], total: float | None = None) -> list[str]:
    if not values:
        return [label, "0", "", "", "", ""]
    share = f"{sum(values) / total:.0%}" if total else ""
    return [
        label,
        str(len(values)),
        ms_text(statistics.median(values)),
        ms_text(percentile(values, 95)),
        ms_text(max(values)),
        share,
    ]


def print_transcript(exchanges: Sequence[Exchange]) -> None:
    first = exchanges[0]
    table = Table(
        title=f"conversation {first.conversation} ({LANGUAGE_NAMES[first.language]})",
        title_justify="left",
    )
    for column in ("message", "intent", "actions (ms, prediction + run)", "round trip"):
        table.add_column(column, overflow="fold")
    for exchange in exchanges:
        table.add_row(
            exchange.text,
            f"{exchange.intent} {exchange.confidence:.2f}",
            ", ".join(
                f"{name} {seconds * 1000:.0f}"
                for name, seconds in exchange.actions
                if name != "action_listen"
            ),
            ms_text(exchange.seconds),
        )
    console.print(table)


def print_breakdown(exchanges: Sequence[Exchange]) -> None:
    """Where the time goes, from the tracker's event timestamps."""
    total = sum(e.seconds for e in exchanges)
    per_action: dict[str, list[float]] = {}
    for exchange in exchanges:
        for name, seconds in exchange.actions:
            per_action.setdefault(name, []).append(seconds)
    table = Table(
        title="where the time goes: each step from the one before (tracker event timestamps)",
        title_justify="left",
    )
    for column in ("part", "n", "p50", "p95", "max", "share of all time"):
        table.add_column(column, overflow="fold")
    table.add_row(
        *timing_row(
            "user message understood (HTTP ×2, language slot, NLU)",
            [e.understood for e in exchanges if e.understood is not None],
            total,
        )
    )
    for name, values in sorted(per_action.items(), key=lambda item: -sum(item[1])):
        label = "predicting action_listen" if name == "action_listen" else name
        table.add_row(*timing_row(f"  {label}", values, total))
    table.add_row(*timing_row("replies back to the client", [e.returned for e in exchanges], total))
    console.print(table)


def bench_latency(model: Path, workdir: Path, conversations: int) -> list[Figure]:
    warn_if_busy("the latency")
    with assistant(model, workdir) as (rasa_url, store):
        load_before = os.getloadavg()[0]
        exchanges, unfinished = drive(rasa_url, store, conversations)
        load_after = os.getloadavg()[0]
        pid = rasa_server_pid(httpx.URL(rasa_url).port or 0)
        memory = memory_mib(pid) if pid else {}
    load = (
        f"load average {load_before:.1f} before, {load_after:.1f} after, on {os.cpu_count()} CPUs"
    )
    console.print(f"  {load} (Rasa and the action server use about one CPU together)")
    shown = sorted(
        {
            next(e.conversation for e in exchanges if e.language is language)
            for language in {e.language for e in exchanges}
        }
    )
    for conversation in shown:
        print_transcript([e for e in exchanges if e.conversation == conversation])
    print_breakdown(exchanges)
    fallbacks = [
        e
        for e in exchanges
        if e.intent == "nlu_fallback"
        or any(name == "action_handle_fallback" for name, _ in e.actions)
    ]
    for exchange in fallbacks:
        console.print(
            f"  [yellow]fallback[/] in conversation {exchange.conversation}: {exchange.text!r}"
        )
    silent = [e for e in exchanges if not e.replies]
    for exchange in silent:
        console.print(
            f"  [bold red]no reply[/] in conversation {exchange.conversation}: {exchange.text!r}"
        )
    for problem in unfinished:
        console.print(f"  [bold red]complaint not resolved[/]: {problem}")

    groups = (
        ("all messages", [e.seconds for e in exchanges]),
        ("with custom actions", [e.seconds for e in exchanges if e.custom]),
        ("responses only", [e.seconds for e in exchanges if not e.custom]),
    )
    table = Table(
        title=f"round trip per message (RasaClient.send), {conversations} conversations",
        title_justify="left",
    )
    for column in ("messages", "n", "p50", "p95", "max", ""):
        table.add_column(column)
    for label, values in groups:
        table.add_row(*timing_row(label, values))
    console.print(table)

    figures: list[Figure] = []
    target = f"< {ms_text(P95_TARGET_SECONDS)}"
    for label, values in groups:
        if not values:
            continue
        p95 = percentile(values, 95)
        everything = label == "all messages"
        figures.append(
            Figure(
                f"round trip p95, {label}",
                ms_text(p95),
                f"p50 {ms_text(statistics.median(values))}, max {ms_text(max(values))}; "
                f"{len(values)} messages" + (f"; {load}" if everything else ""),
                target if everything else "—",
                p95 < P95_TARGET_SECONDS if everything else None,
            )
        )
    if memory:
        console.print(
            f"  Rasa server (pid {pid}): resident {memory['VmRSS']:,.0f} MiB after the "
            f"conversations, peak {memory['VmHWM']:,.0f} MiB"
        )
    figures.append(
        Figure(
            "Rasa server memory (resident, VmRSS)",
            f"{memory['VmRSS']:,.0f} MiB" if memory else "not found",
            f"peak {memory['VmHWM']:,.0f} MiB (VmHWM), after the conversations"
            if memory
            else "no `rasa run` process on the server's port",
        )
    )
    figures.append(
        Figure(
            "complaints resolved (ticket RESOLVED)",
            f"{conversations - len(unfinished)} of {conversations}",
            f"{len(fallbacks)} messages fell back, {len(silent)} got no reply",
            "all",
            not unfinished,
        )
    )
    return figures


# Run inside .venv-rasa: time RemoteAction's validation of a typical action reply.
_REPLY_CHECK = """
import importlib.metadata, json, statistics, sys, time
from rasa.core.actions.action import RemoteAction
reply = {
    "events": [
        {"event": "slot", "timestamp": None, "name": "complaint_stage", "value": "listen"},
        {"event": "slot", "timestamp": None, "name": "ticket_id", "value": 12},
        {"event": "active_loop", "timestamp": None, "name": None},
    ],
    "responses": [{"response": "utter_ask_anything_else", "text": None}],
}
check = RemoteAction("action_listen_to_complaint", None)
seconds = []
for _ in range(int(sys.argv[1])):
    start = time.perf_counter()
    check._validate_action_result(reply)
    seconds.append(time.perf_counter() - start)
print(json.dumps({"version": importlib.metadata.version("jsonschema"),
                  "median": statistics.median(seconds), "max": max(seconds)}))
"""
REPLY_CHECK_RUNS = 50


def bench_reply_check() -> list[Figure]:
    """Rasa's schema check of one action-server reply, run in the Rasa environment."""
    completed = subprocess.run(
        [str(RASA.parent / "python"), "-c", _REPLY_CHECK, str(REPLY_CHECK_RUNS)],
        capture_output=True,
        text=True,
        env={**os.environ, **RASA_ENV},
        check=False,
    )
    if completed.returncode != 0:
        raise BenchError(f"timing Rasa's reply check failed:\n{completed.stderr[-3000:]}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    console.print(
        f"  jsonschema {result['version']}: median {ms_text(result['median'])} per reply, "
        f"max {ms_text(result['max'])} ({REPLY_CHECK_RUNS} runs)"
    )
    return [
        Figure(
            "Rasa's check of one action-server reply",
            ms_text(result["median"]),
            f"median of {REPLY_CHECK_RUNS}, jsonschema {result['version']}; "
            "runs once per custom action (20-25 ms under jsonschema 4.17)",
        )
    ]


# --- the run ------------------------------------------------------------------------


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
