"""Consent to marketing and opting out, per channel identity.

Every change is written to the audit log with who made it, because a shop must be
able to show when and how a customer said stop (or start again).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from crm_store.audit import record_audit
from crm_store.models import ChannelIdentity


def set_consent(
    session: Session,
    identity: ChannelIdentity,
    *,
    opted_in: bool,
    now: datetime,
    actor: str,
    details: dict[str, Any] | None = None,
    marketing_only: bool = False,
) -> None:
    """Opt `identity` in to marketing, or out.

    The carrier's STOP (`marketing_only=False`) stops everything on SMS; a customer who
    tells the assistant to stop the promotions (`marketing_only=True`) stops marketing
    only, and still gets answers and service messages.
    """
    if not marketing_only:
        identity.opted_out = not opted_in
        identity.opted_out_at = None if opted_in else now
    identity.marketing_consent = opted_in
    identity.consent_changed_at = now
    record_audit(
        session,
        actor=actor,
        action=("consent.opt_in" if opted_in else "consent.opt_out")
        + (".marketing" if marketing_only else ""),
        entity="channel_identity",
        entity_id=identity.id,
        details=details,
    )
