"""The settings and clock zone the outreach tests plan with, and what they find queued."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.models import OutboxMessage
from crm_store.settings import Settings

TAIPEI = ZoneInfo("Asia/Taipei")
# No win-back holdout here: these tests follow every message (the holdout has its own).
SETTINGS = Settings(  # type: ignore[call-arg]
    _env_file=None, shop_name="小島選物", birthday_hour=10, winback_holdout_percent=0
)


def queued(session: Session, prefix: str) -> list[OutboxMessage]:
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.idempotency_key.like(f"{prefix}%"))
            .order_by(OutboxMessage.id)
        )
    )
