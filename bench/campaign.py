"""Benchmark of a big campaign: choosing its audience, queueing it, and sending it.

    .venv/bin/python -m bench.campaign [--customers 1000000] [--recipients 100000]
        [--limit 50] [--dispatch-seconds 20]

On a fresh SQLite store it fills `--customers` customers (as bench.store does) and
gives `--recipients` of them an SMS number with marketing consent. Then:

1. times the audience selection of a campaign to everyone who may get it, and its
   start (`scheduler.outreach.campaign.start_due`: selection, rendering every message
   from the template, and inserting the outbox rows, in one transaction), against the
   target of 100,000 queued in under 30 s; the campaign holds out the default share
   and tests two template variants (A/B);
2. times drawing and recording that holdout and the variant split on their own, and
   the uplift report over the sent and held-out groups with each variant compared
   (target: each under 5 s);
3. runs the scheduler's outbox dispatcher against a fake Twilio that refuses (429)
   any message beyond `--limit` a second, for `--dispatch-seconds`, and prints the
   rate achieved as a fraction of the limit (target ≥ 0.95) and the number of 429s
   (target 0).

It prints figures; it never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bench.store import fill_customers
from channels.dispatch import Dispatcher
from channels.metrics import Metrics
from channels.senders import TwilioSender
from crm_store import migrate, segments
from crm_store.bulk import bulk_insert
from crm_store.db import make_engine, make_session_factory, session_scope
from crm_store.holdouts import assign_variants, campaign_uplift, hold_out, variant_comparison
from crm_store.models import (
    DEFAULT_HOLDOUT_PERCENT,
    Campaign,
    Channel,
    ChannelIdentity,
    Customer,
    StaffRole,
)
from crm_store.sending_rules import SendingPolicy
from scheduler.outreach import campaign as campaign_runs
from scheduler.service import OUTREACH
from tests.factories import consenting_sms_rows, make_staff, scheduled_campaign
from tests.fakes import FakeTwilio

console = Console()
SHOP_NUMBER = "+15005550006"
NO_QUIET_HOURS = SendingPolicy(
    quiet_start=datetime.min.time(), quiet_end=datetime.min.time(), marketing_per_window=100
)


def give_numbers(
    factory: sessionmaker[Session], total: int, recipients: int, now: datetime
) -> None:
    """An SMS identity with consent for `recipients` customers picked at random."""
    chosen = random.Random(7).sample(range(1, total + 1), recipients)
    with session_scope(factory) as session:
        bulk_insert(session, ChannelIdentity, consenting_sms_rows(sorted(chosen), now=now))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--limit", type=float, default=50.0, help="provider messages/s")
    parser.add_argument("--dispatch-seconds", type=float, default=20.0)
    args = parser.parse_args()
    now = datetime.now(UTC)

    with tempfile.TemporaryDirectory(prefix="bench-campaign-") as folder:
        url = f"sqlite:///{Path(folder) / 'crmbot.db'}"
        migrate.upgrade(url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        fill_customers(engine, args.customers, now)
        give_numbers(factory, args.customers, args.recipients, now)
        with session_scope(factory) as session:
            scheduled_campaign(
                session,
                author=make_staff(session, "mia@bench.test", StaffRole.MARKETER),
                approver=make_staff(session, "leo@bench.test", StaffRole.MARKETER),
                templates={
                    "zh-TW": ["{{ first_name }}，週年慶全館 85 折！", "{{ first_name }}，滿千折百"],
                    "en": [
                        "{{ first_name }}, 15% off everything this week!",
                        "{{ first_name }}, NT$100 off every NT$1,000",
                    ],
                },
                send_at=now,
                now=now,
                holdout_percent=DEFAULT_HOLDOUT_PERCENT,
            )

        with factory() as session:
            started = time.perf_counter()
            audience = segments.audience(session, segments.Segment(), now=now)
            select_seconds = time.perf_counter() - started
        with session_scope(factory) as session:
            started = time.perf_counter()
            queued = campaign_runs.start_due(session, now=now, shop="小島選物")
        enqueue_seconds = time.perf_counter() - started  # includes the commit
        holdout_seconds, held = time_holdout_draw(factory, audience, now)
        with factory() as session:
            started = time.perf_counter()
            campaign = session.get_one(Campaign, next(iter(queued)))
            uplift = campaign_uplift(session, campaign)
            compared = variant_comparison(session, campaign)
            report_seconds = time.perf_counter() - started

        sent, rate_limited = asyncio.run(dispatch(factory, args.limit, args.dispatch_seconds))
        engine.dispose()

    total_queued = sum(queued.values())
    table = Table(title=f"{args.customers:,} customers, {args.recipients:,} with consent")
    table.add_column("measure")
    table.add_column("figure", justify="right")
    table.add_column("target", justify="right")
    table.add_row("audience selected", f"{len(audience):,} in {select_seconds:.1f} s", "")
    verdict = "met" if enqueue_seconds < 30 and len(audience) >= 100_000 else "missed"
    table.add_row(
        "campaign started (select, hold out, render, queue)",
        f"{len(audience):,} ({total_queued:,} queued) in {enqueue_seconds:.1f} s",
        f"100,000 < 30 s ({verdict})",
    )
    table.add_row(
        f"holdout and A/B split drawn and recorded ({DEFAULT_HOLDOUT_PERCENT} %, by tier)",
        f"{held:,} of {len(audience):,} in {holdout_seconds:.2f} s",
        f"< 5 s ({'met' if holdout_seconds < 5 else 'missed'})",
    )
    sizes = {"messaged": uplift.sent, "held out": uplift.held_out} if uplift else {}
    sizes |= compared.groups if compared else {}
    groups = ", ".join(f"{name} {group.customers:,}" for name, group in sizes.items()) or "none"
    table.add_row(
        "uplift report (orders in the window; messaged, held out, each variant)",
        f"{groups} in {report_seconds:.2f} s",
        f"< 5 s ({'met' if report_seconds < 5 else 'missed'})",
    )
    rate = sent / args.dispatch_seconds
    fraction = rate / args.limit
    table.add_row(
        "dispatch rate",
        f"{rate:.1f}/s = {fraction:.3f} of {args.limit:g}/s",
        f"≥ 0.95 ({'met' if fraction >= 0.95 else 'missed'})",
    )
    no_429 = "met" if not rate_limited else "missed"
    table.add_row("429s from the provider", str(rate_limited), f"0 ({no_429})")
    console.print(table)


def time_holdout_draw(
    factory: sessionmaker[Session], audience: list[segments.Recipient], now: datetime
) -> tuple[float, int]:
    """The holdout and the variant split of a campaign like the one started, drawn and
    recorded on their own (the tiers read, the draws, the inserts), then rolled back;
    seconds and how many were held."""
    with factory() as session:
        started_one = session.scalars(select(Campaign)).one()
        campaign = Campaign(
            name="holdout draw",
            kind=started_one.kind,
            status=started_one.status,
            segment={},
            templates=started_one.templates,
            holdout_percent=DEFAULT_HOLDOUT_PERCENT,
            created_at=now,
        )
        session.add(campaign)
        session.flush()
        started = time.perf_counter()
        # the audience's tiers, read as the planner reads its recipients: by id, in chunks
        ids = [recipient.customer_id for recipient in audience]
        by_tier = {
            customer: tier.value
            for start in range(0, len(ids), 1_000)
            for customer, tier in session.execute(
                select(Customer.id, Customer.tier).where(
                    Customer.id.in_(ids[start : start + 1_000])
                )
            )
        }
        held = hold_out(session, campaign, by_tier, run=1, now=now)
        messaged = {customer: tier for customer, tier in by_tier.items() if customer not in held}
        assign_variants(session, campaign, messaged, count=2, run=1, now=now)
        seconds = time.perf_counter() - started
        session.rollback()
    return seconds, len(held)


async def dispatch(factory: sessionmaker[Session], limit: float, seconds: float) -> tuple[int, int]:
    """Run the scheduler's dispatcher for `seconds` against a rate-limited fake Twilio."""
    with FakeTwilio(messages_per_second=limit) as twilio:
        sender = TwilioSender(
            account_sid=twilio.account_sid,
            auth_token=twilio.auth_token,
            from_number=SHOP_NUMBER,
            base_url=twilio.base_url,
            status_callback=None,
            segments_per_second=limit,
        )
        await sender.start()
        dispatcher = Dispatcher(
            factory,
            {Channel.SMS: sender},
            worker="bench",
            metrics=Metrics(),
            policy=NO_QUIET_HOURS,
            purposes=OUTREACH,
            batch_size=500,
        )
        running = asyncio.create_task(dispatcher.run())
        # Measure a steady stretch: after the first second, for `seconds`.
        await asyncio.sleep(1.0)
        before = len(twilio.sent)
        await asyncio.sleep(seconds)
        sent = len(twilio.sent) - before
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await sender.close()
        return sent, twilio.rate_limited


if __name__ == "__main__":
    main()
