"""The latency figures of whole conversations: per message, where the time goes, memory."""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence
from pathlib import Path

import httpx
from rich.table import Table

from bench.nlu.common import (
    LANGUAGE_NAMES,
    P95_TARGET_SECONDS,
    Figure,
    console,
    ms_text,
    percentile,
)
from bench.nlu.conversations import Exchange, assistant, drive
from bench.nlu.training import warn_if_busy
from bench.nlu_sets import (
    memory_mib,
    rasa_server_pid,
)


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
