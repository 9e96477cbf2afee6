"""The settings and clock zone the outreach tests plan with, and what they find queued."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.models import OutboxMessage
from crm_store.settings import Settings

TAIPEI = ZoneInfo("Asia/Taipei")
SETTINGS = Settings(_env_file=None, shop_name="小島選物", birthday_hour=10)  # type: ignore[call-arg]


def queued(session: Session, prefix: str) -> list[OutboxMessage]:
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.idempotency_key.like(f"{prefix}%"))
            .order_by(OutboxMessage.id)
        )
    )
