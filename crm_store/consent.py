"""Consent to marketing and opting out, per channel identity."""

from __future__ import annotations

from datetime import datetime

from crm_store.models import ChannelIdentity


def opt_out(identity: ChannelIdentity, *, now: datetime) -> None:
    """No more marketing, and nothing at all on SMS once the carrier's STOP applies."""
    identity.opted_out = True
    identity.opted_out_at = now
    identity.marketing_consent = False
    identity.consent_changed_at = now


def opt_in(identity: ChannelIdentity, *, now: datetime) -> None:
    identity.opted_out = False
    identity.opted_out_at = None
    identity.marketing_consent = True
    identity.consent_changed_at = now
