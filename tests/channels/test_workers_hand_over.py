"""A reply queued already claimed reaches the dispatcher in the event loop's thread, when
the turn's end does: one wake-up of the loop per turn. It goes out even when the turn
fails after queuing it, rather than waiting for its claim to lapse."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import cast

import pytest

from channels.routing import HandOver, Routed, Router
from channels.workers import ConversationWorkers
from crm_store.models import ChannelIdentity, Conversation
from crm_store.outbox import Claimed

IDENTITY = cast(ChannelIdentity, object())
ROWS = (cast(Claimed, object()),)


class QueuingRouter:
    """Queues a claimed reply for every turn, as `Router._reply` does; then, if told
    to, fails."""

    def __init__(self, *, fail_after_queuing: bool = False) -> None:
        self.fail_after_queuing = fail_after_queuing
        self.turn_threads: list[threading.Thread] = []

    def process(
        self,
        conversation_id: int,
        *,
        conversation: Conversation | None = None,
        hand_over: HandOver | None = None,
    ) -> Routed:
        self.turn_threads.append(threading.current_thread())
        assert hand_over is not None
        hand_over(IDENTITY, ROWS)
        if self.fail_after_queuing:
            raise RuntimeError("the metrics server went away")
        return Routed.SENDING


async def answer(router: QueuingRouter) -> list[tuple[threading.Thread, Sequence[Claimed]]]:
    sent: list[tuple[threading.Thread, Sequence[Claimed]]] = []

    def send_taken(identity: ChannelIdentity, rows: Sequence[Claimed]) -> None:
        assert identity is IDENTITY
        sent.append((threading.current_thread(), rows))

    workers = ConversationWorkers(
        cast(Router, router),
        on_outbox=lambda: None,
        send_taken=send_taken,
        burst_window=0,
        holding_after=60,
    )
    workers.submit(7)
    await workers.drain()
    workers.close()
    return sent


@pytest.mark.parametrize("fail_after_queuing", [False, True])
def test_the_reply_goes_to_the_dispatcher_in_the_loops_thread(fail_after_queuing: bool) -> None:
    router = QueuingRouter(fail_after_queuing=fail_after_queuing)

    sent = asyncio.run(answer(router))

    assert sent == [(threading.main_thread(), ROWS)]  # asyncio.run's loop is in this thread
    assert router.turn_threads and router.turn_threads[0] is not threading.main_thread()
