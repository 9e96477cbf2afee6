"""Sends the providers accepted, recorded on a thread of their own: every one that
finished while the last record was being written goes into the next transaction.

A row the provider accepted and the store has not yet marked sent goes out again if
its dispatcher dies (the Telegram Bot API keeps no log to ask first), so that window
must stay short. Recorded through the shared thread pool, a send waited behind the
vetting of a whole claimed batch (two store calls for each of hundreds of campaign
rows): on a loaded machine seconds of sends were unrecorded at any moment, and a
killed scheduler's were sent twice. Here the window is at most two transactions,
whatever else the dispatcher has queued, and under load a commit serves many sends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import NamedTuple

from sqlalchemy.orm import Session, sessionmaker

from crm_store import outbox_results
from crm_store.db import session_scope


class _Sent(NamedTuple):
    outbox_id: int
    provider_id: str | None
    recorded: asyncio.Future[None]


class SentRecorder:
    """Marks rows sent for one dispatcher (`worker`), many per transaction."""

    def __init__(
        self, factory: sessionmaker[Session], *, worker: str, clock: Callable[[], datetime]
    ) -> None:
        self._factory, self._worker, self._clock = factory, worker, clock
        self._waiting: list[_Sent] = []
        self._writer: asyncio.Task[None] | None = None
        self._thread: ThreadPoolExecutor | None = None

    async def record(self, outbox_id: int, provider_id: str | None) -> None:
        """Mark the row sent; returns once that is committed.

        Raises:
            outbox_results.ClaimLost: another dispatcher had taken the row over.
        """
        recorded = asyncio.get_running_loop().create_future()
        self._waiting.append(_Sent(outbox_id, provider_id, recorded))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_waiting())
        await recorded

    async def _write_waiting(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                if self._thread is None:
                    self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sent")
                try:
                    lost = await loop.run_in_executor(self._thread, self._write, batch)
                except Exception as error:  # the callers put their rows back
                    for sent in batch:
                        if not sent.recorded.done():
                            sent.recorded.set_exception(error)
                    continue
                for sent in batch:
                    if sent.recorded.done():  # its sender was cancelled meanwhile
                        continue
                    if sent.outbox_id in lost:
                        sent.recorded.set_exception(
                            outbox_results.ClaimLost(sent.outbox_id, self._worker)
                        )
                    else:
                        sent.recorded.set_result(None)
        finally:
            self._writer = None

    def _write(self, batch: list[_Sent]) -> set[int]:
        """Mark `batch` sent in one transaction; the rows no longer this worker's."""
        lost = set()
        now = self._clock()
        with session_scope(self._factory) as session:
            for sent in sorted(batch, key=lambda sent: sent.outbox_id):  # one fixed lock order
                try:
                    outbox_results.mark_sent(
                        session,
                        sent.outbox_id,
                        worker=self._worker,
                        provider_id=sent.provider_id,
                        now=now,
                    )
                except outbox_results.ClaimLost:  # nothing was written for it
                    lost.add(sent.outbox_id)
        return lost

    def close(self) -> None:
        """Let the thread go once what it is writing is done (a later send starts another)."""
        if self._thread is not None:
            self._thread.shutdown(wait=False)
            self._thread = None
