"""What every outreach planner is, and what they share.

A planner looks at the store at `now` and queues the messages that are due, returning
how many it queued. It is safe to run as often as the scheduler likes, on any number
of schedulers at once: every message it queues has an idempotency key, so running
twice queues nothing twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from crm_store.settings import Settings


class Planner(Protocol):
    def __call__(self, session: Session, *, now: datetime, settings: Settings) -> int: ...
