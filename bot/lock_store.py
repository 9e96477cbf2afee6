"""Rasa's Redis lock store, with every change to a conversation's lock made atomically.

Several Rasa replicas share one lock per conversation in Redis, so that each message is
answered after the one before it, whichever replica has it. Rasa's own `RedisLockStore`
changes a lock by reading it and writing it back, with nothing between two replicas
doing the same: two messages at once can draw the same ticket (and be answered side by
side), or one replica, seeing nobody waiting, deletes the lock just after another drew
a ticket from it; that message then fails with "Could not acquire lock" (a 500).

Here each change reads and writes the lock in one Redis transaction (WATCH, MULTI,
EXEC), tried again when another replica changed the lock in between. The lock keeps
Rasa's format and keys, so replicas of either kind can share it during an upgrade.
Runs inside Rasa (.venv-rasa); `crmbot rasa-endpoints` names it with `REDIS_URL`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

Result = TypeVar("Result")
# What a change makes of the lock (None: delete it), and what the caller gets.
Change = Callable[[TicketLock | None], tuple[TicketLock | None, Result]]


class AtomicRedisLockStore(RedisLockStore):
    def __init__(self, endpoint_config: EndpointConfig) -> None:
        """As Rasa builds a lock store named by its module path in the endpoints file."""
        super().__init__(host=endpoint_config.url, **endpoint_config.kwargs)

    def _change(self, conversation_id: str, change: Change[Result]) -> Result:
        """Apply `change` to the conversation's lock in one transaction."""
        key = self.key_prefix + conversation_id

        def attempt(pipe: Any) -> Result:
            stored = pipe.get(key)
            lock = TicketLock.from_dict(json.loads(stored)) if stored else None
            changed, result = change(lock)
            pipe.multi()
            if changed is not None:
                pipe.set(key, changed.dumps())
            elif lock is not None:
                pipe.delete(key)
            return result

        result: Result = self.red.transaction(attempt, key, value_from_callable=True)
        return result

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def issue(lock: TicketLock | None) -> tuple[TicketLock, int]:
            lock = lock or self.create_lock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        try:
            return self._change(conversation_id, issue)
        except Exception as error:  # as Rasa's own: the message fails with a LockError
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def update_lock(self, conversation_id: str) -> None:
        def drop_expired(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is not None:
                lock.remove_expired_tickets()
            return lock, None

        self._change(conversation_id, drop_expired)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self._change(conversation_id, _without(ticket_number, delete_when_empty=False))

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Give the ticket back, and delete the lock when nobody else holds one: in one
        transaction, so a ticket drawn meanwhile is never deleted with it."""
        self._change(conversation_id, _without(ticket_number, delete_when_empty=True))


def _without(ticket_number: int, *, delete_when_empty: bool) -> Change[None]:
    def give_back(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
        if lock is None:
            return None, None
        lock.remove_ticket_for(ticket_number)
        if delete_when_empty and not lock.is_someone_waiting():
            return None, None
        return lock, None

    return give_back
