"""The outbox dispatcher: claims due rows, checks the sending rules, sends, records.

Rows for one customer go out one after another, in order; different customers are
served side by side. A temporary failure puts the row (and that customer's later
rows) back at the time the provider asked for, or after an exponential backoff; a
permanent one fails it, and marks the identity unreachable when that is the cause.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from channels.metrics import Metrics
from channels.senders import Outgoing, PermanentFailure, Sender, TemporaryFailure
from channels.sent_records import SentRecorder
from crm_store import outbox, outbox_results
from crm_store.db import session_scope
from crm_store.models import Channel, ChannelIdentity, MessagePurpose
from crm_store.sending_rules import SendingPolicy, Verdict

log = logging.getLogger(__name__)

# A customer is waiting for these: where the rate limit is shared, they go before outreach.
URGENT = frozenset({MessagePurpose.REPLY, MessagePurpose.COMPLIANCE})

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def backoff(attempt: int) -> float:
    """Seconds before retry number `attempt`: 2, 4, 8, … capped at 10 minutes, with jitter."""
    return float(min(600, 2**attempt) * random.uniform(0.8, 1.2))


class Dispatcher:
    def __init__(
        self,
        factory: sessionmaker[Session],
        senders: dict[Channel, Sender],
        *,
        worker: str,
        metrics: Metrics,
        max_attempts: int = 8,
        policy: SendingPolicy | None = None,
        purposes: frozenset[MessagePurpose] | None = None,
        clock: Clock = utc_now,
        poll_interval: float = 1.0,
        lease: timedelta = timedelta(minutes=5),
        batch_size: int = 100,
    ) -> None:
        self._factory, self._senders, self._worker = factory, senders, worker
        self._metrics, self._max_attempts, self._clock = metrics, max_attempts, clock
        self._poll_interval, self._lease, self._batch_size = poll_interval, lease, batch_size
        self._policy, self._purposes = policy or SendingPolicy(), purposes
        self._sent = SentRecorder(factory, worker=worker, clock=clock)
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stale_checked: datetime | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._in_flight = 0  # rows claimed by this dispatcher and not yet recorded
        # A finished send wakes the dispatcher only when rows were due and left unclaimed
        # at its last look (behind a row going out, or no room): otherwise a round per
        # reply sent would look for nothing. Counting finished sends notices one that
        # ends while a round is claiming.
        self._due_unclaimed = False
        self._sends_finished = 0
        self._finished_before_claim = 0

    @property
    def claimant(self) -> str | None:
        """The name rows can be queued already claimed for (`outbox.enqueue`'s
        `claim_for`) and handed to `take`: None unless the dispatcher is running."""
        return None if self._loop is None else self._worker

    def take(self, identity: ChannelIdentity, rows: Sequence[outbox.Claimed]) -> None:
        """Send `rows`, queued already claimed for this dispatcher with the sending rules
        applied, right away: a reply need not wait for the next round (thread-safe)."""
        loop = self._loop
        if loop is None:  # stopped meanwhile: the rows go out after their lease
            log.warning("dispatcher stopped; %d rows wait for their lease", len(rows))
            return
        loop.call_soon_threadsafe(self.send_taken, identity, rows)

    def send_taken(self, identity: ChannelIdentity, rows: Sequence[outbox.Claimed]) -> None:
        """`take`, called in the event loop's thread (no wake-up from another thread)."""
        taken = list(rows)
        self._start(self._send_in_order(taken, identity=identity, checked=True), taken)

    def _start(self, sending: Coroutine[Any, Any, None], rows: list[outbox.Claimed]) -> None:
        """Send one customer's rows in a task of their own, beside everything else."""
        task = asyncio.create_task(self._guarded(sending, [row.outbox_id for row in rows]))
        self._sending.add(task)
        self._in_flight += len(rows)

        def done(task: asyncio.Task[None]) -> None:
            self._sending.discard(task)
            self._in_flight -= len(rows)
            self._sends_finished += 1
            if self._due_unclaimed:  # room for more, or that customer's later rows may go now
                self._wake.set()

        task.add_done_callback(done)

    async def _guarded(self, sending: Coroutine[Any, Any, None], outbox_ids: list[int]) -> None:
        """On an error nothing else records, put the rows back at once: held until their
        lease ran out, they would also hold back every later row of that customer."""
        try:
            await sending
        except Exception:
            log.exception("sending outbox rows %s failed; they go back to the queue", outbox_ids)
            try:
                await asyncio.to_thread(self._release, outbox_ids)
            except Exception:
                log.exception("could not put outbox rows %s back; their lease will", outbox_ids)
            self._wake.set()  # they are due again

    def _release(self, outbox_ids: list[int]) -> None:
        with session_scope(self._factory) as session:
            outbox_results.release(session, outbox_ids, worker=self._worker)

    async def drain(self) -> None:
        """Wait for every row this dispatcher has started sending to be out (shutdown, tests)."""
        while self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
        self._sent.close()

    def wake(self) -> None:
        """Look for due rows now (call from the event loop's thread)."""
        self._wake.set()

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        renewing = asyncio.create_task(self._keep_claims())
        try:
            while True:
                try:
                    if not await self._start_due():
                        await self._sleep_until_due()
                except Exception:  # a database hiccup must not stop sending for good
                    log.exception("dispatch failed; trying again")
                    await asyncio.sleep(self._poll_interval)
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            self._loop = None
            self._sent.close()

    async def dispatch_once(self) -> int:
        """Send what is due now and wait until it is out; returns how many rows were
        handled (tests, benchmarks: `run` goes on claiming while rows are out)."""
        renewing = asyncio.create_task(self._keep_claims())
        try:
            started = await self._start_due()
            await self.drain()
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
        return started

    async def _start_due(self) -> int:
        """Claim due rows and start sending them, a task per customer; how many were claimed.

        Rows go out side by side, so a reply due now never waits for another customer's
        backlog behind a provider's rate limit (a campaign's SMS at one a second). Up to
        `batch_size` rows are out at once; outreach is topped up only when half of that is
        free (a claim per finished row would cost more than the sending), while a customer
        waiting for an answer is claimed whatever is out.
        """
        room, purposes = self._batch_size - self._in_flight, self._purposes
        if room < self._batch_size / 2:
            purposes = URGENT if purposes is None else purposes & URGENT
            room = self._batch_size
        if purposes is not None and not purposes:
            return 0
        self._finished_before_claim = self._sends_finished
        claimed = await asyncio.to_thread(self._claim, room, purposes)
        by_identity: dict[int, list[outbox.Claimed]] = {}
        for row in claimed:
            by_identity.setdefault(row.identity_id, []).append(row)
        for rows in by_identity.values():
            self._start(self._send_in_order(rows), rows)
        return len(claimed)

    def _claim(
        self, limit: int, purposes: frozenset[MessagePurpose] | None
    ) -> list[outbox.Claimed]:
        now = self._clock()
        with session_scope(self._factory) as session:
            # Dispatchers stop rarely and leases are long: a look now and then will do.
            if self._stale_checked is None or now - self._stale_checked >= self._lease / 10:
                self._stale_checked = now
                released = outbox_results.release_stale(session, now=now, lease=self._lease)
                if released:
                    log.warning("%d outbox rows were left by a stopped dispatcher", released)
            return outbox.claim_due(
                session, worker=self._worker, now=now, limit=limit, purposes=purposes
            )

    async def _keep_claims(self) -> None:
        """Renew this dispatcher's claims a few times a lease.

        Rows can wait long behind a provider's rate limit (500 SMS at under one a
        second); the lease is there to notice a dispatcher that stopped, not a slow one.
        The renewal has a thread of its own: behind the batch's own store work (a check
        and a record per row, hundreds of them) on a busy machine, it came after the
        lease had run out, and another dispatcher sent the rows a second time.
        """
        renewer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="claims")
        loop = asyncio.get_running_loop()
        try:
            while True:
                await asyncio.sleep(self._lease.total_seconds() / 3)
                try:
                    renewed = await loop.run_in_executor(renewer, self._renew_claims)
                except Exception:  # the next round tries again; the per-row check guards
                    log.exception("could not renew the outbox claims")
                    continue
                log.debug("renewed %d outbox claims", renewed)
        finally:
            renewer.shutdown(wait=False)

    def _renew_claims(self) -> int:
        with session_scope(self._factory) as session:
            return outbox.renew_claims(session, worker=self._worker, now=self._clock())

    async def _sleep_until_due(self) -> None:
        """Wait for a wake, the next row's time or the poll interval, whichever is first.

        Called when a round found nothing to claim: a row already due then waits behind
        one of its customer's rows still going out, and polling for it must not spin."""
        self._wake.clear()  # before looking, so that a wake meanwhile is not lost
        due = await asyncio.to_thread(self._next_due)
        self._due_unclaimed = due is not None and due <= self._clock()
        if self._due_unclaimed and self._sends_finished != self._finished_before_claim:
            return  # a send ended since the claim: what it held back may go now
        timeout = self._poll_interval
        if due is not None and due > self._clock():
            timeout = min(timeout, (due - self._clock()).total_seconds())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    def _next_due(self) -> datetime | None:
        with self._factory() as session:
            return outbox.next_due(session, purposes=self._purposes)

    async def _send_in_order(
        self,
        rows: list[outbox.Claimed],
        *,
        identity: ChannelIdentity | None = None,
        checked: bool = False,
    ) -> None:
        if identity is None:
            identity = await asyncio.to_thread(self._identity, rows[0].identity_id)
        for position, row in enumerate(rows):
            try:
                go_on = await self._send_one(identity, row, checked=checked)
            except outbox_results.ClaimLost:
                # The lease ran out while the row waited: what became of it is the business
                # of the dispatcher that took it over (and a sent one may go out twice).
                log.warning("outbox row %d was taken over by another dispatcher", row.outbox_id)
                self._metrics.outbound.labels(identity.channel, "taken_over").inc()
                continue
            if not go_on:
                # A retry moved this customer's later rows back behind it.
                if position + 1 < len(rows):
                    log.info("holding %d later rows for %s", len(rows) - position - 1, identity.id)
                return

    def _identity(self, identity_id: int) -> ChannelIdentity:
        with self._factory() as session:
            return session.get_one(ChannelIdentity, identity_id)

    async def _send_one(
        self, identity: ChannelIdentity, row: outbox.Claimed, *, checked: bool = False
    ) -> bool:
        """Send one row; False when the rest of this customer's rows must wait. A row
        `checked` was claimed and vetted a moment ago, in the transaction that queued it."""
        channel = identity.channel
        decision, body = (
            (Verdict.go(), row.body)
            if checked
            else await asyncio.to_thread(self._check, identity, row)
        )
        if decision.hold_until is not None:
            await asyncio.to_thread(
                self._record,
                outbox_results.hold,
                row.outbox_id,
                until=decision.hold_until,
                reason=decision.reason or "held",
            )
            self._metrics.outbound.labels(channel, "held").inc()
            return True
        if not decision.send:
            await asyncio.to_thread(
                self._record,
                outbox_results.mark_cancelled,
                row.outbox_id,
                reason=decision.reason or "",
            )
            self._metrics.outbound.labels(channel, "cancelled").inc()
            return True
        buttons = [button["title"] for button in (row.payload or {}).get("buttons", [])]
        outgoing = Outgoing(
            address=identity.address,
            text=body,
            buttons=buttons,
            urgent=row.purpose in URGENT,
            outbox_id=row.outbox_id,
            purpose=row.purpose,
        )
        sender = self._senders[channel]
        try:
            provider_id = None
            if row.interrupted and row.created_at is not None:
                provider_id = await sender.find_sent(outgoing, since=row.created_at)
            if provider_id is None:
                provider_id = await sender.send(outgoing)
            else:
                log.info("outbox row %d had gone out before an interruption", row.outbox_id)
        except TemporaryFailure as failure:
            delay = (
                failure.retry_after
                if failure.retry_after is not None
                else backoff(row.attempts + 1)
            )
            retrying = await asyncio.to_thread(self._retry, row.outbox_id, failure.reason, delay)
            self._metrics.outbound.labels(channel, "retry" if retrying else "failed").inc()
            if not retrying:
                log.warning("send to %s failed after every attempt: %s", channel, failure.reason)
                return True
            log.warning("send to %s failed (%s); retry in %.1f s", channel, failure.reason, delay)
            return False
        except PermanentFailure as failure:
            await asyncio.to_thread(self._fail, row.outbox_id, identity.id, failure)
            self._metrics.outbound.labels(channel, "failed").inc()
            if failure.unreachable:
                identity.reachable = False
                identity.unreachable_reason = failure.reason
            log.warning("send to %s failed for good: %s", channel, failure.reason)
            return True
        await self._sent.record(row.outbox_id, provider_id)
        self._metrics.outbound.labels(channel, "sent").inc()
        return True

    def _record(self, mark: Callable[..., None], outbox_id: int, **values: object) -> None:
        """Record what became of a row this dispatcher holds (raises `outbox_results.ClaimLost`)."""
        with session_scope(self._factory) as session:
            mark(session, outbox_id, worker=self._worker, now=self._clock(), **values)

    def _check(self, identity: ChannelIdentity, row: outbox.Claimed) -> tuple[Verdict, str]:
        """The sending rules' verdict on a row about to go, and its text, in one
        transaction with the claim's renewal (`outbox_results.vet_claimed`)."""
        with session_scope(self._factory) as session:
            return outbox_results.vet_claimed(
                session,
                row,
                identity=identity,
                worker=self._worker,
                now=self._clock(),
                policy=self._policy,
            )

    def _retry(self, outbox_id: int, error: str, delay: float) -> bool:
        now = self._clock()
        with session_scope(self._factory) as session:
            return outbox_results.mark_retry(
                session,
                outbox_id,
                worker=self._worker,
                error=error,
                now=now,
                retry_at=now + timedelta(seconds=delay),
                max_attempts=self._max_attempts,
            )

    def _fail(self, outbox_id: int, identity_id: int, failure: PermanentFailure) -> None:
        with session_scope(self._factory) as session:
            outbox_results.mark_failed(
                session, outbox_id, worker=self._worker, error=failure.reason, now=self._clock()
            )
            if failure.unreachable:
                identity = session.get_one(ChannelIdentity, identity_id)
                identity.reachable = False
                identity.unreachable_reason = failure.reason[:200]
