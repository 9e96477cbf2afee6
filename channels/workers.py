"""One worker per busy conversation: messages of a customer are answered in order,
several quick ones with one reply, and different customers side by side.

A message arriving while its conversation is being answered is picked up by the same
worker right after, together with anything else that came in meanwhile. A customer
kept waiting longer than `holding_after` gets the holding reply while the worker goes
on waiting for Rasa. A recovery loop replays messages left unanswered (Rasa was down,
or the gateway restarted) once Rasa answers its status check again, and hands to staff
those still unanswered after `bot_answer_deadline_seconds`.

A turn blocks a thread while Rasa answers, up to `rasa_timeout_seconds`: turns wait on
threads of their own, so that a slow Rasa never holds up the store work of the rest of
the gateway (storing webhooks, and the dispatcher renewing its claims and recording
sends, whose claims would otherwise run out and their replies go out twice).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from channels.rasa_client import RasaClient, RasaUnavailable
from channels.routing import HandOver, Routed, Router
from crm_store.models import ChannelIdentity, Conversation
from crm_store.outbox import Claimed

log = logging.getLogger(__name__)


class ConversationWorkers:
    def __init__(
        self,
        router: Router,
        *,
        on_outbox: Callable[[], None],
        send_taken: HandOver,
        burst_window: float,
        holding_after: float,
    ) -> None:
        """`send_taken` sends a reply queued already claimed, in the event loop's thread
        (`Dispatcher.send_taken`)."""
        self._router, self._on_outbox, self._send_taken = router, on_outbox, send_taken
        self._burst_window, self._holding_after = burst_window, holding_after
        self._active: dict[int, asyncio.Task[None]] = {}
        self._again: set[int] = set()
        # One thread per conversation waiting on Rasa; many customers at once.
        self._turns = ThreadPoolExecutor(max_workers=64, thread_name_prefix="rasa-turn")

    def submit(self, conversation_id: int, conversation: Conversation | None = None) -> None:
        """Answer `conversation_id`'s waiting messages soon (call in the event loop);
        `conversation` as `Router.process` takes it."""
        if conversation_id in self._active:
            self._again.add(conversation_id)
            return
        task = asyncio.create_task(
            self._work(conversation_id, conversation), name=f"conversation-{conversation_id}"
        )
        self._active[conversation_id] = task

    def wake_outbox(self) -> None:
        self._on_outbox()

    @property
    def busy(self) -> int:
        return len(self._active)

    async def drain(self) -> None:
        """Wait until every submitted conversation is dealt with (tests, shutdown)."""
        while self._active:
            await asyncio.gather(*self._active.values(), return_exceptions=True)

    def close(self) -> None:
        """Let the turns' threads go once their calls end (shutdown)."""
        self._turns.shutdown(wait=False, cancel_futures=True)

    async def _work(self, conversation_id: int, conversation: Conversation | None) -> None:
        try:
            while True:
                if self._burst_window:
                    await asyncio.sleep(self._burst_window)
                self._again.discard(conversation_id)
                outcome = await self._answer(conversation_id, conversation)
                if outcome is Routed.RASA_DOWN or conversation_id not in self._again:
                    return
        except Exception:
            log.exception("conversation %d could not be routed; it stays queued", conversation_id)
        finally:
            self._again.discard(conversation_id)
            del self._active[conversation_id]

    async def _answer(self, conversation_id: int, conversation: Conversation | None) -> Routed:
        # The reply is handed to the dispatcher here, when the turn's end reaches the loop,
        # rather than from the turn's thread: one wake-up of the loop per turn, not two.
        taken: list[tuple[ChannelIdentity, Sequence[Claimed]]] = []
        turn = partial(
            self._router.process,
            conversation_id,
            conversation=conversation,
            hand_over=lambda identity, rows: taken.append((identity, rows)),
        )
        answering = asyncio.get_running_loop().run_in_executor(self._turns, turn)
        done, _ = await asyncio.wait({answering}, timeout=self._holding_after)
        if not done and await asyncio.to_thread(self._router.hold, conversation_id):
            self._on_outbox()
        try:
            outcome = await answering
        finally:  # queued claimed, a reply goes out even when the turn failed after that
            for identity, rows in taken:
                self._send_taken(identity, rows)
        if outcome in (Routed.ANSWERED, Routed.FAILED, Routed.RASA_DOWN):
            self._on_outbox()
        return outcome


async def recover(
    router: Router, workers: ConversationWorkers, rasa: RasaClient, *, interval: float
) -> None:
    """Forever: when Rasa is up, replay conversations with unanswered messages; those
    nobody could answer in time go to staff, Rasa up or not."""
    while True:
        try:
            if await asyncio.to_thread(router.hand_over_overdue):
                workers.wake_outbox()
            waiting = await asyncio.to_thread(router.conversations_waiting)
            if waiting:
                await asyncio.to_thread(rasa.status)
                log.info("replaying %d conversations with unanswered messages", len(waiting))
                for conversation_id in waiting:
                    workers.submit(conversation_id)
        except RasaUnavailable:
            pass
        except Exception:
            log.exception("recovery check failed")
        await asyncio.sleep(interval)
