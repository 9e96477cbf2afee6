"""The back office's lists: campaigns newest first, staff by e-mail, the names of
given staff, and the audit log's latest entries."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.models import AuditLog, Campaign, StaffUser

# How many audit entries the staff page shows.
AUDIT_SHOWN = 200


def campaigns_newest_first(session: Session) -> list[Campaign]:
    return list(session.scalars(select(Campaign).order_by(Campaign.id.desc())))


def staff_by_email(session: Session) -> list[StaffUser]:
    return list(session.scalars(select(StaffUser).order_by(StaffUser.email)))


def staff_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    """Display names by staff id, for those of `ids` that exist."""
    return {
        user.id: user.display_name
        for user in session.scalars(select(StaffUser).where(StaffUser.id.in_(list(ids))))
    }


def latest_audit(session: Session, *, limit: int = AUDIT_SHOWN) -> list[AuditLog]:
    return list(session.scalars(select(AuditLog).order_by(AuditLog.id.desc()).limit(limit)))
