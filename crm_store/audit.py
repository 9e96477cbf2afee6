"""The audit log: who did what to which record, written in the same transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from crm_store.models import AuditLog


def record_audit(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str | None = None,
    entity_id: int | str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditLog:
    entry = AuditLog(
        actor=actor,
        action=action,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        details=details,
    )
    session.add(entry)
    return entry
