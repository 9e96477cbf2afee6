"""Schedulers starting at once on a new database all start.

APScheduler's job store makes its table at the first start. Two schedulers started
together (a scaled-out shop's first deploy, the scale-out test) both found no table and
both created it; the second's CREATE TABLE failed on the first's and that scheduler died.
"""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Engine, text

from crm_store.db import make_engine
from scheduler.service import start_jobs


def waiting_on_a_lock(engine: Engine) -> bool:
    with engine.connect() as connection:
        return bool(
            connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
        )


def test_a_scheduler_starts_while_another_makes_the_job_table(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    started: list[bool] = []

    def second_scheduler() -> None:
        async def start() -> None:
            jobs = AsyncIOScheduler(
                jobstores={"default": SQLAlchemyJobStore(engine=engine)}, timezone=UTC
            )
            start_jobs(jobs)
            started.append(jobs.running)
            jobs.shutdown(wait=False)
            await asyncio.sleep(0)

        asyncio.run(start())

    try:
        with engine.connect() as first_scheduler:
            # The first is making the table and has not committed yet.
            SQLAlchemyJobStore(engine=engine).jobs_t.create(first_scheduler)
            starting = threading.Thread(target=second_scheduler)
            starting.start()
            deadline = time.monotonic() + 10
            while not waiting_on_a_lock(engine):
                assert time.monotonic() < deadline, "the second never got to its CREATE TABLE"
                time.sleep(0.05)
            first_scheduler.commit()
        starting.join(10)
    finally:
        engine.dispose()
    assert started == [True]
