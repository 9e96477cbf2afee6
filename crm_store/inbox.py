"""What the staff inbox watches and offers: a mark of the open handoffs that changes
when any of them does, and the colleagues a customer can be passed on to."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store.handoffs import OPEN
from crm_store.models import Handoff, HandoffStatus, StaffRole, StaffUser

# Who may take a customer over from the bot.
AGENT_ROLES = (StaffRole.AGENT, StaffRole.ADMIN)


def queue_version(session: Session) -> str:
    """The open handoffs, each with its state: equal marks mean an unchanged queue."""
    rows = session.execute(
        select(Handoff.id, Handoff.status, Handoff.claimed_by, Handoff.due_at)
        .where(Handoff.status.in_(OPEN))
        .order_by(Handoff.id)
    ).all()
    return ";".join(f"{r.id}:{r.status}:{r.claimed_by}:{r.due_at}" for r in rows)


def waiting_in(version: str) -> int:
    """How many handoffs in a `queue_version` mark wait for someone to claim them."""
    return sum(1 for part in version.split(";") if f":{HandoffStatus.WAITING}:" in part)


def colleagues(session: Session) -> list[StaffUser]:
    """The active staff who can take a customer over."""
    return list(
        session.scalars(
            select(StaffUser).where(StaffUser.active.is_(True), StaffUser.role.in_(AGENT_ROLES))
        )
    )
