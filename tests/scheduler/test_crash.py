"""Exactly once through crashes: a 10,000-recipient campaign, the scheduler killed with
SIGKILL half-way and started again; and two schedulers at once on PostgreSQL.

The scheduler runs as the real process (`python -m scheduler`), sending through the
real twilio client to the fake Twilio, which counts what it received.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crm_store import migrate
from crm_store.bulk import bulk_insert
from crm_store.db import make_engine, make_session_factory, session_scope
from crm_store.models import (
    ChannelIdentity,
    OutboxMessage,
    OutboxStatus,
    StaffRole,
)
from tests.factories import bulk_customers, consenting_sms_rows, make_staff, scheduled_campaign
from tests.fakes import FakeTwilio
from tests.processes import ROOT, stop

RECIPIENTS = 10_000
SHOP_NUMBER = "+15005550006"


def populate(database_url: str) -> int:
    """RECIPIENTS consenting SMS customers and a scheduled campaign to all; its id."""
    engine = make_engine(database_url)
    now = datetime.now(UTC)
    with session_scope(make_session_factory(engine)) as session:
        ids = bulk_customers(session, RECIPIENTS, now=now)
        bulk_insert(session, ChannelIdentity, consenting_sms_rows(ids, now=now))
        campaign = scheduled_campaign(
            session,
            author=make_staff(session, "mia@shop.test", StaffRole.MARKETER),
            approver=make_staff(session, "leo@shop.test", StaffRole.MARKETER),
            templates={"zh-TW": "{{ name }}，週年慶全館 85 折！"},
            send_at=now,
            now=now,
        )
        campaign_id = campaign.id
    engine.dispose()
    return campaign_id


@contextmanager
def scheduler(
    database_url: str, twilio: FakeTwilio, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TWILIO_ACCOUNT_SID": twilio.account_sid,
        "TWILIO_AUTH_TOKEN": twilio.auth_token,
        "TWILIO_FROM_NUMBER": SHOP_NUMBER,
        "TWILIO_API_BASE_URL": twilio.base_url,
        "TWILIO_SEGMENTS_PER_SECOND": "100000",
        # Short, so the restarted scheduler takes over the killed one's rows soon; long
        # enough that a busy machine never takes one over while it is being sent.
        "SEND_LEASE_SECONDS": "10",
        "SCHEDULER_PLAN_SECONDS": "0.5",
        "QUIET_HOURS": "00:00-00:00",
        "MARKETING_PER_WEEK": "100",
    }
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "scheduler"], cwd=ROOT, env=env, stdout=output, stderr=output
        )
        try:
            yield process
        finally:
            stop(process)


def wait_for(condition: object, *, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; log:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def all_sent(database_url: str, campaign_id: int) -> bool:
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            counts = dict(
                session.execute(
                    select(OutboxMessage.status, func.count())
                    .where(OutboxMessage.campaign_id == campaign_id)
                    .group_by(OutboxMessage.status)
                ).all()
            )
    finally:
        engine.dispose()
    return counts.get(OutboxStatus.SENT, 0) == RECIPIENTS


def assert_exactly_once(twilio: FakeTwilio) -> None:
    received = Counter(message["to"] for message in twilio.sent)
    assert len(received) == RECIPIENTS, f"{RECIPIENTS - len(received)} recipients got nothing"
    twice = [number for number, count in received.items() if count > 1]
    assert not twice, f"{len(twice)} recipients got the campaign more than once: {twice[:5]}"


def test_a_scheduler_killed_mid_campaign_and_restarted_sends_each_message_once(
    tmp_path: Path, fake_twilio: FakeTwilio
) -> None:
    database_url = f"sqlite:///{tmp_path / 'crmbot.db'}"
    migrate.upgrade(database_url)
    campaign_id = populate(database_url)
    log = tmp_path / "scheduler.log"
    with scheduler(database_url, fake_twilio, log) as first:
        wait_for(
            lambda: len(fake_twilio.sent) >= RECIPIENTS // 4,
            timeout=180,
            what="a quarter sent",
            log=log,
        )
        first.send_signal(signal.SIGKILL)
        first.wait()
    at_kill = len(fake_twilio.sent)
    assert at_kill < RECIPIENTS, "the campaign finished before the kill: nothing was tested"
    with scheduler(database_url, fake_twilio, log):
        wait_for(lambda: all_sent(database_url, campaign_id), timeout=300, what="all sent", log=log)
    assert_exactly_once(fake_twilio)


@pytest.mark.postgres
def test_two_schedulers_at_once_on_postgresql_send_each_message_once(
    postgres_url: str, fake_twilio: FakeTwilio, tmp_path: Path
) -> None:
    campaign_id = populate(postgres_url)
    log = tmp_path / "schedulers.log"
    with scheduler(postgres_url, fake_twilio, log), scheduler(postgres_url, fake_twilio, log):
        wait_for(lambda: all_sent(postgres_url, campaign_id), timeout=300, what="all sent", log=log)
    assert_exactly_once(fake_twilio)
