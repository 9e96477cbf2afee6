"""The scheduler process: the outreach planners (`scheduler.outreach`) on a timer, and
the outbox dispatcher for everything that is not a reply.

    python -m scheduler

APScheduler keeps its jobs in the customer store (SQLAlchemy job store), so a restart
picks up where it left off. Any number of schedulers may run: only the one holding
the leader lock plans (a PostgreSQL advisory lock, or a file lock beside a SQLite
database), and every one of them dispatches, claiming rows with SKIP LOCKED so none
is sent twice. Campaign traffic uses `CAMPAIGN_RATE_SHARE` of each provider's limit,
leaving the rest to the gateway's replies to waiting customers; with `REDIS_URL`, all
processes share one limit in Redis, where replies go first (`channels.rate_limits`).
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from channels.dispatch import Dispatcher
from channels.metrics import Metrics
from channels.senders import build_senders
from crm_store.db import make_engine, make_session_factory, session_scope
from crm_store.models import MessagePurpose
from crm_store.settings import Settings, get_settings
from scheduler.outreach import PLANNERS

log = logging.getLogger(__name__)

# What the scheduler sends; the gateway sends replies itself, at once.
OUTREACH = frozenset(MessagePurpose) - {MessagePurpose.REPLY, MessagePurpose.COMPLIANCE}
LOCK_KEY = 0x6372_6D62  # "crmb"


class LeaderLock:
    """Held by one scheduler at a time, released when its process dies."""

    def __init__(self, engine: Engine, database_url: str) -> None:
        self._engine, self._url = engine, make_url(database_url)
        self._connection: Connection | None = None
        self._file: IO[bytes] | None = None

    def acquire(self) -> bool:
        """True when this process is (or has just become) the leader."""
        if self._connection is not None or self._file is not None:
            return True
        if self._url.get_backend_name() == "postgresql":
            connection = self._engine.connect()
            got = connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": LOCK_KEY})
            connection.commit()
            if got:
                self._connection = connection
            else:
                connection.close()
            return bool(got)
        path = Path(self._url.database or "crmbot.db").with_suffix(".scheduler.lock")
        handle = path.open("ab")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        return True

    def release(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self._file is not None:
            self._file.close()
            self._file = None


def run_planners(
    factory: sessionmaker[Session], settings: Settings, *, now: datetime
) -> dict[str, int]:
    """One round of planning, each planner in its own transaction; messages queued by each."""
    done: dict[str, int] = {}
    for name, plan in PLANNERS.items():
        with session_scope(factory) as session:
            done[name] = plan(session, now=now, settings=settings)
    return done


@dataclass
class _Process:
    factory: sessionmaker[Session]
    settings: Settings
    leader: LeaderLock


_process: _Process | None = None


def tick() -> None:
    """The job APScheduler runs (by reference, from its store): plan if leader."""
    if _process is None or not _process.leader.acquire():
        return
    done = run_planners(_process.factory, _process.settings, now=datetime.now(UTC))
    if any(done.values()):
        log.info("planned: %s", done)


def start_jobs(jobs: AsyncIOScheduler) -> None:
    """Start APScheduler. Its job store creates its table at the first start: when two
    schedulers start at once on a new database, one's CREATE TABLE fails on the other's
    (PostgreSQL: a duplicate key in pg_type), which has made the table by then, so a
    second start finds it rather than the scheduler dying."""
    try:
        jobs.start()
    except (IntegrityError, ProgrammingError) as error:
        log.info("another scheduler created the job table at the same time (%s)", error.orig)
        jobs.start()


async def serve(settings: Settings) -> None:
    global _process
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    _process = _Process(factory, settings, LeaderLock(engine, settings.database_url))
    senders = build_senders(settings, rate_share=settings.campaign_rate_share, factory=factory)
    for sender in senders.values():
        await sender.start()
    dispatcher = Dispatcher(
        factory,
        senders,
        worker=f"scheduler-{socket.gethostname()}-{os.getpid()}",
        metrics=Metrics(),
        max_attempts=settings.send_max_attempts,
        policy=settings.sending_policy,
        purposes=OUTREACH,
        lease=timedelta(seconds=settings.send_lease_seconds),
        # Campaigns come in thousands: fewer, bigger claims keep the provider busy.
        batch_size=500,
    )
    jobs = AsyncIOScheduler(jobstores={"default": SQLAlchemyJobStore(engine=engine)}, timezone=UTC)
    jobs.add_job(
        tick,
        "interval",
        seconds=settings.scheduler_plan_seconds,
        id="outreach",
        replace_existing=True,
        coalesce=True,
        max_instances=1,
        next_run_time=datetime.now(UTC),
    )
    start_jobs(jobs)
    try:
        await dispatcher.run()
    finally:
        jobs.shutdown(wait=False)
        for sender in senders.values():
            await sender.close()
        _process.leader.release()
        engine.dispose()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # At INFO the HTTP clients log every request (twilio a dozen lines with its headers):
    # a campaign's worth of them costs more than the sending.
    for chatty in ("twilio.http_client", "httpx", "apscheduler.executors.default"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    asyncio.run(serve(get_settings()))
