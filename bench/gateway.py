"""Benchmark of the gateway: what it adds on top of Rasa, for Telegram and SMS.

    .venv/bin/python -m bench.gateway [--messages 150] [--concurrency 8] [--rounds 2]
                                      [--single 60]

Starts the real action server and Rasa server on a fresh SQLite store, the gateway
(uvicorn, its own process, as in the Procfile) in front of them, and fake Telegram and
Twilio servers on loopback that the real python-telegram-bot and twilio clients send to.
Then, in rounds, the same messages (questions in Chinese and English: opening hours,
payment, delivery, returns, an order look-up, greetings) go

- straight to Rasa's REST channel (the baseline), timed from request to response;
- as Telegram webhooks to the gateway, timed until the fake Telegram gets the reply;
- as signed Twilio webhooks, timed until the fake Twilio gets the reply;

each from `--concurrency` customers at once, every message from a new customer, so the
gateway's first-contact work (customer, identity, conversation) is in every figure.
The gateway's burst window (which waits for a customer's next quick message on
purpose) is set to 0 here: the benchmark measures the gateway's own cost.

It prints p50/p95 latency and throughput for each path and the ratios to Rasa's own,
with the targets (throughput ≥ 0.9 × Rasa's, p95 ≤ 1.2 × Rasa's). Then `--single`
messages per path go one at a time, the paths taking turns, for the median the gateway
adds to a message when nothing else is going on (target ≤ 5 ms). It never asserts.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from crm_store import migrate
from tests.fakes import (
    FakeTelegram,
    FakeTwilio,
    telegram_text_update,
    twilio_signature,
    twilio_sms_form,
)
from tests.processes import MODEL, RASA_ENV, assistant_servers, free_port, running

MESSAGES = [
    "你們幾點開門？",
    "請問可以用信用卡付款嗎",
    "運費怎麼算",
    "我想退貨要怎麼辦",
    "我的訂單 A1234567 到哪了",
    "你好",
    "what time do you open?",
    "can I pay with apple pay",
    "how long does delivery take",
    "how do I return something",
    "where is my order A7654321",
    "hi there",
]
SECRET = "bench-webhook-secret"
SHOP_NUMBER = "+15005550006"


@dataclass
class Run:
    name: str
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    failures: int = 0

    def add(self, other: Run) -> None:
        self.latencies += other.latencies
        self.seconds += other.seconds
        self.failures += other.failures

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, q: int) -> float:
        return statistics.quantiles(self.latencies, n=100)[q - 1] * 1000

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies) * 1000


def drive(name: str, count: int, concurrency: int, one: Callable[[int], float]) -> Run:
    """`count` calls of `one(i)` (each returns its latency) from `concurrency` threads."""
    run = Run(name)
    lock = threading.Lock()

    def work(i: int) -> None:
        try:
            latency = one(i)
        except Exception as error:  # a benchmark reports failures, it does not stop
            with lock:
                run.failures += 1
            print(f"{name} message {i} failed: {error!r}", file=sys.stderr)
            return
        with lock:
            run.latencies.append(latency)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(work, range(count)))
    run.seconds = time.perf_counter() - started
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=150, help="per path and round")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--single", type=int, default=60, help="per path, one at a time")
    args = parser.parse_args()
    console = Console()
    if not MODEL.exists():
        sys.exit("no trained model: run `make train`")

    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as folder_name, ExitStack() as stack:
        folder = Path(folder_name)
        database_url = f"sqlite:///{folder / 'crmbot.db'}"
        migrate.upgrade(database_url)
        telegram = stack.enter_context(FakeTelegram())
        twilio = stack.enter_context(FakeTwilio())
        with console.status("starting Rasa, the action server and the gateway…"):
            rasa_url = stack.enter_context(
                assistant_servers(model=MODEL, folder=folder, database_url=database_url)
            )
            port = free_port()
            gateway_url = f"http://127.0.0.1:{port}"
            env = {
                **RASA_ENV,
                "DATABASE_URL": database_url,
                "RASA_URL": rasa_url,
                "PUBLIC_BASE_URL": gateway_url,
                **telegram.settings_env(webhook_secret=SECRET),
                **twilio.settings_env(from_number=SHOP_NUMBER),
                # Real sending limits (and the gateway's share of them, which campaigns
                # leave) would measure the providers' pace, not the gateway's.
                "TWILIO_SEGMENTS_PER_SECOND": "10000",
                "TELEGRAM_MESSAGES_PER_SECOND": "10000",
                "BURST_WINDOW_SECONDS": "0",
                "HOLDING_REPLY_AFTER_SECONDS": "60",
            }
            command = [
                sys.executable,
                "-m",
                "uvicorn",
                "channels.gateway:create_app",
                "--factory",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ]
            stack.enter_context(
                running(
                    command, ready_url=f"{gateway_url}/healthz", log=folder / "gateway.log", env=env
                )
            )
        measure(console, args, rasa_url, gateway_url, telegram, twilio)


def measure(
    console: Console,
    args: argparse.Namespace,
    rasa_url: str,
    gateway_url: str,
    telegram: FakeTelegram,
    twilio: FakeTwilio,
) -> None:
    ids = itertools.count(1)
    http = httpx.Client(timeout=60, limits=httpx.Limits(max_connections=64))

    def text(i: int) -> str:
        return MESSAGES[i % len(MESSAGES)]

    def straight_to_rasa(i: int) -> float:
        sender = f"telegram:{900_000_000 + next(ids)}"
        started = time.perf_counter()
        response = http.post(
            f"{rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": text(i)}
        )
        response.raise_for_status()
        assert response.json(), "Rasa gave no reply"
        return time.perf_counter() - started

    def over_telegram(i: int) -> float:
        chat_id = 900_000_000 + next(ids)
        update = telegram_text_update(chat_id, chat_id, text(i))
        started = time.monotonic()
        response = http.post(
            f"{gateway_url}/telegram/webhook",
            json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        )
        response.raise_for_status()
        reply = telegram.wait_for_sent(chat_id, timeout=60)[0]
        return reply["at"] - started

    def over_sms(i: int) -> float:
        n = next(ids)
        phone = f"+8869{n:08d}"
        form = twilio_sms_form(
            f"SM{n:032x}", phone, SHOP_NUMBER, text(i), account_sid=twilio.account_sid
        )
        url = f"{gateway_url}/sms/twilio"
        signature = twilio_signature(url, form, twilio.auth_token)
        started = time.monotonic()
        response = http.post(url, data=form, headers={"X-Twilio-Signature": signature})
        response.raise_for_status()
        reply = twilio.wait_for_sent(phone, timeout=60)[0]
        return reply["at"] - started

    paths = {"Rasa REST": straight_to_rasa, "Telegram": over_telegram, "SMS": over_sms}
    totals = {name: Run(name) for name in paths}
    # Warm every path up (model graphs, connection pools, SQLite pages).
    for name, one in paths.items():
        drive(name, 2 * args.concurrency, args.concurrency, one)
    with Progress(console=console) as progress:
        task = progress.add_task("measuring", total=args.rounds * len(paths))
        for _ in range(args.rounds):
            for name, one in paths.items():
                totals[name].add(drive(name, args.messages, args.concurrency, one))
                progress.advance(task)
        alone = {name: Run(name) for name in paths}
        task = progress.add_task("one at a time", total=args.single)
        for _ in range(args.single):
            for name, one in paths.items():
                alone[name].add(drive(name, 1, 1, one))
            progress.advance(task)
    http.close()
    report(console, args, totals)
    report_alone(console, alone)


def report(console: Console, args: argparse.Namespace, totals: dict[str, Run]) -> None:
    baseline = totals["Rasa REST"]
    table = Table(
        title=f"{args.rounds} rounds × {args.messages} messages, {args.concurrency} at a time"
    )
    for column in ("path", "messages", "failed", "p50 ms", "p95 ms", "msg/s", "p95 ×", "msg/s ×"):
        table.add_column(column, justify="right" if column != "path" else "left")
    for run in totals.values():
        table.add_row(
            run.name,
            str(len(run.latencies)),
            str(run.failures),
            f"{run.p50:.1f}",
            f"{run.percentile(95):.1f}",
            f"{run.throughput:.1f}",
            f"{run.percentile(95) / baseline.percentile(95):.2f}",
            f"{run.throughput / baseline.throughput:.2f}",
        )
    console.print(table)
    for name in ("Telegram", "SMS"):
        run = totals[name]
        throughput = run.throughput / baseline.throughput
        p95 = run.percentile(95) / baseline.percentile(95)
        console.print(
            f"{name}: throughput {throughput:.2f} × Rasa's (target ≥ 0.9: "
            f"{'met' if throughput >= 0.9 else 'missed'}), p95 {p95:.2f} × Rasa's "
            f"(target ≤ 1.2: {'met' if p95 <= 1.2 else 'missed'})"
        )


def report_alone(console: Console, alone: dict[str, Run]) -> None:
    baseline = alone["Rasa REST"].p50
    console.print(f"One at a time: Rasa REST p50 {baseline:.1f} ms")
    for name in ("Telegram", "SMS"):
        added = alone[name].p50 - baseline
        console.print(
            f"{name}: p50 {alone[name].p50:.1f} ms, the gateway adds {added:.1f} ms "
            f"(target ≤ 5: {'met' if added <= 5 else 'missed'})"
        )


if __name__ == "__main__":
    main()
